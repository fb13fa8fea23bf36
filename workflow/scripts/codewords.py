from nacbench.logs import job_log
from nacbench.stages import write_codewords

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_codewords(
        snakemake.wildcards.codec, p.options, p.device, snakemake.input.codes, snakemake.output[0]
    )
