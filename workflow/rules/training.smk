# The CNN: the main model, one more per further training seed, and the augmented network.
from paper_lib.defects import AUGMENTATION


rule train:
    """The CNN on pristine fingerprints only."""
    input:
        preset=rules.preset.output[0],
        fingerprints=FINGERPRINTS,
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


rule train_seed:
    """The same network with a further seed: same data, same validation split (the preset's seed)."""
    input:
        preset=rules.preset.output[0],
        fingerprints=FINGERPRINTS,
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


rule train_augmented:
    """The CNN on the pristine fingerprints plus the displaced copies (same seed and split)."""
    input:
        preset=rules.preset.output[0],
        fingerprints=FINGERPRINTS,
        augment=rules.augment_fingerprints.output[0],
    output:
        model=f"{R}/augmented/model.keras",
        meta=f"{R}/augmented/model.json",
        history=f"{R}/augmented/history.csv",
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
