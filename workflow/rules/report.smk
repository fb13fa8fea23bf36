# Report stage: Figure 3, Table 3, failure counts, the resolved config; `snakemake --report` collects them.
import copy

from nacbench.report import read_report_page

DS_A = config["study_a"]["dataset"]


# The report's opening page (workflow/report/workflow.rst) can see only the config: the run's headline
# numbers reach it there, read from the json the report_page rule writes (empty before the run). The
# config the rules use is copied first, so the headline never reaches a rule's params.
RUN_CONFIG = copy.deepcopy(config)
config["report_page"] = read_report_page(f"{R}/report/headline.json")


rule save_config:
    output:
        report(f"{R}/report/config.yaml", caption="../report/config.rst", category="Configuration"),
    log:
        log_path("save_config", "all"),
    params:
        config=RUN_CONFIG,
    conda:
        PIPELINE_ENV
    script:
        "../scripts/save_config.py"


rule figure3:
    input:
        scores=f"{R}/tables/scores_{DS_A}.parquet",
        info=expand(f"{R}/codes/{{codec}}/codec.json", codec=config["study_a"]["codecs"]),
    output:
        report(
            multiext(f"{R}/figures/figure3", ".pdf", ".png"),
            caption="../report/figure3.rst",
            category="Study A: bit flips",
        ),
    log:
        log_path("figure3", "all"),
    params:
        codecs=config["study_a"]["codecs"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, config["study_a"]["codecs"]),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/figure3.py"


rule table3:
    input:
        info=expand(f"{R}/codes/{{codec}}/codec.json", codec=config["study_a"]["codecs"]),
        scores=f"{R}/tables/scores_{DS_A}.parquet",
    output:
        table=report(
            multiext(f"{R}/tables/table3", ".csv", ".md", ".tex"),
            caption="../report/table3.rst",
            category="Study A: bit flips",
        ),
        summary=report(
            multiext(f"{R}/tables/study_a_summary", ".csv", ".md", ".tex"),
            caption="../report/study_a_tables.rst",
            category="Study A: bit flips",
        ),
        breakdown=report(
            multiext(f"{R}/tables/study_a_breakdown", ".csv", ".md", ".tex"),
            caption="../report/study_a_tables.rst",
            category="Study A: bit flips",
        ),
        failures=report(
            multiext(f"{R}/tables/failures", ".csv", ".md", ".tex"),
            caption="../report/study_a_tables.rst",
            category="Study A: bit flips",
        ),
    log:
        log_path("table3", "all"),
    params:
        codecs=config["study_a"]["codecs"],
        margins=config["study_labelling"]["breakdown_margin"],
        bootstrap=config["study_labelling"]["bootstrap"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, config["study_a"]["codecs"]),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/table3.py"


rule report_page:
    input:
        unpack(report_page_inputs),
    output:
        f"{R}/report/headline.json",
    log:
        log_path("report_page", "all"),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/report_page.py"
