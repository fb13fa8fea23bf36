from nacbench.logs import job_log
from nacbench.stages import download_dataset

with job_log(snakemake.log):
    download_dataset(
        snakemake.wildcards.dataset, snakemake.params.data, snakemake.params.downloads, snakemake.output[0]
    )
