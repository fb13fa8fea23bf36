# ASR stage: Whisper transcripts of the original and decoded audio; WER/CER are computed corpus-level later.

ASR = config["study_b"]["asr"]


rule asr_reference:
    input:
        manifest=lambda w: manifest(w.dataset),
    output:
        artifacts.asr_reference(R, "{dataset}", "{shard}"),
    log:
        **job_logs("asr_reference", "{dataset}", "{shard}"),
    priority: UNLOCKS_WORK
    conda:
        PIPELINE_ENV
    threads: ONE_CORE
    resources:
        gpu=1,
        gpu_mem_mb=asr_gpu_mem,
        mem_mb=8000,
        runtime=120,
    params:
        asr=ASR,
        device=config["device"],
        n_shards=lambda w: config["data"][w.dataset]["shards"],
    script:
        "../scripts/asr.py"


rule asr_decoded:
    input:
        audio=artifacts.decoded_audio(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
        manifest=lambda w: manifest(w.dataset),
        info=artifacts.codec_info(R, "{codec}"),
    output:
        artifacts.asr_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
    log:
        **job_logs("asr_decoded", "{codec}", "{dataset}", "{channel}", "{shard}"),
    conda:
        PIPELINE_ENV
    threads: ONE_CORE
    resources:
        gpu=1,
        gpu_mem_mb=asr_gpu_mem,
        mem_mb=8000,
        runtime=120,
    params:
        asr=ASR,
        device=config["device"],
        n_shards=lambda w: config["data"][w.dataset]["shards"],
    script:
        "../scripts/asr.py"
