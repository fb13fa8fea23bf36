from nacbench.logs import job_log
from nacbench.stages import condition_columns, score_shard, shard_rows

with job_log(snakemake.log[0]):
    w, i, p = snakemake.wildcards, snakemake.input, snakemake.params
    rows = shard_rows(i.manifest, w.shard, p.n_shards)
    condition = condition_columns(w.codec, w.dataset, w.channel, w.shard)
    score_shard(i.audio, i.codes, i.info, rows, p.metrics, snakemake.threads, condition, snakemake.output[0])
