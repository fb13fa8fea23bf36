from nacbench.logs import job_log
from nacbench.stages import build_labelling

with job_log(snakemake.log):
    w, i = snakemake.wildcards, snakemake.input
    p = snakemake.params
    build_labelling(w.labelling, w.codec, i.info, i.codewords, p.seed, snakemake.output[0], p.iterations)
