from nacbench.logs import job_log
from nacbench.report import study_a_tables

with job_log(snakemake.log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    study_a_tables(
        i.scores,
        i.info,
        p.codecs,
        o.table,
        o.summary,
        o.breakdown,
        o.failures,
        p.margins,
        p.bootstrap,
        p.seed,
        p.random_weights,
        p.channels,
    )
