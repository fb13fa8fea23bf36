# Study B (paper Sec. 4): encoder distillation -- Table 2, the code-level analysis and Figure 2.

SB = config["study_b"]


rule enc_rtf:
    input:
        manifest=manifest(SB["dataset"]),
        info=artifacts.codec_info(R, "{codec}"),
    output:
        artifacts.enc_rtf(R, "{codec}"),
    log:
        **job_logs("enc_rtf", "{codec}"),
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    conda:
        codec_env
    threads: 2
    # a timing: the whole GPU, so no other GPU job runs beside it and skews it
    resources:
        gpu=1,
        gpu_mem_mb=GPU_MEM_MB or 0,
        mem_mb=codec_mem_mb,
        runtime=60,
    params:
        options=codec_options,
        device=config["device"],
        rtf=SB["enc_rtf"],
    script:
        "../scripts/enc_rtf.py"


rule table2:
    input:
        metrics=row_inputs("metrics"),
        asr=row_inputs("asr"),
        reference_asr=shard_files(artifacts.asr_reference(R, "{dataset}", "{shard}"), SB["dataset"]),
        rtf=expand(artifacts.enc_rtf(R, "{codec}"), codec=plan.study_b_codecs(config)),
        info=expand(artifacts.codec_info(R, "{codec}"), codec=plan.study_b_codecs(config)),
    output:
        table=report(
            multiext(artifacts.table(R, "table2"), *artifacts.TABLE_FORMATS),
            caption="../report/table2.rst",
            category="Study B: distillation",
        ),
        asr=report(
            multiext(artifacts.table(R, "asr_wer"), *artifacts.TABLE_FORMATS),
            caption="../report/table2.rst",
            category="Study B: distillation",
        ),
    log:
        log_path("table2", "all"),
    conda:
        PIPELINE_ENV
    params:
        rows=SB["rows"],
        codecs=plan.study_b_codecs(config),
        asr=SB["asr"],
        random_weights=plan.random_weights_asked(config, plan.study_b_codecs(config)),
    script:
        "../scripts/table2.py"


rule code_analysis:
    input:
        reference=shard_files(
            artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
            SB["dataset"],
            codec=SB["reference_codec"],
        ),
        distilled=shard_files(
            artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
            SB["dataset"],
            codec=SB["distilled_codec"],
        ),
        info=expand(artifacts.codec_info(R, "{codec}"), codec=[SB["reference_codec"], SB["distilled_codec"]]),
    output:
        stats=report(
            artifacts.analysis(R, "code_agreement.json"),
            caption="../report/figure2.rst",
            category="Study B: distillation",
        ),
        confusion=artifacts.analysis(R, "level_confusion.npz"),
        figure=report(
            multiext(artifacts.figure(R, "figure2"), *artifacts.FIGURE_FORMATS),
            caption="../report/figure2.rst",
            category="Study B: distillation",
        ),
    log:
        **job_logs("code_analysis", "all"),
    conda:
        codec_env_of(SB["reference_codec"]) if SB["reference_codec"] else PIPELINE_ENV
    resources:
        gpu=1,
        gpu_mem_mb=gpu_mem_of(SB["reference_codec"]) if SB["reference_codec"] else 0,
        mem_mb=12000,
        runtime=60,
    params:
        options=lambda w: config["codecs"][SB["reference_codec"]],
        device=config["device"],
    script:
        "../scripts/code_analysis.py"
