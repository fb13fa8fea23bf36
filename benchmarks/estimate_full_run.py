"""How many jobs, and how much time, the full reproduction needs: extrapolated from a measured run.

Reads every Snakemake benchmark TSV under ``<results>/benchmarks`` of a finished (or partial) run, joins
each with the audio its job processed (the run's manifests and its resolved config,
``<results>/report/config.yaml``: utterance ``i`` is in shard ``i % shards``), fits per rule x codec
``wall_s = overhead_s + rate * audio_s`` (``nacbench.costs``), plans the full configuration's jobs
with ``nacbench.plan`` and prints the estimate with the measurement behind every number. Nothing is
borrowed across codecs: a rule x codec that was not measured is reported as "not measured".

    python benchmarks/estimate_full_run.py --results results --out results/analysis/full_run_estimate
    python benchmarks/estimate_full_run.py --full-config config.yaml configs/quick.yaml   # another target

``--out PREFIX`` writes ``PREFIX.md`` and ``PREFIX.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from snakemake.utils import update_config

from nacbench import costs
from nacbench.data.manifest import read_manifest

REPO = Path(__file__).resolve().parents[1]


def describe_machine() -> str:
    """CPU model, cores, memory and GPU of the machine running this script."""
    model = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        model = names[0] if names else model
    try:
        mem = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        mem = ""
    try:
        import torch

        gpu = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    except ImportError:
        gpu = "GPU unknown (torch not importable)"
    return f"{os.cpu_count()} CPU cores ({model}){mem}, {gpu}"


def load_configs(paths: Sequence[Path]) -> dict[str, Any]:
    """Merge config files the way ``snakemake --configfile a b`` does (later files override)."""
    config: dict[str, Any] = {}
    for path in paths:
        try:
            update_config(config, yaml.safe_load(path.read_text()) or {})
        except (OSError, yaml.YAMLError) as exc:
            raise SystemExit(f"{path}: cannot read config ({exc})") from exc
    return config


def manifest_durations(results: Path, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Utterance durations of every dataset whose manifest the measured run wrote."""
    out = {}
    for name in config["data"]:
        path = results / "data" / name / "manifest.tsv"
        if path.exists():
            out[name] = read_manifest(path)["duration_s"].to_numpy(dtype=float)
    return out


def workflow_rules() -> dict[str, dict[str, bool]]:
    decl: dict[str, dict[str, bool]] = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        decl.update(costs.rule_declarations(path.read_text()))
    return decl


# ---------------------------------------------------------------- formatting


def _h(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.2f}"


def _mem(mib: float) -> str:
    return "—" if not math.isfinite(mib) else (f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB")


def _model_text(m: costs.CostModel | None) -> str:
    if m is None:
        return "—"
    if m.method == "per-job":
        return f"{m.overhead_s:.1f} s/job (median)"
    span = f", jobs of {m.audio_range_s[0]:.0f}–{m.audio_range_s[1]:.0f} s audio" if m.audio_range_s else ""
    return f"{m.overhead_s:.1f} s + {m.rate:.3f} × audio s ({m.method}{span})"


def _range_text(bounds: Sequence[float] | None, value: float | None, digits: int = 2) -> str:
    """`` (low–high)`` when an estimate could not separate overhead from rate; empty otherwise."""
    if not bounds or value is None or (abs(bounds[0] - value) < 1e-9 and abs(bounds[1] - value) < 1e-9):
        return ""
    return f" ({bounds[0]:.{digits}f}–{bounds[1]:.{digits}f})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The README section: summary per rule, details per rule x codec, sources and caveats."""
    lines = [
        f"Full configuration `{report['full_config']}`: **{report['total_jobs']} jobs** "
        f"(without the target rule `all`). Measured run: `{report['results']}` "
        f"({report['n_benchmark_files']} benchmark files"
        + (f"; Snakemake logs {', '.join(report['snakemake_logs'])}" if report["snakemake_logs"] else "")
        + f"), on {report['measured_on']}.",
        "",
        "| rule | jobs | CPU wall time estimate (h) | measured on (codec, measured jobs) | memory peak |",
        "|---|---:|---:|---|---:|",
    ]
    for r in report["rules"]:
        if r["wall_h"] is None:
            est = "not measured"
        else:
            est = f"{r['wall_h']:.2f}" if r["complete"] else f"≥ {r['wall_h']:.2f}"
            est += _range_text(r["range_h"], r["wall_h"])
        gpu = " (GPU rule)" if r["gpu"] else ""
        lines.append(
            f"| {r['rule']}{gpu} | {r['jobs']} | {est} | {_cell(r['measured_on'])} | {_mem(r['max_rss_mb'])} |"
        )
    t = report["totals"]
    lines.append(
        f"| **total** | **{report['total_jobs']}** | **≥ {t['wall_h']:.1f}**{_range_text(t['range_h'], t['wall_h'], 1)} | "
        f"{t['jobs_measured']} of {report['total_jobs']} jobs measured | |"
    )
    lines += [
        "",
        "Per rule × codec (the model is `wall s per job = overhead + rate × audio s`, fitted on the "
        "measured run's jobs; audio is the full configuration's):",
        "",
        "| rule | codec | jobs | audio (h) | audio per job (s) | model | measured jobs | estimate (h) | caveats |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    measured_rules = {e["rule"] for e in report["estimates"] if e["model"]}
    for e in report["estimates"]:
        if e["rule"] not in measured_rules:
            continue  # the summary already says the whole rule is not measured
        m = e["model"]
        audio = "—" if e["audio_s"] is None else f"{e['audio_s'] / 3600:.2f}"
        per_job = "—" if e["audio_s"] is None else f"{e['audio_s'] / e['jobs']:.0f}"
        bounds = [x / 3600 for x in e["wall_range_s"]] if e["wall_range_s"] else None
        estimate = _h(e["wall_s"]) + _range_text(bounds, None if e["wall_s"] is None else e["wall_s"] / 3600)
        lines.append(
            f"| {e['rule']} | {e['codec'] or '—'} | {e['jobs']} | {audio} | {per_job} | {_cell(e['model_text'])} | "
            f"{m['n_jobs'] if m else 0} | {estimate} | {_cell('; '.join(e['caveats']))} |"
        )
    lines += ["", "Audio of the full configuration:", ""]
    lines += [
        f"- `{d['name']}`: {d['n_utterances']} utterances, {d['total_s']:.0f} s ({d['total_s'] / 3600:.2f} h); "
        f"source: {d['source']}"
        for d in report["datasets"]
    ]
    lines += ["", "Caveats:", ""] + [f"- {c}" for c in report["caveats"]]
    if report["skipped"]:
        lines += ["", "Benchmark files not used:", ""] + [f"- `{s}`" for s in report["skipped"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def build_report(args: argparse.Namespace) -> dict[str, Any]:
    results = args.results
    measured_path = args.config or results / "report" / "config.yaml"
    if not measured_path.exists():
        raise SystemExit(f"{measured_path}: no resolved config of the measured run (pass --config)")
    measured = load_configs([measured_path])
    full = load_configs(args.full_config)
    bench_dir = results / "benchmarks"
    if not bench_dir.is_dir():
        raise SystemExit(f"{bench_dir}: no benchmark folder; run the workflow first")
    durations = manifest_durations(results, measured)
    jobs, skipped = costs.load_benchmarks(bench_dir, measured, durations)
    if not jobs:
        raise SystemExit(f"{bench_dir}: no usable benchmark TSV ({len(skipped)} skipped)")
    n_bench = len(jobs) + len(skipped)
    if args.snakemake_log:  # rules with no benchmark files: their jobs' start/finish stamps
        benchmarked = {j.key.rule for j in jobs}
        logged = costs.latest_logged_jobs(
            [costs.parse_snakemake_log(p.read_text()) for p in args.snakemake_log], str(measured["results"])
        )
        for job in logged:
            if job.rule in benchmarked:
                continue
            try:
                jobs.append(costs.logged_to_benchmark(job, measured, durations, "log"))
            except costs.CostError as exc:
                skipped.append(f"log job {job.rule} {dict(job.wildcards)}: {exc}")
    models = costs.fit_cost_models(jobs)

    audio = {}
    for name in costs.used_datasets(full):
        found = costs.full_dataset_audio(name, full, measured, durations)
        if found is not None:
            audio[name] = found
    planned = costs.plan_jobs(full, audio)
    estimates = costs.estimate(planned, models, full, measured)
    decl = workflow_rules()
    for e in estimates:  # say why a rule without benchmark files has none
        if e.model is None and e.rule in decl and not decl[e.rule]["benchmark"]:
            e.caveats[0] = "not measured: the rule declares no benchmark: directive"
    summary = costs.summarise(estimates)

    random_codecs = sorted(n for n, o in measured["codecs"].items() if o.get("random_weights"))
    gpu_rules = sorted(r for r, d in decl.items() if d["gpu"])
    no_bench = sorted(r for r, d in decl.items() if not d["benchmark"])
    caveats = [
        f"Codecs with RANDOM weights in the measured run: {', '.join(random_codecs) or 'none'}. Where their "
        "options match the full configuration the architecture is the published one, so compute cost is "
        "representative while the audio they produce is not. Where options differ (flagged 'options "
        "differ', e.g. a reduced random encoder), the measurement is NOT representative of the full run.",
        "Other work may have shared the machine during the measured run (e.g. test-suite workflow runs); "
        "its wall times then include that contention.",
        f"Timings are CPU wall seconds on {args.measured_on}, with device `{measured.get('device')}` in the "
        "measured config. GPU timings are not measured here: on a GPU machine the rules that request a "
        f"GPU ({', '.join(gpu_rules)}) will take a different (usually much smaller) time.",
        "Jobs ran concurrently (Snakemake filled every core), so a job's wall time includes contention; "
        "totals are sums of job wall times (serial time), not the wall-clock time of a parallel run.",
        "A rule x codec measured on fewer than "
        f"{costs.MIN_FIT_DURATIONS} distinct job durations has no separable per-job overhead: its "
        "estimate attributes all time to the per-audio-second rate (`rate-only`), and the range in "
        "brackets runs from 'all time is per-job overhead' to 'all time is per audio second' (any cost "
        "a + b x audio with a, b >= 0 lies between). Jobs of the full run hold a different amount of "
        "audio than the measured ones, so the two ends can be far apart.",
        f"Rules that declare no `benchmark:`: {', '.join(no_bench)}. Not measured unless a Snakemake log is "
        "given (--snakemake-log): then timed from the log's start/finish stamps (1 s resolution, no "
        "memory). Download time depends on the network and is not estimated.",
        "Rules without an audio wildcard (tables, figures, code analysis, codec_info, enc_rtf, labelling) "
        "are taken at their measured time per job, although the report rules grow with the number of "
        "utterances and conditions they read: for them the measured run (fewer of both) is a lower bound.",
        "A codec of the full configuration that was not in the measured run is not measured; no other "
        "codec's numbers are substituted. Totals (≥) cover the measured jobs only.",
    ]
    missing_audio = sorted(set(costs.used_datasets(full)) - set(audio))
    if missing_audio:
        caveats.append(f"Audio of {missing_audio} unknown: their audio-scaled jobs are not estimated.")
    measured_jobs = sum(r.jobs_measured for r in summary)
    report: dict[str, Any] = {
        "results": str(results),
        "measured_config": str(measured_path),
        "full_config": " + ".join(str(p) for p in args.full_config),
        "measured_on": args.measured_on,
        "n_benchmark_files": n_bench,
        "snakemake_logs": [str(p) for p in args.snakemake_log],
        "total_jobs": sum(r.jobs for r in summary),
        "totals": {
            "wall_h": sum(r.wall_h or 0.0 for r in summary),
            "range_h": [sum(r.range_h[0] for r in summary), sum(r.range_h[1] for r in summary)],
            "jobs_measured": measured_jobs,
        },
        "rules": [
            {**dataclasses.asdict(r), "complete": r.complete, "gpu": decl.get(r.rule, {}).get("gpu", False)}
            for r in summary
        ],
        "estimates": [
            {
                "rule": e.rule,
                "codec": e.codec,
                "jobs": e.jobs,
                "audio_s": e.audio_s,
                "wall_s": e.wall_s,
                "model": dataclasses.asdict(e.model) if e.model else None,
                "model_text": _model_text(e.model),
                "wall_range_s": e.wall_range_s,
                "caveats": e.caveats,
            }
            for e in estimates
        ],
        "models": [{**dataclasses.asdict(m)} for m in models.values()],
        "datasets": [dataclasses.asdict(d) for d in audio.values()],
        "caveats": caveats,
        "skipped": skipped,
    }
    return report


def _json_safe(obj: Any) -> Any:
    """NaN is not JSON: write null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


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
    parser.add_argument("--out", type=Path, default=None, help="write OUT.md and OUT.json")
    args = parser.parse_args(argv)
    if args.measured_on is None:
        args.measured_on = f"this machine: {describe_machine()}"
    report = build_report(args)
    markdown = render_markdown(report)
    sys.stdout.write(markdown)
    if args.out is not None:
        prefix = args.out.with_suffix("") if args.out.suffix in (".md", ".json") else args.out
        prefix.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{prefix}.md").write_text(markdown)
        Path(f"{prefix}.json").write_text(json.dumps(_json_safe(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
