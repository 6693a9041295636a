# Diffraction fingerprints (HDF5), one file per shard of structures.


rule fingerprints:
    """Diffraction fingerprints of one shard (HDF5)."""
    input:
        rules.structures.output[0],
    output:
        str(LAYOUT.fingerprint_shard("{shard}")),
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


# every shard's fingerprints, as the training, evaluation and figure rules read them
FINGERPRINTS = expand(rules.fingerprints.output[0], shard=SHARDS)


use rule fingerprints as augment_fingerprints with:
    input:
        rules.augment_structures.output[0],
    output:
        f"{R}/augmented/fingerprints.h5",
    benchmark:
        f"{R}/benchmarks/augment_fingerprints.tsv",
    log:
        f"{R}/logs/augment_fingerprints.log",
