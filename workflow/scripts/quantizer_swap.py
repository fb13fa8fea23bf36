from nacbench.logs import job_log
from nacbench.report import quantizer_swap_report

with job_log(snakemake.log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    quantizer_swap_report(
        i.scores,
        p.rows,
        o.figure,
        o.table,
        o.rate,
        p.margins,
        p.bootstrap,
        p.seed,
        p.random_weights,
        in_sample=p.in_sample,
    )
