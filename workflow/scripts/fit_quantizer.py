from nacbench.logs import job_log
from nacbench.stages import fit_posthoc_quantizer

with job_log(snakemake.log):
    fit_posthoc_quantizer(
        snakemake.input.latents, snakemake.params.settings, snakemake.wildcards.codec, snakemake.output[0]
    )
