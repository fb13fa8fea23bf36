from nacbench.logs import job_log
from nacbench.stages import listening_ids, shard_durations, transmit_and_decode
from nacbench.swap import error_streams

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
        # the quantizer swap's codecs at one budget share one stream (not a param: adding it would
        # have rerun every existing decode job; it follows from the codec's name and config alone)
        error_stream=error_streams(snakemake.config).get(w.codec),
        # a loss pattern is replayed across the shard's utterances by their durations
        pattern_path=snakemake.input.pattern or None,
        durations=shard_durations(snakemake.input.manifest, snakemake.input.codes),
        # mean-latent concealment decodes the fit set's mean latent in place of lost frames
        latents_path=snakemake.input.latents or None,
    )
