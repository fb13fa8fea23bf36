from nacbench.logs import job_log
from nacbench.report import report_page

with job_log(snakemake.log):
    i = snakemake.input
    report_page(
        i.info,
        i.get("summary"),
        i.get("breakdown"),
        i.get("table2"),
        snakemake.output[0],
    )
