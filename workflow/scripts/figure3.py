from nacbench.logs import job_log
from nacbench.report import study_a_figure

with job_log(snakemake.log):
    i, p = snakemake.input, snakemake.params
    study_a_figure(
        i.scores, i.info, p.codecs, snakemake.output, p.seed, p.random_weights, p.channels, p.x_axis
    )
