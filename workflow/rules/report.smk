# Report stage: Figure 3, Table 3, failure counts, the resolved config; `snakemake --report` collects them.
import copy

from nacbench.report import read_report_page

DS_A = config["study_a"]["dataset"]
# the conditions each study's tables and figures pool, per codec (the tidy table holds every study's)
STUDY_A_CHANNELS = plan.study_a_conditions(config)


# The report's opening page (workflow/report/workflow.rst) can see only the config: the run's headline
# numbers reach it there, read from the json the report_page rule writes (empty before the run). The
# config the rules use is copied first, so the headline never reaches a rule's params.
RUN_CONFIG = copy.deepcopy(CONFIGURED)
config["report_page"] = read_report_page(artifacts.report_page(R))


rule save_config:
    output:
        report(artifacts.report_config(R), caption="../report/config.rst", category="Configuration"),
    log:
        log_path("save_config", "all"),
    conda:
        PIPELINE_ENV
    params:
        config=RUN_CONFIG,
    script:
        "../scripts/save_config.py"


rule figure3:
    input:
        scores=artifacts.tidy_scores(R, DS_A),
        info=expand(artifacts.codec_info(R, "{codec}"), codec=config["study_a"]["codecs"]),
    output:
        report(
            multiext(artifacts.figure(R, "figure3"), *artifacts.FIGURE_FORMATS),
            caption="../report/figure3.rst",
            category="Study A: bit flips",
        ),
    log:
        log_path("figure3", "all"),
    conda:
        PIPELINE_ENV
    params:
        codecs=config["study_a"]["codecs"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, config["study_a"]["codecs"]),
        channels=STUDY_A_CHANNELS,
        x_axis=config["study_a"]["figure3_x_axis"],
    script:
        "../scripts/figure3.py"


rule table3:
    input:
        info=expand(artifacts.codec_info(R, "{codec}"), codec=config["study_a"]["codecs"]),
        scores=artifacts.tidy_scores(R, DS_A),
    output:
        table=report(
            multiext(artifacts.table(R, "table3"), *artifacts.TABLE_FORMATS),
            caption="../report/table3.rst",
            category="Study A: bit flips",
        ),
        summary=report(
            multiext(artifacts.table(R, "study_a_summary"), *artifacts.TABLE_FORMATS),
            caption="../report/study_a_tables.rst",
            category="Study A: bit flips",
        ),
        breakdown=report(
            multiext(artifacts.table(R, "study_a_breakdown"), *artifacts.TABLE_FORMATS),
            caption="../report/study_a_tables.rst",
            category="Study A: bit flips",
        ),
        failures=report(
            multiext(artifacts.table(R, "failures"), *artifacts.TABLE_FORMATS),
            caption="../report/study_a_tables.rst",
            category="Study A: bit flips",
        ),
    log:
        log_path("table3", "all"),
    conda:
        PIPELINE_ENV
    params:
        codecs=config["study_a"]["codecs"],
        margins=plan.breakdown_margins(config),
        bootstrap=config["study_labelling"]["bootstrap"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, config["study_a"]["codecs"]),
        channels=STUDY_A_CHANNELS,
    script:
        "../scripts/table3.py"


rule report_page:
    input:
        unpack(report_page_inputs),
    output:
        artifacts.report_page(R),
    log:
        log_path("report_page", "all"),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/report_page.py"
