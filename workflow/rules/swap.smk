# Quantizer swap (beyond the paper): one codec's encoder and decoder, its native quantizer vs post-hoc
# FSQ and RVQ fitted on the fit set's latents, at equal bits per frame (nacbench.swap). The swapped
# codecs (<base>~<quantizer><bits>) go through encode, decode and score like any codec.
SWAP_CODECS = [s.name for s in swap.swap_codecs(config)]


rule fit_latents:
    input:
        manifest=manifest(plan.fit_set(config)[0]),
        info=artifacts.codec_info(R, "{codec}"),
    output:
        artifacts.fit_latents(R, "{codec}"),
    log:
        **job_logs("fit_latents", "{codec}"),
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    priority: UNLOCKS_WORK
    conda:
        codec_env
    resources:
        gpu=1,
        gpu_mem_mb=codec_gpu_mem,
        mem_mb=codec_mem_mb,
        runtime=60,
    params:
        options=codec_options,
        device=config["device"],
        fit=plan.fit_set(config),
        in_sample=swap.in_sample(config),
    script:
        "../scripts/fit_latents.py"


rule fit_quantizer:
    input:
        latents=lambda w: artifacts.fit_latents(R, config["codecs"][w.codec]["base"]),
    output:
        artifacts.quantizer(R, "{codec}"),
    log:
        **job_logs("fit_quantizer", "{codec}"),
    wildcard_constraints:
        codec=swap.POSTHOC_NAME,
    priority: UNLOCKS_WORK
    conda:
        PIPELINE_ENV
    resources:
        mem_mb=codec_mem_mb,
        runtime=60,
    params:
        settings=lambda w: config["codecs"][w.codec]["fit"],
    script:
        "../scripts/fit_quantizer.py"


rule quantizer_swap:
    input:
        scores=artifacts.tidy_scores(R, config["study_a"]["dataset"]),
        info=expand(artifacts.codec_info(R, "{codec}"), codec=SWAP_CODECS),
    output:
        figure=report(
            multiext(artifacts.figure(R, "quantizer_swap"), *artifacts.FIGURE_FORMATS),
            caption="../report/quantizer_swap.rst",
            category="Quantizer swap",
        ),
        table=report(
            multiext(artifacts.table(R, "quantizer_swap"), *artifacts.TABLE_FORMATS),
            caption="../report/quantizer_swap.rst",
            category="Quantizer swap",
        ),
        rate=report(
            multiext(artifacts.figure(R, "rate_robustness"), *artifacts.FIGURE_FORMATS),
            caption="../report/quantizer_swap.rst",
            category="Quantizer swap",
        ),
    log:
        log_path("quantizer_swap", "all"),
    conda:
        PIPELINE_ENV
    params:
        rows=swap.study_rows(config),
        margins=plan.breakdown_margins(config),
        bootstrap=config["study_labelling"]["bootstrap"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, SWAP_CODECS),
        in_sample=swap.in_sample(config),
    script:
        "../scripts/quantizer_swap.py"
