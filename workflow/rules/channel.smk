# Channel stage for external codecs: code indices -> (labelling) -> bits -> BSC / Gilbert-Elliott ->
# (inverse labelling) -> codes. An adapter codec's decode job (decode.smk) transmits its codes itself and
# writes the same artifact: the channel's milliseconds of work are not worth a process start.


rule channel:
    input:
        codes=artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
        info=artifacts.codec_info(R, "{codec}"),
        labelling=channel_labelling,
    output:
        artifacts.channel_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
    log:
        **job_logs("channel", "{codec}", "{dataset}", "{channel}", "{shard}"),
    wildcard_constraints:
        codec=EXTERNAL_CODEC,
    conda:
        PIPELINE_ENV
    resources:
        runtime=10,
    params:
        out_of_range=config["study_a"]["out_of_range"],
    script:
        "../scripts/channel.py"
