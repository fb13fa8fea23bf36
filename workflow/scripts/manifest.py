from nacbench.logs import job_log
from nacbench.stages import build_manifest

with job_log(snakemake.log):
    build_manifest(
        snakemake.wildcards.dataset,
        snakemake.params.data,
        snakemake.params.downloads,
        snakemake.params.seed,
        snakemake.output.manifest,
        snakemake.output.skipped,
        snakemake.log.skipped,
    )
