from nacbench.conditions import condition_columns
from nacbench.logs import job_log
from nacbench.stages import score_shard, shard_rows

# The scorer spawns worker processes, which re-import this file as __mp_main__ without Snakemake's
# preamble: only the main process may run the job.
if __name__ == "__main__":
    with job_log(snakemake.log):
        w, i, p = snakemake.wildcards, snakemake.input, snakemake.params
        rows = shard_rows(i.manifest, w.shard, p.n_shards)
        condition = condition_columns(w.codec, w.dataset, w.channel, w.shard)
        score_shard(
            i.audio,
            i.codes,
            i.info,
            rows,
            p.metrics,
            snakemake.threads,
            condition,
            snakemake.output[0],
            random_weights=p.random_weights,
            manifest_path=i.manifest,
        )
