# Packet-loss study: the figure, the break-down table and the summary; its conditions are decoded and
# scored by the decode and score rules like any channel (nacbench.packet_loss).

LOSS_CONDITIONS = plan.packet_loss_conditions(config)


rule packet_loss:
    input:
        scores=artifacts.tidy_scores(R, config["study_a"]["dataset"]),
        info=expand(artifacts.codec_info(R, "{codec}"), codec=list(LOSS_CONDITIONS)),
    output:
        figure=report(
            multiext(artifacts.figure(R, "packet_loss"), *artifacts.FIGURE_FORMATS),
            caption="../report/packet_loss.rst",
            category="Packet loss",
        ),
        table=report(
            multiext(artifacts.table(R, "packet_loss"), *artifacts.TABLE_FORMATS),
            caption="../report/packet_loss.rst",
            category="Packet loss",
        ),
        summary=report(
            multiext(artifacts.table(R, "packet_loss_summary"), *artifacts.TABLE_FORMATS),
            caption="../report/packet_loss.rst",
            category="Packet loss",
        ),
    log:
        log_path("packet_loss", "all"),
    conda:
        PIPELINE_ENV
    params:
        conditions=LOSS_CONDITIONS,
        metrics=packet_loss.figure_metrics(config),
        margins=packet_loss.margins(config),
        bootstrap=config["study_labelling"]["bootstrap"],
        seed=config["seed"],
        random_weights=plan.random_weights_asked(config, list(LOSS_CONDITIONS)),
    script:
        "../scripts/packet_loss.py"
