from nacbench.logs import job_log
from nacbench.stages import write_codewords

with job_log(snakemake.log):
    p, i = snakemake.params, snakemake.input
    write_codewords(
        snakemake.wildcards.codec,
        p.options,
        p.device,
        i.codes,
        snakemake.output[0],
        fit_manifest=i.manifest,
        fit=p.fit,
        in_sample=p.in_sample,
    )
