from nacbench.logs import job_log
from nacbench.stages import measure_enc_rtf

with job_log(snakemake.log):
    p = snakemake.params
    measure_enc_rtf(
        snakemake.wildcards.codec, p.options, p.device, snakemake.input.manifest, p.rtf, snakemake.output[0]
    )
