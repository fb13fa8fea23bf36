# Decode stage: perturbed codes -> audio. Decoded audio is temporary (scored, then removed) except for
# the listening subset, which is kept under results/listen/.


rule decode:
    input:
        codes=artifacts.channel_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
        info=artifacts.codec_info(R, "{codec}"),
        manifest=lambda w: manifest(w.dataset),
    output:
        audio=temp(directory(artifacts.decoded_audio(R, "{codec}", "{dataset}", "{channel}", "{shard}"))),
        listen=directory(artifacts.listen_dir(R, "{codec}", "{dataset}", "{channel}", "{shard}")),
    log:
        log_path("decode", "{codec}", "{dataset}", "{channel}", "{shard}"),
    benchmark:
        bench_path("decode", "{codec}", "{dataset}", "{channel}", "{shard}")
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    conda:
        codec_env
    threads: 2
    resources:
        gpu=1,
        mem_mb=codec_mem_mb,
        runtime=120,
    params:
        options=codec_options,
        device=config["device"],
        listen_utterances=config["study_a"]["listen_utterances"],
    script:
        "../scripts/decode.py"
