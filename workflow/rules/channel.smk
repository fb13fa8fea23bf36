# Channel stage: code indices -> (labelling) -> bits -> BSC / Gilbert-Elliott -> (inverse labelling) -> codes.


rule channel:
    input:
        codes=f"{R}/codes/{{codec}}/{{dataset}}/{{shard}}.npz",
        info=f"{R}/codes/{{codec}}/codec.json",
        labelling=channel_labelling,
    output:
        f"{R}/channel/{{codec}}/{{dataset}}/{{channel}}/{{shard}}.npz",
    log:
        log_path("channel", "{codec}", "{dataset}", "{channel}", "{shard}"),
    benchmark:
        bench_path("channel", "{codec}", "{dataset}", "{channel}", "{shard}")
    params:
        out_of_range=config["study_a"]["out_of_range"],
    resources:
        runtime=10,
    conda:
        PIPELINE_ENV
    script:
        "../scripts/channel.py"
