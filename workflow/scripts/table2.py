from nacbench.logs import job_log
from nacbench.report import study_b_tables

with job_log(snakemake.log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    study_b_tables(
        p.rows, p.codecs, i.metrics, i.asr, i.reference_asr, i.rtf, i.info, o.table, o.asr, p.random_weights
    )
