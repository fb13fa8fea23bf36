# Index-labelling study (beyond the paper): is FSQ's robustness its quantizer or its index labelling?


rule codewords:
    wildcard_constraints:
        codec=ADAPTER_CODEC,
    input:
        info=f"{R}/codes/{{codec}}/codec.json",
        # usage is counted on the fit set (config `fit`), not on the evaluation set
        codes=lambda w: shard_files(
            f"{R}/codes/{{codec}}/{{dataset}}/{{shard}}.npz", plan.fit_set(config)[0], codec=w.codec
        ),
        manifest=manifest(plan.fit_set(config)[0]),
    output:
        f"{R}/labelling/{{codec}}/codewords.npz",
    log:
        log_path("codewords", "{codec}"),
    benchmark:
        bench_path("codewords", "{codec}")
    params:
        options=codec_options,
        device=config["device"],
        fit=plan.fit_set(config),
        in_sample=plan.fit_in_sample(config),
    resources:
        gpu=1,
        mem_mb=codec_mem_mb,
        runtime=30,
    conda:
        codec_env
    script:
        "../scripts/codewords.py"



rule labelling:
    input:
        info=f"{R}/codes/{{codec}}/codec.json",
        codewords=f"{R}/labelling/{{codec}}/codewords.npz",
    output:
        f"{R}/labelling/{{codec}}/{{labelling}}.npz",
    log:
        log_path("labelling", "{codec}", "{labelling}"),
    benchmark:
        bench_path("labelling", "{codec}", "{labelling}")
    params:
        seed=config["seed"],
        iterations=config["study_labelling"]["switching_iterations"],
    resources:
        runtime=60,
    conda:
        PIPELINE_ENV
    script:
        "../scripts/labelling.py"


rule expected_distortion:
    input:
        info=f"{R}/codes/{{codec}}/codec.json",
        codewords=f"{R}/labelling/{{codec}}/codewords.npz",
        labellings=lambda w: [
            f"{R}/labelling/{w.codec}/{name}.npz"
            for name in config["study_labelling"]["labellings"]
            if name != "natural"
        ],
    output:
        f"{R}/labelling/{{codec}}/expected_distortion.csv",
    log:
        log_path("expected_distortion", "{codec}"),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/expected_distortion.py"


rule labelling_report:
    input:
        scores=f"{R}/tables/scores_{config['study_a']['dataset']}.parquet",
        distortion=expand(
            f"{R}/labelling/{{codec}}/expected_distortion.csv", codec=config["study_labelling"]["codecs"]
        ),
    output:
        figure=report(
            multiext(f"{R}/figures/labelling", ".pdf", ".png"),
            caption="../report/labelling.rst",
            category="Labelling study",
        ),
        breakdown=report(
            multiext(f"{R}/tables/labelling_breakdown", ".csv", ".md", ".tex"),
            caption="../report/labelling.rst",
            category="Labelling study",
        ),
        distortion=report(
            multiext(f"{R}/tables/expected_distortion", ".csv", ".md", ".tex"),
            caption="../report/labelling.rst",
            category="Labelling study",
        ),
    log:
        log_path("labelling_report", "all"),
    params:
        codecs=config["study_labelling"]["codecs"],
        labellings=config["study_labelling"]["labellings"],
        margins=config["study_labelling"]["breakdown_margin"],
        bootstrap=config["study_labelling"]["bootstrap"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, config["study_labelling"]["codecs"]),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/labelling_report.py"
