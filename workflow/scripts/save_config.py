import yaml

from nacbench.logs import job_log

with job_log(snakemake.log), open(snakemake.output[0], "w") as handle:
    yaml.safe_dump(dict(snakemake.params.config), handle, sort_keys=False)
