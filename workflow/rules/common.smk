# What the rules of every file use: the preset's names and folders, and helpers for the rules' directives.
# The preset itself (PRESET) is loaded and checked in the Snakefile before this file is read.
import importlib.resources
import json

from snakemake.exceptions import WorkflowError

from paper_lib.evaluation import LOCAL_LEVELS
from paper_lib.paths import Layout, shard_names, slug

LAYOUT = Layout(PRESET.name)
R = str(LAYOUT.results)          # results/<preset>
FIG = str(LAYOUT.figures)        # figures/<preset>
EXE = str(LAYOUT.executed)       # executed/<preset>
SHARDS = shard_names(PRESET.shards)
CLASS_SLUGS = [slug(c) for c in PRESET.classes]        # hex/rh -> hex-rh in file names
# the network is trained once per seed (same data, same validation split); the first is the main model
EXTRA_SEEDS = list(PRESET.training_seeds[1:])
# the local-map comparison (synthetic polycrystals), for presets with a local_maps section; it uses the
# model shipped in the package (its windows need the crystal_frame pre-processing), named by its digest
LOCAL = list(LOCAL_LEVELS) if PRESET.local_atoms else []
SHIPPED_MODEL = json.loads(importlib.resources.files("paper_lib").joinpath("data/model.json").read_text()
                           )["training_data"]["digest"]

# one software environment for all the rules (relative to this folder): `--sdm conda` builds it; by default
# rules run in the environment Snakemake itself runs in (a pip project has no per-rule deployment)
ENV = "../../environment.yml"

# figure notebooks: papermill runs them from the repository root with kernel python3, and each lands,
# executed, in executed/<preset>/
PAPERMILL = "papermill {input.nb:q} {log.nb:q} -k python3 --cwd . -y {params.yaml:q} --no-progress-bar"


wildcard_constraints:
    shard=r"\d{3}",
    seed=r"\d+",


def local_cores():
    """`--cores N` (two words) for the provenance record of a local run; nothing under a cluster
    executor, where Snakemake has no total number of cores."""
    try:
        return ["--cores", str(workflow.cores)]
    except WorkflowError:
        return []


def figures(names, category):
    """PNG figures (shown in the report) and their PDF twins in figures/<preset>/."""
    return {**{n: report(f"{FIG}/{n}.png", category=category) for n in names},
            **{f"{n}_pdf": f"{FIG}/{n}.pdf" for n in names}}


def notebook_parameters(input, **more):
    """A figure notebook's papermill parameters (JSON text, for -y): the preset's name, the folder its
    figures go to (figures_dir), and each input but the notebook itself under its own name: a path,
    or a list of paths; ``more`` adds or replaces parameters."""
    given = {name: str(value) if isinstance(value, str) else [str(v) for v in value]
             for name, value in input.items() if name != "nb"}
    return json.dumps({"preset": PRESET.name, "figures_dir": FIG, **given, **more})
