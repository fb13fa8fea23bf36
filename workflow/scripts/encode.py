from nacbench.logs import job_log
from nacbench.stages import encode_shard, shard_rows

with job_log(snakemake.log):
    w, p = snakemake.wildcards, snakemake.params
    rows = shard_rows(snakemake.input.manifest, w.shard, p.n_shards)
    encode_shard(w.codec, p.options, p.device, rows, snakemake.output[0])
