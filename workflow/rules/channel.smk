# Channel stage: code indices -> (labelling) -> bits -> BSC / Gilbert-Elliott -> (inverse labelling) -> codes.


rule channel:
    input:
        codes=artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
        info=artifacts.codec_info(R, "{codec}"),
        labelling=channel_labelling,
    output:
        artifacts.channel_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
    log:
        log_path("channel", "{codec}", "{dataset}", "{channel}", "{shard}"),
    benchmark:
        bench_path("channel", "{codec}", "{dataset}", "{channel}", "{shard}")
    conda:
        PIPELINE_ENV
    resources:
        runtime=10,
    params:
        out_of_range=config["study_a"]["out_of_range"],
    script:
        "../scripts/channel.py"
