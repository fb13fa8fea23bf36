"""What a full reproduction costs, extrapolated from the per-job benchmarks of a measured run.

Every heavy rule writes a Snakemake benchmark TSV. The package is split by concern, one module each,
in the order the estimate is built:

- :mod:`nacbench.costs.benchmarks`: read the measured run's benchmark files (and where they live),
  join each with the audio its job processed;
- :mod:`nacbench.costs.runlog`: time the rules without a ``benchmark:`` from a Snakemake log;
- :mod:`nacbench.costs.fit`: fit a per-rule x codec model ``wall_s = overhead_s + rate * audio_s``;
- :mod:`nacbench.costs.records`: the same model with the overhead the jobs measured themselves (their
  startup records, :mod:`nacbench.startup`); the regression of :mod:`~nacbench.costs.fit` is the
  fallback for a run without records;
- :mod:`nacbench.costs.gpu`: the GPU check's figures (``benchmarks/gpu_check.py``: GPU throughput,
  start-up and memory per codec) as the models of the rules that run on a GPU;
- :mod:`nacbench.costs.jobs`: plan another configuration's job list with :mod:`nacbench.plan` (the
  functions the Snakefile asks for its targets) and the audio each job will process;
- :mod:`nacbench.costs.workflow`: what the rule files declare and what ``snakemake -n`` plans, so the
  planned job list is checked against the workflow's own DAG (tests/test_costs.py);
- :mod:`nacbench.costs.estimate`: apply the models to the planned jobs and summarise per rule;
- :mod:`nacbench.costs.machine`: the wall time on a target machine (GPUs side by side up to their
  memory, CPU jobs filling the cores);
- :mod:`nacbench.costs.report`: the estimate as a JSON-able report and its Markdown rendering.

Nothing makes a number up: a job whose rule x codec was not measured stays "not measured", and every
estimate keeps the measurement it came from. ``benchmarks/estimate_full_run.py`` is the command line.
"""

from __future__ import annotations


class CostError(ValueError):
    """A benchmark file, manifest, log or configuration that cannot be used; the message names it."""
