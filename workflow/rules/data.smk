# Data stage: official archives (resumable, checksummed) or a local copy -> manifest.tsv per dataset.


def dataset_source(wildcards):
    """A configured local copy needs no download; otherwise the download rule's record is the input."""
    if config["data"][wildcards.dataset]["root"]:
        return []
    return f"{config['downloads']}/{wildcards.dataset}/download.json"


rule download_dataset:
    output:
        f"{config['downloads']}/{{dataset}}/download.json",
    log:
        log_path("download_dataset", "{dataset}"),
    params:
        data=lambda w: config["data"][w.dataset],
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
        log_path("manifest", "{dataset}"),
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
