"""How many jobs, and how much time, the full reproduction needs: extrapolated from a measured run.

Reads every Snakemake benchmark TSV under ``<results>/benchmarks`` and every job startup record under
``<results>/logs`` of a finished (or partial) run, joins each with the audio its job processed (the
run's manifests and its resolved config, ``<results>/report/config.yaml``: utterance ``i`` is in shard
``i % shards``) and models per rule x codec ``wall_s = overhead_s + rate * audio_s``: the overhead is
the fixed cost the jobs' startup records measured (a run without records falls back to a regression,
and the report says so). With ``--gpu-figures`` (the JSON of benchmarks/gpu_check.py) the rules that
run on a GPU use the GPU's throughput and start-up instead of CPU timings. It plans the full
configuration's jobs with ``nacbench.plan`` and prints the estimate with the measurement behind every
number, and the wall time on the target machine (``--gpus``, ``--cores``, ``--gpu-mem-mb``). Nothing
is borrowed across codecs: a rule x codec that was not measured is reported as "not measured". The
logic is the package ``nacbench.costs``; this script reads the command line and writes the files.

    python benchmarks/estimate_full_run.py --results results --out results/analysis/full_run_estimate
    python benchmarks/estimate_full_run.py --full-config config.yaml configs/quick.yaml   # another target
    python benchmarks/estimate_full_run.py --results results/offline --seeds 3 \\
        --gpu-figures results/gpu_check.json --gpus 1 --cores 16     # the paper's run, 1 GPU + 16 cores

``--out PREFIX`` writes ``PREFIX.md`` and ``PREFIX.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import update_config

from nacbench import artifacts
from nacbench.costs import CostError
from nacbench.costs.gpu import read_gpu_figures
from nacbench.costs.machine import TargetMachine
from nacbench.costs.report import build_report, json_safe, render_markdown
from nacbench.swap import with_derived_codecs

REPO = Path(__file__).resolve().parents[1]


def describe_machine() -> str:
    """CPU model, cores, memory and GPU of the machine running this script."""
    try:
        from nacbench.timing import host_facts
    except ImportError:  # torch missing: the estimate itself does not need it
        return f"{os.cpu_count()} CPU cores ({platform.machine()}), GPU unknown (torch not importable)"
    facts = host_facts()
    mem = f", {facts['memory_gib']:.0f} GiB RAM" if facts["memory_gib"] else ""
    gpu = f"GPU {facts['gpu_name']}" if facts["gpu_name"] else "no GPU"
    return f"{facts['cpu_count']} CPU cores ({facts['cpu_model']}){mem}, {gpu}"


def load_configs(paths: Sequence[Path]) -> dict[str, Any]:
    """Merge config files the way ``snakemake --configfile a b`` does (later files override)."""
    config: dict[str, Any] = {}
    for path in paths:
        try:
            update_config(config, yaml.safe_load(path.read_text()) or {})
        except (OSError, yaml.YAMLError) as exc:
            raise SystemExit(f"{path}: cannot read config ({exc})") from exc
    return config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="results dir of the measured run"
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="its resolved config (default <results>/report/config.yaml)"
    )
    parser.add_argument(
        "--full-config",
        type=Path,
        nargs="+",
        default=[REPO / "config.yaml"],
        help="the configuration to estimate (several files merge like --configfile; default config.yaml)",
    )
    parser.add_argument(
        "--measured-on",
        default=None,
        help="where the benchmarks were measured (default: this machine, described from /proc and torch)",
    )
    parser.add_argument(
        "--snakemake-log",
        type=Path,
        nargs="*",
        default=[],
        help="Snakemake logs of the measured run (oldest first): time the rules with no benchmark files "
        "from their jobs' start/finish stamps (1 s resolution, no memory)",
    )
    parser.add_argument(
        "--gpu-figures",
        type=Path,
        default=None,
        help="JSON of benchmarks/gpu_check.py: GPU throughput, start-up and memory per codec for the rules "
        "that run on a GPU (without it, CPU timings stand in for them)",
    )
    parser.add_argument("--gpus", type=int, default=1, help="GPUs of the target machine (default 1)")
    parser.add_argument("--cores", type=int, default=16, help="CPU cores of the target machine (default 16)")
    parser.add_argument(
        "--gpu-mem-mb",
        type=float,
        default=None,
        help="memory of one GPU of the target machine (default: the GPU check's GPU; without either, "
        "one GPU job at a time)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="run every Study A channel under seeds 0..N-1 (the paper's setting is 3; default: the "
        "full configuration's own seeds)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write OUT.md and OUT.json")
    args = parser.parse_args(argv)
    if args.measured_on is None:
        args.measured_on = f"this machine: {describe_machine()}"
    measured_config = args.config or Path(artifacts.report_config(args.results))
    if not measured_config.exists():
        raise SystemExit(f"{measured_config}: no resolved config of the measured run (pass --config)")
    try:
        figures = read_gpu_figures(args.gpu_figures) if args.gpu_figures else None
        gpu_mem = args.gpu_mem_mb
        if gpu_mem is None and figures is not None:
            gpu_mem = figures.machine.get("gpu_memory_mb")
        target = TargetMachine(gpus=args.gpus, cores=args.cores, gpu_mem_mb=gpu_mem)
    except (CostError, ValueError) as exc:
        raise SystemExit(str(exc)) from exc
    try:
        report = build_report(
            results=args.results,
            # with the quantizer swap's derived codecs (lyra~fsq120, ...): their jobs are the measured run's too
            measured=with_derived_codecs(load_configs([measured_config])),
            measured_config=measured_config,
            full=load_configs(args.full_config),
            full_config=" + ".join(str(p) for p in args.full_config),
            measured_on=args.measured_on,
            rule_dir=REPO / "workflow" / "rules",
            snakemake_logs=args.snakemake_log,
            gpu_figures=figures,
            target=target,
            seeds=args.seeds,
        )
    except (CostError, ValueError) as exc:
        raise SystemExit(str(exc)) from exc
    markdown = render_markdown(report)
    sys.stdout.write(markdown)
    if args.out is not None:
        prefix = args.out.with_suffix("") if args.out.suffix in (".md", ".json") else args.out
        prefix.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{prefix}.md").write_text(markdown)
        Path(f"{prefix}.json").write_text(json.dumps(json_safe(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
