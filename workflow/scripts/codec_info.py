from nacbench.logs import job_log
from nacbench.stages import write_codec_info

with job_log(snakemake.log):
    write_codec_info(
        snakemake.wildcards.codec, snakemake.params.options, snakemake.params.device, snakemake.output[0]
    )
