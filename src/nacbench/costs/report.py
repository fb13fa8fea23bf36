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
from nacbench.costs.benchmarks import BenchmarkJob, load_benchmarks, manifest_durations
from nacbench.costs.estimate import FIGURE_KINDS, RuleCodecEstimate, estimate, label_figures, summarise
from nacbench.costs.fit import MIN_FIT_DURATIONS, CostModel, fit_cost_models
from nacbench.costs.gpu import GpuFigures, gpu_cost_models
from nacbench.costs.jobs import full_dataset_audio, plan_jobs, used_datasets, with_seeds
from nacbench.costs.machine import MODEL_TEXT, Makespan, TargetMachine, makespan
from nacbench.costs.records import fit_record_models, load_startup_records
from nacbench.costs.runlog import latest_logged_jobs, logged_to_benchmark, parse_snakemake_log
from nacbench.costs.workflow import workflow_rule_declarations
from nacbench.plan import Config

#: the note a regression model carries when the measured run wrote no startup records for its group
FALLBACK_NOTE = "fallback: no startup records, per-job overhead fitted by regression"


def _h(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.2f}"


def _mem(mib: float) -> str:
    return "—" if not math.isfinite(mib) else (f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:.0f} MiB")


def _spread_text(bounds: Sequence[float] | None, digits: int) -> str:
    """`` (low–high)`` of a measured spread, empty when there is none to show at ``digits``."""
    if not bounds or f"{bounds[0]:.{digits}f}" == f"{bounds[1]:.{digits}f}":
        return ""
    return f" ({bounds[0]:.{digits}f}–{bounds[1]:.{digits}f})"


def _model_text(m: CostModel | None) -> str:
    if m is None:
        return "—"
    fallback = ", regression fallback" if m.note.startswith(FALLBACK_NOTE) else ""
    if m.method == "per-job":
        what = "GPU check" if m.source == "gpu_check" else "median"
        return f"{m.overhead_s:.1f}{_spread_text(m.overhead_range_s, 1)} s/job ({what}{fallback})"
    span = f", jobs of {m.audio_range_s[0]:.0f}–{m.audio_range_s[1]:.0f} s audio" if m.audio_range_s else ""
    overhead = f"{m.overhead_s:.1f}{_spread_text(m.overhead_range_s, 1)} s"
    rate = f"{m.rate:.4f}{_spread_text(m.rate_range, 4)}"
    return f"{overhead} + {rate} × audio s ({m.method}{fallback}{span})"


def _range_text(bounds: Sequence[float] | None, value: float | None, digits: int = 2) -> str:
    """`` (low–high)`` when an estimate could not separate overhead from rate; empty otherwise."""
    if not bounds or value is None or (abs(bounds[0] - value) < 1e-9 and abs(bounds[1] - value) < 1e-9):
        return ""
    return f" ({bounds[0]:.{digits}f}–{bounds[1]:.{digits}f})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The README section: summary per rule, details per rule x codec, sources and caveats."""
    seeds = f" Seeds per channel: {report['seeds']} (--seeds)." if report.get("seeds") else ""
    rec = report["startup_records"]
    lines = [
        f"Full configuration `{report['full_config']}`: **{report['total_jobs']} jobs** "
        f"(without the target rule `all`).{seeds} Measured run: `{report['results']}` "
        f"({report['n_benchmark_files']} benchmark files, {rec['n_records']} startup records"
        + (f"; Snakemake logs {', '.join(report['snakemake_logs'])}" if report["snakemake_logs"] else "")
        + f"), on {report['measured_on']}."
        + (f" GPU figures: `{report['gpu_figures']['path']}`." if report["gpu_figures"] else ""),
        "",
        "| rule | jobs | serial wall time estimate (h) | figures | measured on (codec, measured jobs) | memory peak |",
        "|---|---:|---:|---|---|---:|",
    ]
    for r in report["rules"]:
        if r["wall_h"] is None:
            est = "not measured"
        else:
            est = f"{r['wall_h']:.2f}" if r["complete"] else f"≥ {r['wall_h']:.2f}"
            est += _range_text(r["range_h"], r["wall_h"])
        gpu = " (GPU rule)" if r["gpu"] else ""
        lines.append(
            f"| {r['rule']}{gpu} | {r['jobs']} | {est} | {_cell(r['figures'] or '—')} | {_cell(r['measured_on'])} | "
            f"{_mem(r['max_rss_mb'])} |"
        )
    t = report["totals"]
    lines.append(
        f"| **total** | **{report['total_jobs']}** | **≥ {t['wall_h']:.1f}**{_range_text(t['range_h'], t['wall_h'], 1)} | | "
        f"{t['jobs_measured']} of {report['total_jobs']} jobs measured | |"
    )
    lines += _target_lines(report["target"])
    lines += [
        "",
        "Per rule × codec (the model is `wall s per job = overhead + rate × audio s`; the overhead is "
        "measured by the jobs' startup records where the run wrote them, else fitted by regression; "
        "GPU figures come from the GPU check; audio is the full configuration's):",
        "",
        "| rule | codec | jobs | audio (h) | audio per job (s) | model | figures | measured jobs | estimate (h) | caveats |",
        "|---|---|---:|---:|---:|---|---|---:|---:|---|",
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
            f"{e['figures'] or '—'} | {m['n_jobs'] if m else 0} | {total} | {_cell('; '.join(e['caveats']))} |"
        )
    lines += ["", "Audio of the full configuration:", ""]
    lines += [
        f"- `{d['name']}`: {d['n_utterances']} utterances, {d['total_s']:.0f} s ({d['total_s'] / 3600:.2f} h); "
        f"source: {d['source']}"
        for d in report["datasets"]
    ]
    lines += ["", "Caveats:", ""] + [f"- {c}" for c in report["caveats"]]
    if report["skipped"]:
        lines += ["", "Benchmark files and startup records not used:", ""] + [
            f"- `{s}`" for s in report["skipped"]
        ]
    return "\n".join(lines) + "\n"


def _target_lines(target: Mapping[str, Any]) -> list[str]:
    """The target machine's wall-time estimate, its model, and which figures are CPU stand-ins."""
    m = target["machine"]
    mem = f", {m['gpu_mem_mb'] / 1024:.0f} GiB GPU memory" if m["gpu_mem_mb"] else ", GPU memory not given"
    low, point, high = (x / 3600 for x in target["wall_s"])
    gpu, cpu = (x[1] / 3600 for x in (target["gpu_s"], target["cpu_s"]))
    lines = [
        "",
        f"**Target machine: {m['gpus']} GPU(s){mem}, {m['cores']} cores — wall time ≥ {point:.2f} h"
        f"{_range_text((low, high), point)}**, {target['bound']}-bound (GPU-bound {gpu:.2f} h, CPU-bound {cpu:.2f} h; "
        "measured jobs only).",
        "",
        f"Model: {MODEL_TEXT}",
    ]
    gpu_rows = [s for s in target["shares"] if s["pool"] == "gpu"]
    if gpu_rows:
        lines += [
            "",
            "| GPU rule | codec | figures | GPU memory per job | side by side | start-ups (h) | work (h) "
            "| GPU-bound share (h) |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for sh in gpu_rows:
            mem_mb = sh["gpu_mem_mb"]
            lines.append(
                f"| {sh['rule']} | {sh['codec'] or '—'} | {sh['figures']} | "
                f"{_mem(mem_mb if mem_mb is not None else math.nan)} | {sh['slots']} | "
                f"{sh['fixed_s'][1] / 3600:.2f} | {sh['work_s'][1] / 3600:.2f} | {sh['makespan_s'][1] / 3600:.2f} |"
            )
    standins = target["cpu_standins"]
    lines += [
        "",
        "CPU measurements standing in for GPU ones: "
        + ("; ".join(standins) if standins else "none")
        + ". Their time is the CPU's, usually far more than a GPU's (an upper bound for those jobs).",
    ]
    return lines


def _measured_models(
    results: Path,
    measured: Config,
    durations: Mapping[str, Any],
    jobs: list[BenchmarkJob],
    skipped: list[str],
) -> tuple[dict[tuple[str, str | None], CostModel], dict[str, Any]]:
    """Per rule x codec: the startup records' model where the run wrote records, else the regression
    on the benchmark files (its note says it is the fallback). Also what the records contributed."""
    records, record_skips = load_startup_records(results, measured, durations)
    skipped += record_skips
    fitted = fit_cost_models(jobs) if jobs else {}
    from_records = fit_record_models(records, jobs)
    fallback = sorted((k for k in fitted if k not in from_records), key=lambda k: (k[0], k[1] or ""))
    models = {
        k: dataclasses.replace(m, note=f"{FALLBACK_NOTE}; {m.note}" if m.note else FALLBACK_NOTE)
        for k, m in fitted.items()
        if k in fallback
    }
    models.update(from_records)
    info = {
        "n_records": len(records),
        "groups": [f"{r} × {c or '—'}" for r, c in from_records],
        "fallback": [f"{r} × {c or '—'}" for r, c in fallback],
    }
    return models, info


def _records_caveat(info: Mapping[str, Any]) -> str:
    if not info["n_records"]:
        return (
            "The measured run wrote no startup records (a run from before them): every per-job overhead "
            "is FITTED by regression (fallback), not measured."
        )
    text = (
        f"Per-job overheads are MEASURED by {info['n_records']} startup records (median fixed cost; range "
        "min–max) for: " + ", ".join(info["groups"]) + "; their rate is the median of (wall − fixed) / audio."
    )
    if info["fallback"]:
        text += " No records, so FITTED by regression (fallback): " + ", ".join(info["fallback"]) + "."
    return text


def _target(
    estimates: Sequence[RuleCodecEstimate], gpu_rules: Sequence[str], target: TargetMachine
) -> dict[str, Any]:
    span: Makespan = makespan(estimates, gpu_rules, target)
    figures = {(e.rule, e.codec): e.figures for e in estimates}
    gpu_mem = {(e.rule, e.codec): e.model.gpu_mem_mb if e.model else math.nan for e in estimates}
    standins = [
        f"{e.rule} × {e.codec or '—'}" for e in estimates if e.figures == FIGURE_KINDS[3] and e.measured
    ]
    return {
        "machine": dataclasses.asdict(target),
        "gpu_s": span.gpu_s,
        "cpu_s": span.cpu_s,
        "wall_s": span.wall_s,
        "bound": span.bound,
        "model": MODEL_TEXT,
        "shares": [
            {
                **dataclasses.asdict(sh),
                "figures": figures[(sh.rule, sh.codec)],
                "gpu_mem_mb": gpu_mem[(sh.rule, sh.codec)],
            }
            for sh in span.shares
        ],
        "cpu_standins": standins,
    }


def build_report(
    results: Path,
    measured: Config,
    measured_config: Path,
    full: Config,
    full_config: str,
    measured_on: str,
    rule_dir: Path,
    snakemake_logs: Sequence[Path] = (),
    gpu_figures: GpuFigures | None = None,
    target: TargetMachine | None = None,
    seeds: int | None = None,
) -> dict[str, Any]:
    """The estimate of ``full`` from the run in ``results`` (configuration ``measured``), JSON-able.

    ``full_config`` and ``measured_on`` only label the report; ``rule_dir`` holds the workflow's rule
    files (which rules declare a benchmark or a GPU); ``snakemake_logs`` (oldest first) time the rules
    that wrote no benchmark file. The jobs' startup records, where the run wrote them, give the per-job
    overheads (else the regression, labelled as the fallback). ``gpu_figures`` (the GPU check) replace
    the CPU timings of the GPU rules where it measured them; ``target`` is the machine whose wall time
    is estimated (default 1 GPU, 16 cores); ``seeds`` runs every channel under that many seeds.
    Raises :class:`CostError` when the run has nothing to measure.
    """
    target = target or TargetMachine()
    if seeds is not None:
        full = with_seeds(full, seeds)
    bench_dir = artifacts.job_folder(results, "benchmarks")
    jobs: list[BenchmarkJob] = []
    skipped: list[str] = []
    durations = manifest_durations(results, measured)
    if bench_dir.is_dir():
        jobs, skipped = load_benchmarks(results, measured, durations)
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
    models, records = _measured_models(results, measured, durations, jobs, skipped)
    if not models:
        if not bench_dir.is_dir():
            raise CostError(
                f"{bench_dir}: no benchmark folder and no startup records; run the workflow first"
            )
        raise CostError(f"{bench_dir}: no usable benchmark TSV or startup record ({len(skipped)} skipped)")

    audio = {}
    for name in used_datasets(full):
        found = full_dataset_audio(name, full, measured, durations)
        if found is not None:
            audio[name] = found
    decl = workflow_rule_declarations(rule_dir)
    gpu_rules = sorted(r for r, d in decl.items() if d["gpu"])
    if gpu_figures is not None:
        models.update(gpu_cost_models(gpu_figures, gpu_rules, full, audio))
    planned = plan_jobs(full, audio)
    estimates = estimate(planned, models, full, measured)
    for e in estimates:  # say why a rule that measures nothing has no model
        if e.model is None and e.rule in decl and not decl[e.rule]["measured"]:
            e.caveats[0] = "not measured: the rule writes no startup record and declares no benchmark"
    label_figures(estimates, gpu_rules)
    summary = summarise(estimates)
    target_report = _target(estimates, gpu_rules, target)

    random_codecs = sorted(n for n, o in measured["codecs"].items() if o.get("random_weights"))
    unmeasured = sorted(r for r, d in decl.items() if not d["measured"])
    if gpu_figures is None:
        gpu_caveat = (
            f"Timings are CPU wall seconds on {measured_on}, with device `{measured.get('device')}` in the "
            "measured config. No GPU figures were given (--gpu-figures): on a GPU machine the rules that "
            f"request a GPU ({', '.join(gpu_rules)}) will take a different (usually much smaller) time; "
            "their rows say 'CPU stand-in for GPU'."
        )
    else:
        gpu_caveat = (
            f"GPU figures from {gpu_figures.path} ({gpu_figures.describe()}) replace the CPU timings of "
            "the GPU rules they cover (figures 'GPU'; 'GPU machine, CPU codec' for a codec that computes on "
            "the CPU there). Rows marked 'CPU stand-in for GPU' had no GPU figure and keep the CPU wall "
            f"seconds measured on {measured_on}. A GPU figure times the model alone (synchronised, after "
            "warm-up): reading and writing audio is not in it."
        )
        if gpu_figures.skipped:
            gpu_caveat += " The GPU check skipped: " + "; ".join(gpu_figures.skipped) + "."
    caveats = [
        _records_caveat(records),
        f"Codecs with RANDOM weights in the measured run: {', '.join(random_codecs) or 'none'}. Where their "
        "options match the full configuration the architecture is the published one, so compute cost is "
        "representative while the audio they produce is not. Where options differ (flagged 'options "
        "differ', e.g. a reduced random encoder), the measurement is NOT representative of the full run.",
        "Other work may have shared the machine during the measured run (e.g. test-suite workflow runs); "
        "its wall times then include that contention.",
        gpu_caveat,
        "Jobs ran concurrently (Snakemake filled every core), so a job's wall time includes contention; "
        "the 'serial' totals are sums of job wall times; the target machine's wall time is the model above.",
        "A rule x codec measured on fewer than "
        f"{MIN_FIT_DURATIONS} distinct job durations and without startup records has no separable per-job "
        "overhead: its estimate attributes all time to the per-audio-second rate (`rate-only`), and the "
        "range in brackets runs from 'all time is per-job overhead' to 'all time is per audio second' (any "
        "cost a + b x audio with a, b >= 0 lies between). Elsewhere a range runs from the lowest measured "
        "fixed cost and rate to the highest.",
        f"Rules whose jobs write no startup record (nor a `benchmark:`): {', '.join(unmeasured)}. Not "
        "measured unless a Snakemake log is "
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
        "seeds": seeds,
        "measured_on": measured_on,
        "n_benchmark_files": n_bench,
        "startup_records": records,
        "gpu_figures": None
        if gpu_figures is None
        else {
            "path": gpu_figures.path,
            "machine": dict(gpu_figures.machine),
            "quick": gpu_figures.quick,
            "skipped": list(gpu_figures.skipped),
        },
        "snakemake_logs": [str(p) for p in snakemake_logs],
        "total_jobs": sum(r.jobs for r in summary),
        "totals": {
            "wall_h": sum(r.wall_h or 0.0 for r in summary),
            "range_h": [sum(r.range_h[0] for r in summary), sum(r.range_h[1] for r in summary)],
            "jobs_measured": measured_jobs,
        },
        "target": target_report,
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
                "figures": e.figures,
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
