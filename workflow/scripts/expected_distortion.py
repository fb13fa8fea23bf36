from nacbench.logs import job_log
from nacbench.stages import expected_distortion_table

with job_log(snakemake.log):
    i = snakemake.input
    expected_distortion_table(
        snakemake.wildcards.codec, i.info, i.codewords, i.labellings, snakemake.output[0]
    )
