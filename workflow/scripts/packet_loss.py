from nacbench.logs import job_log
from nacbench.report import packet_loss_report

with job_log(snakemake.log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    packet_loss_report(
        i.scores,
        i.info,
        p.conditions,
        o.figure,
        o.table,
        o.summary,
        p.metrics,
        p.margins,
        p.bootstrap,
        p.seed,
        p.random_weights,
    )
