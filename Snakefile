# The paper's workflow: structures -> fingerprints -> CNN -> accuracy -> figures -> report.
#
#   snakemake --cores 2                                      # quick preset (config/quick.yaml)
#   snakemake --cores 64 --configfile config/paper.yaml      # the paper's scale
#   snakemake --cores 2 --report report.html                 # self-contained report
#
# Every placeholder of a shell line is quoted ({...:q}); the preset name, which becomes part of every
# path, is checked by paper_lib.config (paper_lib.paths.safe_name) before any rule is built.
# Heavy steps are `python -m paper_lib ...` commands; figure notebooks run through papermill with
# kernel python3 and land, executed, in executed/<preset>/ (they also run on their own in JupyterLab).
import copy
import importlib.resources
import json
import yaml

from snakemake.exceptions import WorkflowError

from paper_lib import config as presets
from paper_lib.defects import AUGMENTATION
from paper_lib.evaluation import LOCAL_LEVELS

configfile: "config/quick.yaml"
# a preset given with --configfile is the whole preset: Snakemake would otherwise merge it into
# quick.yaml's keys, and an optional key the preset leaves out (training_seeds) would leak in
if workflow.overwrite_configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))

PRESET = presets.validate(config, "the Snakemake configuration")   # stops here on a typo
R = f"results/{PRESET.name}"
FIG = f"figures/{PRESET.name}"
EXE = f"executed/{PRESET.name}"
SHARDS = [f"{k:03d}" for k in range(PRESET.shards)]
CLASS_SLUGS = [c.replace(chr(47), "-") for c in PRESET.classes]   # hex/rh -> hex-rh in file names
# the network is trained once per seed (same data, same validation split); the first is the main model
EXTRA_SEEDS = list(PRESET.training_seeds[1:])
# the local-map comparison (synthetic polycrystals), for presets with a local_maps section; it uses the
# model shipped in the package (its windows need the crystal_frame pre-processing), named by its digest
LOCAL = list(LOCAL_LEVELS) if PRESET.local_atoms else []
SHIPPED_MODEL = json.loads(importlib.resources.files("paper_lib").joinpath("data/model.json").read_text()
                           )["training_data"]["digest"]

# one software environment for every rule: `--sdm conda` builds it; by default rules run in the
# environment Snakemake itself runs in (a pip project has no per-rule deployment)
ENV = "environment.yml"


def local_cores():
    """`--cores N` (two words) for the provenance record of a local run; nothing under a cluster
    executor, where Snakemake has no total number of cores."""
    try:
        return ["--cores", str(workflow.cores)]
    except WorkflowError:
        return []

wildcard_constraints:
    shard=r"\d{3}",
    seed=r"\d+",


rule all:
    input:
        f"{FIG}/fingerprints.png",
        f"{FIG}/table1.csv",
        f"{FIG}/peak_concentration.csv",
        f"{FIG}/provenance.json",
        [f"{FIG}/local_accuracy.csv"] if LOCAL else [],


rule preset:
    """The validated preset as the steps read it; changing the configuration re-runs what depends on it
    (the list of training seeds is left out: adding a seed trains and evaluates that seed alone; so is
    local_maps, which only the local-map rules read)."""
    output:
        f"{R}/preset.yaml",
    log:
        f"{R}/logs/preset.log",
    params:
        text=yaml.safe_dump({k: v for k, v in PRESET.raw.items() if k not in ("training_seeds", "local_maps")},
                            sort_keys=True),
    localrule: True
    conda:
        ENV
    shell:
        "printf '%s' {params.text:q} > {output:q} 2> {log:q}"


rule structures:
    """Pristine structures of one shard and their defective variants (ASE database)."""
    input:
        f"{R}/preset.yaml",
    output:
        f"{R}/structures/shard-{{shard}}.db",
    benchmark:
        f"{R}/benchmarks/structures-{{shard}}.tsv",
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
        "python -m paper_lib structures --config {input:q} --shard {params.shard:q} --out {output:q} "
        "--processes {threads} > {log:q} 2>&1"


rule merge_structures:
    """All shards in one database, for users (`ase db`) and the baselines."""
    input:
        expand(f"{R}/structures/shard-{{shard}}.db", shard=SHARDS),
    output:
        f"{R}/structures.db",
    benchmark:
        f"{R}/benchmarks/merge_structures.tsv",
    log:
        f"{R}/logs/merge_structures.log",
    conda:
        ENV
    shell:
        "python -m paper_lib merge-structures {input:q} --out {output:q} > {log:q} 2>&1"


rule fingerprints:
    """Diffraction fingerprints of one shard (HDF5)."""
    input:
        f"{R}/structures/shard-{{shard}}.db",
    output:
        f"{R}/fingerprints/shard-{{shard}}.h5",
    benchmark:
        f"{R}/benchmarks/fingerprints-{{shard}}.tsv",
    log:
        f"{R}/logs/fingerprints-{{shard}}.log",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        ENV
    shell:
        "python -m paper_lib fingerprints --db {input:q} --out {output:q} --processes {threads} > {log:q} 2>&1"


rule train:
    """The CNN on pristine fingerprints only."""
    input:
        preset=f"{R}/preset.yaml",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        model=f"{R}/model.keras",
        meta=f"{R}/model.json",
        history=f"{R}/history.csv",
    benchmark:
        f"{R}/benchmarks/train.tsv",
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
        "python -m paper_lib train --config {input.preset:q} --fingerprints {input.fingerprints:q} "
        "--out {output.model:q} --history {output.history:q} --force > {log:q} 2>&1"


rule evaluate:
    """The CNN's prediction for every fingerprint (pristine: held-out validation structures only)."""
    input:
        model=f"{R}/model.keras",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        predictions=f"{R}/predictions/cnn.csv",
        accuracy=f"{R}/accuracy_cnn.csv",
        recall=f"{R}/recall_cnn.csv",
    benchmark:
        f"{R}/benchmarks/evaluate.tsv",
    log:
        f"{R}/logs/evaluate.log",
    params:
        method="cnn",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} TF_NUM_INTRAOP_THREADS={threads} "
        "python -m paper_lib evaluate --model {input.model:q} --fingerprints {input.fingerprints:q} "
        "--method {params.method:q} --out {output.accuracy:q} --predictions {output.predictions:q} > {log:q} 2>&1"


rule train_seed:
    """The same network with a further seed: same data, same validation split (the preset's seed)."""
    input:
        preset=f"{R}/preset.yaml",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        model=f"{R}/seeds/model-{{seed}}.keras",
        meta=f"{R}/seeds/model-{{seed}}.json",
        history=f"{R}/seeds/history-{{seed}}.csv",
    benchmark:
        f"{R}/benchmarks/train-{{seed}}.tsv",
    log:
        f"{R}/logs/train-{{seed}}.log",
    params:
        split_seed=PRESET.seed,
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} TF_NUM_INTRAOP_THREADS={threads} "
        "python -m paper_lib train --config {input.preset:q} --fingerprints {input.fingerprints:q} "
        "--seed {wildcards.seed:q} --split-seed {params.split_seed:q} "
        "--out {output.model:q} --history {output.history:q} --force > {log:q} 2>&1"


use rule evaluate as evaluate_seed with:
    input:
        model=f"{R}/seeds/model-{{seed}}.keras",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        predictions=f"{R}/predictions/cnn_seed{{seed}}.csv",
        accuracy=f"{R}/seeds/accuracy-{{seed}}.csv",
        recall=f"{R}/seeds/recall_cnn_seed{{seed}}.csv",
    benchmark:
        f"{R}/benchmarks/evaluate-{{seed}}.tsv",
    log:
        f"{R}/logs/evaluate-{{seed}}.log",
    params:
        method=lambda wildcards: f"cnn_seed{wildcards.seed}",


rule baselines:
    """spglib (four tolerances) and PTM on the structures of one shard (the preset's baseline sample)."""
    input:
        preset=f"{R}/preset.yaml",
        db=f"{R}/structures/shard-{{shard}}.db",
    output:
        f"{R}/predictions/baselines-{{shard}}.csv",
    benchmark:
        f"{R}/benchmarks/baselines-{{shard}}.tsv",
    log:
        f"{R}/logs/baselines-{{shard}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        ENV
    shell:
        "python -m paper_lib baselines --config {input.preset:q} --db {input.db:q} --out {output:q} "
        "--processes {threads} > {log:q} 2>&1"


rule real_crystals:
    """The CNN on ASE's dcdft elemental crystals, pristine and with the preset's defect levels."""
    input:
        preset=f"{R}/preset.yaml",
        model=f"{R}/model.keras",
    output:
        f"{R}/predictions/dcdft.csv",
    benchmark:
        f"{R}/benchmarks/real_crystals.tsv",
    log:
        f"{R}/logs/real_crystals.log",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} TF_NUM_INTRAOP_THREADS={threads} "
        "python -m paper_lib real-crystals --config {input.preset:q} --model {input.model:q} --out {output:q} "
        "--processes {threads} > {log:q} 2>&1"


rule score:
    """Table 1: accuracy of the CNN and every baseline per defect kind and level, recall, confusion."""
    input:
        preset=f"{R}/preset.yaml",
        predictions=[f"{R}/predictions/cnn.csv", f"{R}/predictions/dcdft.csv"]
        + expand(f"{R}/predictions/cnn_seed{{seed}}.csv", seed=EXTRA_SEEDS)
        + expand(f"{R}/predictions/baselines-{{shard}}.csv", shard=SHARDS),
    output:
        accuracy=report(f"{R}/accuracy.csv", category="Accuracy"),
        recall=f"{R}/recall.csv",
        confusion=directory(f"{R}/confusion"),
    benchmark:
        f"{R}/benchmarks/score.tsv",
    log:
        f"{R}/logs/score.log",
    conda:
        ENV
    shell:
        "python -m paper_lib score {input.predictions:q} --config {input.preset:q} --out {output.accuracy:q} "
        "--confusion > {log:q} 2>&1"


# --- beyond the paper: training-set augmentation (`snakemake augmentation`; not part of `all`) ---
# The same network trained on the pristine structures plus one displaced copy of each
# (paper_lib.defects.AUGMENTATION), evaluated on the same test sets as the paper's setting.
A = f"{R}/augmented"


rule augment_structures:
    """Displaced training copies of every pristine structure (their own random stream)."""
    input:
        preset=f"{R}/preset.yaml",
        db=f"{R}/structures.db",
    output:
        f"{A}/structures.db",
    benchmark:
        f"{R}/benchmarks/augment_structures.tsv",
    log:
        f"{R}/logs/augment_structures.log",
    conda:
        ENV
    shell:
        "python -m paper_lib augment --config {input.preset:q} --db {input.db:q} --out {output:q} > {log:q} 2>&1"


use rule fingerprints as augment_fingerprints with:
    input:
        f"{A}/structures.db",
    output:
        f"{A}/fingerprints.h5",
    benchmark:
        f"{R}/benchmarks/augment_fingerprints.tsv",
    log:
        f"{R}/logs/augment_fingerprints.log",


rule train_augmented:
    """The CNN on the pristine fingerprints plus the displaced copies (same seed and split)."""
    input:
        preset=f"{R}/preset.yaml",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
        augment=f"{A}/fingerprints.h5",
    output:
        model=f"{A}/model.keras",
        meta=f"{A}/model.json",
        history=f"{A}/history.csv",
    benchmark:
        f"{R}/benchmarks/train_augmented.tsv",
    log:
        f"{R}/logs/train_augmented.log",
    params:
        epochs=AUGMENTATION["epochs"],
    threads: 2
    resources:
        mem_mb=12000,
        runtime=360,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} TF_NUM_INTRAOP_THREADS={threads} "
        "python -m paper_lib train --config {input.preset:q} --fingerprints {input.fingerprints:q} "
        "--augment {input.augment:q} --epochs {params.epochs:q} --out {output.model:q} "
        "--history {output.history:q} --force > {log:q} 2>&1"


use rule evaluate as evaluate_augmented with:
    input:
        model=f"{A}/model.keras",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        predictions=f"{R}/predictions/cnn_augmented.csv",
        accuracy=f"{A}/accuracy_cnn_augmented.csv",
        recall=f"{A}/recall_cnn_augmented.csv",
    benchmark:
        f"{R}/benchmarks/evaluate_augmented.tsv",
    log:
        f"{R}/logs/evaluate_augmented.log",
    params:
        method="cnn_augmented",


rule augmentation:
    """The paper's setting (pristine only) against the augmented network, per defect level."""
    input:
        preset=f"{R}/preset.yaml",
        predictions=[f"{R}/predictions/cnn.csv", f"{R}/predictions/cnn_augmented.csv"],
    output:
        accuracy=f"{FIG}/augmentation/accuracy.csv",
        recall=f"{FIG}/augmentation/recall.csv",
        confusion=directory(f"{FIG}/augmentation/confusion"),
        figures=[f"{FIG}/augmentation/accuracy_vs_{d}.{x}" for d in ("vacancies", "displacements")
                 for x in ("png", "pdf")],
    log:
        f"{R}/logs/augmentation.log",
    localrule: True
    conda:
        ENV
    shell:
        "python -m paper_lib score {input.predictions:q} --config {input.preset:q} --out {output.accuracy:q} "
        "--confusion --plot > {log:q} 2>&1"


def figures(names, category):
    """PNG figures (shown in the report) and their PDF twins in figures/<preset>/."""
    return {**{n: report(f"{FIG}/{n}.png", category=category) for n in names},
            **{f"{n}_pdf": f"{FIG}/{n}.pdf" for n in names}}


PAPERMILL = "papermill {input.nb:q} {log.nb:q} -k python3 --cwd . -y {params.yaml:q} --no-progress-bar"


rule dataset_figures:
    """notebooks/01_dataset.ipynb: class counts, free parameters, one fingerprint per class."""
    input:
        nb="notebooks/01_dataset.ipynb",
        db=f"{R}/structures.db",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        **figures(["class_counts", "parameters", "fingerprints"], "Dataset"),
    benchmark:
        f"{R}/benchmarks/dataset_figures.tsv",
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
        recall=f"{R}/recall.csv",
        confusion=f"{R}/confusion",
        predictions=f"{R}/predictions/cnn.csv",
    output:
        **figures(["accuracy_vs_vacancies", "accuracy_vs_displacements", "confusion", "reliability"], "Accuracy"),
        table=report(f"{FIG}/table1.csv", category="Accuracy"),
    benchmark:
        f"{R}/benchmarks/accuracy_figures.tsv",
    log:
        nb=f"{EXE}/02_accuracy_vs_defects.ipynb",
    params:
        yaml=json.dumps({"preset": PRESET.name}),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule response_figures:
    """notebooks/03_response_maps.ipynb: maps per layer and filter, class maps, peak concentration."""
    input:
        nb="notebooks/03_response_maps.ipynb",
        model=f"{R}/model.keras",
        fingerprints=expand(f"{R}/fingerprints/shard-{{shard}}.h5", shard=SHARDS),
    output:
        **figures([f"response_maps_{slug}" for slug in CLASS_SLUGS]
                  + ["class_maps", "peak_concentration"], "Response maps"),
        table=report(f"{FIG}/peak_concentration.csv", category="Response maps"),
    benchmark:
        f"{R}/benchmarks/response_figures.tsv",
    log:
        nb=f"{EXE}/03_response_maps.ipynb",
    params:
        yaml=json.dumps({"preset": PRESET.name}),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule local_maps:
    """One defect level of the local-map comparison: a synthetic periodic polycrystal labelled per atom by
    the shipped model's windows, PTM and adaptive CNA (extended XYZ)."""
    output:
        f"{R}/local/{{level}}.extxyz",
    benchmark:
        f"{R}/benchmarks/local_maps-{{level}}.tsv",
    log:
        f"{R}/logs/local_maps-{{level}}.log",
    params:
        atoms=PRESET.local_atoms,
        seed=PRESET.local_seed,
        model=SHIPPED_MODEL,        # a new shipped model re-runs the maps
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 "
        "python -m paper_lib local-maps --atoms {params.atoms:q} --seed {params.seed:q} --level {wildcards.level:q} "
        "--processes {threads} --out {output:q} > {log:q} 2>&1"


rule local_figures:
    """notebooks/05_local_maps.ipynb: slice maps of the truth, the CNN, PTM and a-CNA; interior accuracy
    against defect level; how wide the boundaries come out."""
    input:
        nb="notebooks/05_local_maps.ipynb",
        samples=expand(f"{R}/local/{{level}}.extxyz", level=LOCAL),
    output:
        **figures(["local_maps", "local_accuracy", "local_boundaries"], "Local maps"),
        table=report(f"{FIG}/local_accuracy.csv", category="Local maps"),
    benchmark:
        f"{R}/benchmarks/local_figures.tsv",
    log:
        nb=f"{EXE}/05_local_maps.ipynb",
    params:
        yaml=json.dumps({"preset": PRESET.name}),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule provenance:
    """Commit, preset digest, package versions, cores and the time of every stage (from benchmarks)."""
    input:
        preset=f"{R}/preset.yaml",
        figures=[f"{FIG}/fingerprints.png", f"{FIG}/table1.csv", f"{FIG}/peak_concentration.csv"],
    output:
        report(f"{FIG}/provenance.json", category="Provenance"),
    log:
        f"{R}/logs/provenance.log",
    params:
        benchmarks=f"{R}/benchmarks",
        cores=local_cores(),
    localrule: True
    conda:
        ENV
    shell:
        "python -m paper_lib provenance --config {input.preset:q} --benchmarks {params.benchmarks:q} "
        "{params.cores:q} --out {output:q} > {log:q} 2>&1"
