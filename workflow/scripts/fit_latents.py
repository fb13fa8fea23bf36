from nacbench.logs import job_log
from nacbench.stages import write_fit_latents

with job_log(snakemake.log):
    p = snakemake.params
    write_fit_latents(
        snakemake.wildcards.codec,
        p.options,
        p.device,
        snakemake.input.manifest,
        p.fit,
        p.in_sample,
        snakemake.output[0],
    )
