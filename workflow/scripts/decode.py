from nacbench.logs import job_log
from nacbench.stages import decode_shard, listening_ids

with job_log(snakemake.log[0]):
    w, p = snakemake.wildcards, snakemake.params
    keep = listening_ids(snakemake.input.manifest, p.listen_utterances)
    decode_shard(
        w.codec,
        p.options,
        p.device,
        snakemake.input.codes,
        snakemake.output.audio,
        snakemake.output.listen,
        keep,
    )
