# Data stage: official archives (resumable, checksummed) or a local copy -> manifest.tsv per dataset.


rule download_dataset:
    output:
        f"{config['downloads']}/{{dataset}}/download.json",
    log:
        log_path("download_dataset", "{dataset}"),
    params:
        data=lambda w: config["data"][w.dataset],
        downloads=lambda w, output: str(Path(output[0]).parent.parent),
    resources:
        runtime=240,
    conda:
        PIPELINE_ENV
    script:
        "../scripts/download_dataset.py"


rule manifest:
    input:
        dataset_source,
    output:
        manifest=f"{R}/data/{{dataset}}/manifest.tsv",
        skipped=f"{R}/data/{{dataset}}/skipped.tsv",
    log:
        main=log_path("manifest", "{dataset}"),
        # a copy of skipped.tsv that survives a failed job (Snakemake removes the failed job's outputs)
        skipped=str(Path(R, "logs", "manifest", "{dataset}.skipped.tsv")),
    benchmark:
        bench_path("manifest", "{dataset}")
    params:
        data=lambda w: config["data"][w.dataset],
        downloads=config["downloads"],
        seed=config["seed"],
    conda:
        PIPELINE_ENV
    script:
        "../scripts/manifest.py"
