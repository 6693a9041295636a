# The local-map comparison (presets with a local_maps section): synthetic periodic polycrystals labelled
# per atom by the shipped model's windows, PTM and adaptive CNA.


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
