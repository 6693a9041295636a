# The figure notebooks (papermill) and the run's provenance: what `snakemake --report` shows.
# Each notebook is given its inputs and the folder of its figures as parameters (notebook_parameters),
# named like the rule's inputs: every file by its name, no listing of folders.


rule dataset_figures:
    """notebooks/01_dataset.ipynb: class counts, free parameters, one fingerprint per class."""
    input:
        nb="notebooks/01_dataset.ipynb",
        structures_db=rules.merge_structures.output[0],
        fingerprint_files=FINGERPRINTS,
    output:
        **figures(["class_counts", "parameters", "fingerprints"], "Dataset"),
    benchmark:
        f"{R}/benchmarks/dataset_figures.tsv",
    log:
        nb=f"{EXE}/01_dataset.ipynb",
    params:
        yaml=lambda wildcards, input: notebook_parameters(input),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule accuracy_figures:
    """notebooks/02_accuracy_vs_defects.ipynb: Table 1 and accuracy against vacancies/displacements."""
    input:
        nb="notebooks/02_accuracy_vs_defects.ipynb",
        accuracy_csv=rules.score.output.accuracy,
        recall_csv=rules.score.output.recall,
        confusion_dir=rules.score.output.confusion,
        predictions_csv=rules.evaluate.output.predictions,
    output:
        **figures(["accuracy_vs_vacancies", "accuracy_vs_displacements", "confusion", "reliability"], "Accuracy"),
        table=report(f"{FIG}/table1.csv", category="Accuracy"),
    benchmark:
        f"{R}/benchmarks/accuracy_figures.tsv",
    log:
        nb=f"{EXE}/02_accuracy_vs_defects.ipynb",
    params:
        yaml=lambda wildcards, input: notebook_parameters(input),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule response_figures:
    """notebooks/03_response_maps.ipynb: maps per layer and filter, class maps, peak concentration."""
    input:
        nb="notebooks/03_response_maps.ipynb",
        model_file=rules.train.output.model,
        fingerprint_files=FINGERPRINTS,
    output:
        **figures([f"response_maps_{s}" for s in CLASS_SLUGS] + ["class_maps", "peak_concentration"],
                  "Response maps"),
        table=report(f"{FIG}/peak_concentration.csv", category="Response maps"),
    benchmark:
        f"{R}/benchmarks/response_figures.tsv",
    log:
        nb=f"{EXE}/03_response_maps.ipynb",
    params:
        yaml=lambda wildcards, input: notebook_parameters(input),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule local_figures:
    """notebooks/05_local_maps.ipynb: slice maps of the truth, the CNN, PTM and a-CNA; interior accuracy
    against defect level; how wide the boundaries come out."""
    input:
        nb="notebooks/05_local_maps.ipynb",
        sample_files=expand(rules.local_maps.output[0], level=LOCAL),
    output:
        **figures(["local_maps", "local_accuracy", "local_boundaries"], "Local maps"),
        table=report(f"{FIG}/local_accuracy.csv", category="Local maps"),
    benchmark:
        f"{R}/benchmarks/local_figures.tsv",
    log:
        nb=f"{EXE}/05_local_maps.ipynb",
    params:    # {defect level: extended XYZ file}
        yaml=lambda wildcards, input: notebook_parameters(input, sample_files=dict(zip(LOCAL, input.sample_files))),
    localrule: True
    conda:
        ENV
    shell:
        PAPERMILL


rule provenance:
    """Commit, preset digest, package versions, cores and the time of every stage (from benchmarks)."""
    input:
        preset=rules.preset.output[0],
        figures=[rules.dataset_figures.output.fingerprints, rules.accuracy_figures.output.table,
                 rules.response_figures.output.table],
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
