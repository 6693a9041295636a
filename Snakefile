# The paper's workflow: structures -> fingerprints -> CNN -> accuracy -> figures -> report.
#
#   snakemake --cores 2                                      # quick preset (config/quick.yaml)
#   snakemake --cores 64 --configfile config/paper.yaml      # the paper's scale
#   snakemake --cores 2 --report report.html                 # self-contained report
#
# The rules are in workflow/rules/, one file per stage of the data flow; every path they name is under
# results/<preset>/, figures/<preset>/ or executed/<preset>/ (paper_lib.paths.Layout). Every placeholder of
# a shell line is quoted ({...:q}); the preset name, which becomes part of every path, is checked by
# paper_lib.config (paper_lib.paths.safe_name) before any rule is built. Heavy steps are
# `python -m paper_lib ...` commands; figure notebooks run through papermill, given their inputs by name.
import copy

from snakemake.utils import min_version, validate

from paper_lib import config as presets

min_version("9.0")


configfile: "config/quick.yaml"


# a preset given with --configfile is the whole preset: Snakemake would otherwise merge it into
# quick.yaml's keys, and an optional key the preset leaves out (training_seeds) would leak in
if workflow.overwrite_configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))

# paper_lib.config checks every key first and names the file and the key of a mistake; the JSON schema
# says the same in Snakemake's terms (tests/test_config.py holds the two to each other). No defaults are
# written into the preset: it is recorded (results/<preset>/preset.yaml) as given.
PRESET = presets.validate(config, "the Snakemake configuration")   # stops here on a typo
validate(config, "workflow/schemas/config.schema.yaml", set_default=False)
if PRESET.class_set != "paper":     # the baselines and figures know the paper's classes only
    raise ValueError(f"preset {PRESET.name!r} has 'classes: {PRESET.class_set}': it runs through "
                     "scripts/train_extended_model.sh, not this workflow")


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/fingerprints.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/maps.smk"
include: "workflow/rules/report.smk"


rule all:
    """The paper's figures and tables, the local maps where the preset asks for them, and the provenance."""
    default_target: True
    input:
        rules.dataset_figures.output.fingerprints,
        rules.accuracy_figures.output.table,
        rules.response_figures.output.table,
        rules.provenance.output[0],
        [rules.local_figures.output.table] if LOCAL else [],
