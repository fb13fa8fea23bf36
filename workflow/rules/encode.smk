# Encode stage: codec metadata (codec.json) and integer codes per dataset shard.


rule codec_info:
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    output:
        artifacts.codec_info(R, "{codec}"),
    log:
        log_path("codec_info", "{codec}"),
    benchmark:
        bench_path("codec_info", "{codec}")
    params:
        options=codec_options,
        device=config["device"],
    resources:
        mem_mb=codec_mem_mb,
        runtime=30,
    conda:
        codec_env
    script:
        "../scripts/codec_info.py"


rule encode:
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    input:
        manifest=lambda w: manifest(w.dataset),
        info=artifacts.codec_info(R, "{codec}"),
    output:
        artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
    log:
        log_path("encode", "{codec}", "{dataset}", "{shard}"),
    benchmark:
        bench_path("encode", "{codec}", "{dataset}", "{shard}")
    params:
        options=codec_options,
        device=config["device"],
        n_shards=lambda w: config["data"][w.dataset]["shards"],
    threads: 2
    resources:
        gpu=1,
        mem_mb=codec_mem_mb,
        runtime=120,
    conda:
        codec_env
    script:
        "../scripts/encode.py"
