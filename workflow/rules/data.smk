# Data stage: official archives (resumable, checksummed) or a local copy -> manifest.tsv per dataset.


rule download_dataset:
    output:
        artifacts.download_record(config["downloads"], "{dataset}"),
    log:
        log_path("download_dataset", "{dataset}"),
    conda:
        PIPELINE_ENV
    resources:
        runtime=240,
    params:
        data=lambda w: config["data"][w.dataset],
        # from the output (not config), so the job also runs where the file system is not shared
        downloads=lambda w, output: artifacts.downloads_of(output[0]),
    script:
        "../scripts/download_dataset.py"


rule manifest:
    input:
        dataset_source,
    output:
        manifest=artifacts.manifest(R, "{dataset}"),
        skipped=artifacts.skipped(R, "{dataset}"),
    log:
        main=log_path("manifest", "{dataset}"),
        startup=artifacts.startup_file(R, "manifest", "{dataset}"),
        # a copy of skipped.tsv that survives a failed job (Snakemake removes the failed job's outputs)
        skipped=artifacts.kept_skips(R, "{dataset}"),
    priority: UNLOCKS_WORK
    conda:
        PIPELINE_ENV
    params:
        data=lambda w: config["data"][w.dataset],
        downloads=config["downloads"],
        seed=config["seed"],
    script:
        "../scripts/manifest.py"
