from nacbench.logs import job_log
from nacbench.report import code_analysis
from nacbench.stages import load_codec

with job_log(snakemake.log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    reference = load_codec(snakemake.config["study_b"]["reference_codec"], p.options, p.device)
    code_analysis(i.reference, i.distilled, i.info, reference, o.stats, o.confusion, o.figure)
