from nacbench.logs import job_log
from nacbench.stages import shard_rows, transcribe_shard

with job_log(snakemake.log):
    w, i, p = snakemake.wildcards, snakemake.input, snakemake.params
    rows = shard_rows(i.manifest, w.shard, p.n_shards)
    decoded = {"audio_dir": i.audio, "info_path": i.info} if hasattr(i, "audio") else {}
    transcribe_shard(p.asr, p.device, rows, snakemake.output[0], **decoded, dataset=w.dataset)
