# Index-labelling study (beyond the paper): is FSQ's robustness its quantizer or its index labelling?


rule codewords:
    input:
        info=artifacts.codec_info(R, "{codec}"),
        # usage is counted on the fit set (config `fit`), not on the evaluation set
        codes=lambda w: shard_files(
            artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"),
            plan.fit_set(config)[0],
            codec=w.codec,
        ),
        manifest=manifest(plan.fit_set(config)[0]),
    output:
        artifacts.codewords(R, "{codec}"),
    log:
        **job_logs("codewords", "{codec}"),
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    priority: UNLOCKS_WORK
    conda:
        codec_env
    resources:
        gpu=1,
        gpu_mem_mb=codec_gpu_mem,
        mem_mb=codec_mem_mb,
        runtime=30,
    params:
        options=codec_options,
        device=config["device"],
        fit=plan.fit_set(config),
        in_sample=plan.fit_in_sample(config),
    script:
        "../scripts/codewords.py"


rule labelling:
    input:
        info=artifacts.codec_info(R, "{codec}"),
        codewords=artifacts.codewords(R, "{codec}"),
    output:
        artifacts.labelling(R, "{codec}", "{labelling}"),
    log:
        **job_logs("labelling", "{codec}", "{labelling}"),
    priority: UNLOCKS_WORK
    conda:
        PIPELINE_ENV
    resources:
        runtime=60,
    params:
        seed=config["seed"],
        iterations=config["study_labelling"]["switching_iterations"],
    script:
        "../scripts/labelling.py"


rule expected_distortion:
    input:
        info=artifacts.codec_info(R, "{codec}"),
        codewords=artifacts.codewords(R, "{codec}"),
        labellings=lambda w: [
            artifacts.labelling(R, w.codec, name)
            for name in config["study_labelling"]["labellings"]
            if name != "natural"
        ],
    output:
        artifacts.expected_distortion(R, "{codec}"),
    log:
        log_path("expected_distortion", "{codec}"),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/expected_distortion.py"


rule labelling_report:
    input:
        scores=artifacts.tidy_scores(R, config["study_a"]["dataset"]),
        distortion=expand(
            artifacts.expected_distortion(R, "{codec}"), codec=config["study_labelling"]["codecs"]
        ),
    output:
        figure=report(
            multiext(artifacts.figure(R, "labelling"), *artifacts.FIGURE_FORMATS),
            caption="../report/labelling.rst",
            category="Labelling study",
        ),
        breakdown=report(
            multiext(artifacts.table(R, "labelling_breakdown"), *artifacts.TABLE_FORMATS),
            caption="../report/labelling.rst",
            category="Labelling study",
        ),
        distortion=report(
            multiext(artifacts.table(R, "expected_distortion"), *artifacts.TABLE_FORMATS),
            caption="../report/labelling.rst",
            category="Labelling study",
        ),
    log:
        log_path("labelling_report", "all"),
    conda:
        PIPELINE_ENV
    params:
        codecs=config["study_labelling"]["codecs"],
        margins=plan.breakdown_margins(config),
        bootstrap=config["study_labelling"]["bootstrap"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, config["study_labelling"]["codecs"]),
        channels=[spec.name for spec in plan.labelling_channels(config)],
    script:
        "../scripts/labelling_report.py"
