from nacbench.logs import job_log
from nacbench.stages import listening_ids, transmit_and_decode

with job_log(snakemake.log):
    w, p = snakemake.wildcards, snakemake.params
    transmit_and_decode(
        w.codec,
        p.options,
        p.device,
        snakemake.input.codes,
        snakemake.input.info,
        w.channel,
        w.dataset,
        w.shard,
        snakemake.output.received,
        snakemake.output.audio,
        snakemake.output.listen,
        listening_ids(snakemake.input.manifest, p.listen_utterances),
        out_of_range=p.out_of_range,
        labelling_path=snakemake.input.labelling or None,
        error_stream=p.error_stream,
    )
