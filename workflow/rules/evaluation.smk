# Predictions and scores: the CNN (every seed, the augmented network, ASE's real crystals), the spglib
# and PTM baselines, and Table 1's accuracies, recalls and confusion matrices.


rule evaluate:
    """The CNN's prediction for every fingerprint (pristine: held-out validation structures only)."""
    input:
        model=rules.train.output.model,
        fingerprints=FINGERPRINTS,
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


use rule evaluate as evaluate_seed with:
    input:
        model=rules.train_seed.output.model,
        fingerprints=FINGERPRINTS,
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


use rule evaluate as evaluate_augmented with:
    input:
        model=rules.train_augmented.output.model,
        fingerprints=FINGERPRINTS,
    output:
        predictions=f"{R}/predictions/cnn_augmented.csv",
        accuracy=f"{R}/augmented/accuracy_cnn_augmented.csv",
        recall=f"{R}/augmented/recall_cnn_augmented.csv",
    benchmark:
        f"{R}/benchmarks/evaluate_augmented.tsv",
    log:
        f"{R}/logs/evaluate_augmented.log",
    params:
        method="cnn_augmented",


rule baselines:
    """spglib (four tolerances) and PTM on the structures of one shard (the preset's baseline sample)."""
    input:
        preset=rules.preset.output[0],
        db=rules.structures.output[0],
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
        preset=rules.preset.output[0],
        model=rules.train.output.model,
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
        preset=rules.preset.output[0],
        predictions=[rules.evaluate.output.predictions, rules.real_crystals.output[0]]
        + expand(rules.evaluate_seed.output.predictions, seed=EXTRA_SEEDS)
        + expand(rules.baselines.output[0], shard=SHARDS),
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


rule augmentation:
    """The paper's setting (pristine only) against the augmented network, per defect level
    (`snakemake augmentation`; not part of `all`)."""
    input:
        preset=rules.preset.output[0],
        predictions=[rules.evaluate.output.predictions, rules.evaluate_augmented.output.predictions],
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
