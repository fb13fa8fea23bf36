from nacbench.data.download import fetch_dataset
from nacbench.logs import job_log

with job_log(snakemake.log[0]):
    fetch_dataset(snakemake.wildcards.dataset, snakemake.params.data, snakemake.output[0])
