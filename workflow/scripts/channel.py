from nacbench.logs import job_log
from nacbench.stages import transmit_shard

with job_log(snakemake.log):
    w = snakemake.wildcards
    transmit_shard(
        snakemake.input.codes,
        snakemake.input.info,
        w.channel,
        w.codec,
        w.dataset,
        w.shard,
        snakemake.output[0],
        out_of_range=snakemake.params.out_of_range,
        labelling_path=snakemake.input.labelling or None,
    )
