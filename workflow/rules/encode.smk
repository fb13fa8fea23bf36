# Encode stage: codec metadata (codec.json) and integer codes per dataset shard.


rule codec_info:
    input:
        quantizer=codec_quantizer,
    output:
        artifacts.codec_info(R, "{codec}"),
    log:
        **job_logs("codec_info", "{codec}"),
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    priority: UNLOCKS_WORK
    conda:
        codec_env
    resources:
        mem_mb=codec_mem_mb,
        runtime=30,
    params:
        options=codec_options,
        device=config["device"],
    script:
        "../scripts/codec_info.py"


rule encode:
    input:
        manifest=lambda w: manifest(w.dataset),
        info=artifacts.codec_info(R, "{codec}"),
        quantizer=codec_quantizer,
    output:
        artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
    log:
        **job_logs("encode", "{codec}", "{dataset}", "{shard}"),
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    priority: UNLOCKS_WORK
    conda:
        codec_env
    threads: ONE_CORE
    resources:
        gpu=1,
        gpu_mem_mb=codec_gpu_mem,
        mem_mb=codec_mem_mb,
        runtime=120,
    params:
        options=codec_options,
        device=config["device"],
        n_shards=lambda w: config["data"][w.dataset]["shards"],
    script:
        "../scripts/encode.py"
