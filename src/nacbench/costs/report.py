"""The estimate as a report: a JSON-able dict with every number's source, and its Markdown rendering.

``benchmarks/estimate_full_run.py`` writes both (``--out PREFIX``: ``PREFIX.md``, ``PREFIX.json``);
the README's "Performance" section quotes the Markdown of the offline run.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nacbench import artifacts
from nacbench.costs import CostError
from nacbench.costs.benchmarks import load_benchmarks, manifest_durations
from nacbench.costs.estimate import estimate, summarise
from nacbench.costs.fit import MIN_FIT_DURATIONS, CostModel, fit_cost_models
from nacbench.costs.jobs import full_dataset_audio, plan_jobs, used_datasets
from nacbench.costs.runlog import latest_logged_jobs, logged_to_benchmark, parse_snakemake_log
from nacbench.costs.workflow import workflow_rule_declarations
from nacbench.plan import Config


def _h(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.2f}"


def _mem(mib: float) -> str:
    return "—" if not math.isfinite(mib) else (f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB")


def _model_text(m: CostModel | None) -> str:
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
        total = _h(e["wall_s"]) + _range_text(bounds, None if e["wall_s"] is None else e["wall_s"] / 3600)
        lines.append(
            f"| {e['rule']} | {e['codec'] or '—'} | {e['jobs']} | {audio} | {per_job} | {_cell(e['model_text'])} | "
            f"{m['n_jobs'] if m else 0} | {total} | {_cell('; '.join(e['caveats']))} |"
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


def build_report(
    results: Path,
    measured: Config,
    measured_config: Path,
    full: Config,
    full_config: str,
    measured_on: str,
    rule_dir: Path,
    snakemake_logs: Sequence[Path] = (),
) -> dict[str, Any]:
    """The estimate of ``full`` from the run in ``results`` (configuration ``measured``), JSON-able.

    ``full_config`` and ``measured_on`` only label the report; ``rule_dir`` holds the workflow's rule
    files (which rules declare a benchmark or a GPU); ``snakemake_logs`` (oldest first) time the rules
    that wrote no benchmark file. Raises :class:`CostError` when the run has nothing to measure.
    """
    bench_dir = artifacts.job_folder(results, "benchmarks")
    if not bench_dir.is_dir():
        raise CostError(f"{bench_dir}: no benchmark folder; run the workflow first")
    durations = manifest_durations(results, measured)
    jobs, skipped = load_benchmarks(results, measured, durations)
    if not jobs:
        raise CostError(f"{bench_dir}: no usable benchmark TSV ({len(skipped)} skipped)")
    n_bench = len(jobs) + len(skipped)
    if snakemake_logs:  # rules with no benchmark files: their jobs' start/finish stamps
        benchmarked = {j.key.rule for j in jobs}
        logged = latest_logged_jobs(
            [parse_snakemake_log(p.read_text()) for p in snakemake_logs], str(measured["results"])
        )
        for job in logged:
            if job.rule in benchmarked:
                continue
            try:
                jobs.append(logged_to_benchmark(job, measured, durations, "log"))
            except CostError as exc:
                skipped.append(f"log job {job.rule} {dict(job.wildcards)}: {exc}")
    models = fit_cost_models(jobs)

    audio = {}
    for name in used_datasets(full):
        found = full_dataset_audio(name, full, measured, durations)
        if found is not None:
            audio[name] = found
    planned = plan_jobs(full, audio)
    estimates = estimate(planned, models, full, measured)
    decl = workflow_rule_declarations(rule_dir)
    for e in estimates:  # say why a rule without benchmark files has none
        if e.model is None and e.rule in decl and not decl[e.rule]["benchmark"]:
            e.caveats[0] = "not measured: the rule declares no benchmark: directive"
    summary = summarise(estimates)

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
        f"Timings are CPU wall seconds on {measured_on}, with device `{measured.get('device')}` in the "
        "measured config. GPU timings are not measured here: on a GPU machine the rules that request a "
        f"GPU ({', '.join(gpu_rules)}) will take a different (usually much smaller) time.",
        "Jobs ran concurrently (Snakemake filled every core), so a job's wall time includes contention; "
        "totals are sums of job wall times (serial time), not the wall-clock time of a parallel run.",
        "A rule x codec measured on fewer than "
        f"{MIN_FIT_DURATIONS} distinct job durations has no separable per-job overhead: its "
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
    missing_audio = sorted(set(used_datasets(full)) - set(audio))
    if missing_audio:
        caveats.append(f"Audio of {missing_audio} unknown: their audio-scaled jobs are not estimated.")
    measured_jobs = sum(r.jobs_measured for r in summary)
    report: dict[str, Any] = {
        "results": str(results),
        "measured_config": str(measured_config),
        "full_config": full_config,
        "measured_on": measured_on,
        "n_benchmark_files": n_bench,
        "snakemake_logs": [str(p) for p in snakemake_logs],
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


def json_safe(obj: Any) -> Any:
    """NaN is not JSON: write null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj
