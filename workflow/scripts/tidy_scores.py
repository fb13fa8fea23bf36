from nacbench.logs import job_log
from nacbench.stages import tidy_scores

with job_log(snakemake.log):
    tidy_scores(snakemake.input, snakemake.output.parquet, snakemake.output.csv)
