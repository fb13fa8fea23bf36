# Report stage: Figure 3, Table 3, failure counts, the resolved config; `snakemake --report` collects them.

DS_A = config["study_a"]["dataset"]


rule save_config:
    output:
        f"{R}/report/config.yaml",
    log:
        log_path("save_config", "all"),
    params:
        config=config,
    conda:
        PIPELINE_ENV
    script:
        "../scripts/save_config.py"


rule figure3:
    input:
        scores=f"{R}/tables/scores_{DS_A}.parquet",
        info=expand(f"{R}/codes/{{codec}}/codec.json", codec=config["study_a"]["codecs"]),
    output:
        multiext(f"{R}/figures/figure3", ".pdf", ".png"),
    log:
        log_path("figure3", "all"),
    params:
        codecs=config["study_a"]["codecs"],
        seed=config["seed"],
    conda:
        PIPELINE_ENV
    script:
        "../scripts/figure3.py"


rule table3:
    input:
        info=expand(f"{R}/codes/{{codec}}/codec.json", codec=config["study_a"]["codecs"]),
        scores=f"{R}/tables/scores_{DS_A}.parquet",
    output:
        table=multiext(f"{R}/tables/table3", ".csv", ".md", ".tex"),
        summary=multiext(f"{R}/tables/study_a_summary", ".csv", ".md", ".tex"),
        breakdown=multiext(f"{R}/tables/study_a_breakdown", ".csv", ".md", ".tex"),
        failures=multiext(f"{R}/tables/failures", ".csv", ".md", ".tex"),
    log:
        log_path("table3", "all"),
    params:
        codecs=config["study_a"]["codecs"],
        margins=config["study_labelling"]["breakdown_margin"],
        bootstrap=config["study_labelling"]["bootstrap"],
        seed=config["seed"],
    conda:
        PIPELINE_ENV
    script:
        "../scripts/table3.py"
