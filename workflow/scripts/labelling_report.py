from nacbench.logs import job_log
from nacbench.report import labelling_report

with job_log(snakemake.log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    labelling_report(
        i.scores,
        i.distortion,
        p.codecs,
        o.figure,
        o.breakdown,
        o.distortion,
        p.margins,
        p.bootstrap,
        p.seed,
        p.random_weights,
        p.channels,
    )
