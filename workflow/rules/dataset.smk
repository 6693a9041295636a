# The dataset: the validated preset, pristine structures and their defective variants (ASE databases).
import yaml


rule preset:
    """The validated preset as the steps read it; changing the configuration re-runs what depends on it
    (the list of training seeds is left out: adding a seed trains and evaluates that seed alone; so is
    local_maps, which only the local-map rules read)."""
    output:
        str(LAYOUT.preset_file),
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
        rules.preset.output[0],
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
        expand(rules.structures.output[0], shard=SHARDS),
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


# --- beyond the paper: training-set augmentation (`snakemake augmentation`; not part of `all`) ---
# The same network trained on the pristine structures plus one displaced copy of each
# (paper_lib.defects.AUGMENTATION), evaluated on the same test sets as the paper's setting.
rule augment_structures:
    """Displaced training copies of every pristine structure (their own random stream)."""
    input:
        preset=rules.preset.output[0],
        db=rules.merge_structures.output[0],
    output:
        f"{R}/augmented/structures.db",
    benchmark:
        f"{R}/benchmarks/augment_structures.tsv",
    log:
        f"{R}/logs/augment_structures.log",
    conda:
        ENV
    shell:
        "python -m paper_lib augment --config {input.preset:q} --db {input.db:q} --out {output:q} > {log:q} 2>&1"
