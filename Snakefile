# The paper's workflow: structures -> fingerprints -> CNN -> accuracy -> figures -> report.
#
#   snakemake --cores 2                                      # quick preset (config/quick.yaml)
#   snakemake --cores 64 --configfile config/paper.yaml      # the paper's scale
#   snakemake --cores 2 --report report.html                 # self-contained report
#
# Heavy steps are `python -m paper_lib ...` commands; figure notebooks run through papermill with
# kernel python3 and land, executed, in executed/<preset>/ (they also run on their own in JupyterLab).
import json
import yaml

from paper_lib import config as presets

configfile: "config/quick.yaml"

PRESET = presets.validate(config, "the Snakemake configuration")   # stops here on a typo
R = f"results/{PRESET.name}"
FIG = f"figures/{PRESET.name}"
EXE = f"executed/{PRESET.name}"
SHARDS = [f"{k:03d}" for k in range(PRESET.shards)]

# one software environment for every rule: `--sdm conda` builds it; by default rules run in the
# environment Snakemake itself runs in (a pip project has no per-rule deployment)
ENV = "environment.yml"

wildcard_constraints:
    shard=r"\d{3}",


rule all:
    input:
        f"{FIG}/fingerprints.png",
        f"{FIG}/table1.csv",


rule preset:
    """The validated preset as the steps read it; changing the configuration re-runs what depends on it."""
    output:
        f"{R}/preset.yaml",
    log:
        f"{R}/logs/preset.log",
    params:
        text=yaml.safe_dump(PRESET.raw, sort_keys=True),
    localrule: True
    conda:
        ENV
    shell:
        "printf '%s' {params.text:q} > {output} 2> {log}"


rule structures:
    """Pristine structures of one shard and their defective variants (ASE database)."""
    input:
        f"{R}/preset.yaml",
    output:
        f"{R}/structures/shard-{{shard}}.db",
    log:
        f"{R}/logs/structures-{{shard}}.log",
    params:
        shard=lambda w: f"{int(w.shard)}/{PRESET.shards}",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        ENV
    shell:
        "python -m paper_lib structures --config {input} --shard {params.shard} --out {output} "
        "--processes {threads} > {log} 2>&1"


rule merge_structures:
    """All shards in one database, for users (`ase db`) and the baselines."""
    input:
        expand(f"{R}/structures/shard-{{shard}}.db", shard=SHARDS),
    output:
        f"{R}/structures.db",
    log:
        f"{R}/logs/merge_structures.log",
    conda:
        ENV
    shell:
        "python -m paper_lib merge-structures {input} --out {output} > {log} 2>&1"


rule fingerprints:
    """Diffraction fingerprints of one shard (HDF5)."""
    input:
        f"{R}/structures/shard-{{shard}}.db",
    output:
        f"{R}/fingerprints/shard-{{shard}}.h5",
    log:
        f"{R}/logs/fingerprints-{{shard}}.log",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        ENV
    shell:
        "python -m paper_lib fingerprints --db {input} --out {output} --processes {threads} > {log} 2>&1"


rule train:
    """The CNN on pristine fingerprints only."""
    input:
        preset=f"{R}/preset.yaml",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        model=f"{R}/model.keras",
        meta=f"{R}/model.json",
        history=f"{R}/history.csv",
    log:
        f"{R}/logs/train.log",
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} TF_NUM_INTRAOP_THREADS={threads} "
        "python -m paper_lib train --config {input.preset} --fingerprints {input.fingerprints} "
        "--out {output.model} --history {output.history} > {log} 2>&1"


rule evaluate:
    """Accuracy of the CNN per defect kind and level, with per-class recall and confusion matrices."""
    input:
        model=f"{R}/model.keras",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        accuracy=report(f"{R}/accuracy.csv", category="Accuracy"),
        recall=f"{R}/recall_cnn.csv",
    log:
        f"{R}/logs/evaluate.log",
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    conda:
        ENV
    shell:
        "python -m paper_lib evaluate --model {input.model} --fingerprints {input.fingerprints} "
        "--out {output.accuracy} --confusion > {log} 2>&1"


def figures(names, category):
    """PNG figures (shown in the report) and their PDF twins in figures/<preset>/."""
    return {**{n: report(f"{FIG}/{n}.png", category=category) for n in names},
            **{f"{n}_pdf": f"{FIG}/{n}.pdf" for n in names}}


PAPERMILL = "papermill {input.nb} {log.nb} -k python3 --cwd . -y '{params.yaml}' --no-progress-bar"


rule dataset_figures:
    """notebooks/01_dataset.ipynb: class counts, free parameters, one fingerprint per class."""
    input:
        nb="notebooks/01_dataset.ipynb",
        db=f"{R}/structures.db",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        **figures(["class_counts", "parameters", "fingerprints"], "Dataset"),
    log:
        nb=f"{EXE}/01_dataset.ipynb",
    params:
        yaml=json.dumps({"preset": PRESET.name}),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule accuracy_figures:
    """notebooks/02_accuracy_vs_defects.ipynb: Table 1 and accuracy against vacancies/displacements."""
    input:
        nb="notebooks/02_accuracy_vs_defects.ipynb",
        accuracy=f"{R}/accuracy.csv",
        recall=f"{R}/recall_cnn.csv",
    output:
        **figures(["accuracy_vs_vacancies", "accuracy_vs_displacements"], "Accuracy"),
        table=report(f"{FIG}/table1.csv", category="Accuracy"),
    log:
        nb=f"{EXE}/02_accuracy_vs_defects.ipynb",
    params:
        yaml=json.dumps({"preset": PRESET.name}),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL
