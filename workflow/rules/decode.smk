# Decode stage: clean codes -> channel -> received codes (kept) -> audio, one condition per job, through
# a decode-only build of the codec. Decoded audio is temporary (scored, then removed) except for the
# listening subset, which is kept under results/listen/.


rule decode:
    input:
        codes=artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
        info=artifacts.codec_info(R, "{codec}"),
        labelling=channel_labelling,
        manifest=lambda w: manifest(w.dataset),
        quantizer=codec_quantizer,
        pattern=loss_pattern,
        latents=concealment_latents,
    output:
        received=artifacts.channel_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
        audio=temp(directory(artifacts.decoded_audio(R, "{codec}", "{dataset}", "{channel}", "{shard}"))),
        listen=directory(artifacts.listen_dir(R, "{codec}", "{dataset}", "{channel}", "{shard}")),
    log:
        **job_logs("decode", "{codec}", "{dataset}", "{channel}", "{shard}"),
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    conda:
        codec_env
    resources:
        gpu=1,
        gpu_mem_mb=codec_gpu_mem,
        mem_mb=codec_mem_mb,
        runtime=120,
    params:
        options=codec_options,
        device=config["device"],
        listen_utterances=config["study_a"]["listen_utterances"],
        out_of_range=config["study_a"]["out_of_range"],
    script:
        "../scripts/decode.py"
