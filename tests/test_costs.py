"""Cost extrapolation (nacbench.costs): benchmark parsing, the overhead + rate fit, job planning, and
the planned job counts against the workflow's own dry run."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from nacbench import plan
from nacbench.artifacts import JobPath, startup_file
from nacbench.costs import CostError
from nacbench.costs.benchmarks import (
    BenchmarkJob,
    load_benchmarks,
    parse_benchmark_path,
    read_benchmark_tsv,
    shard_audio_seconds,
)
from nacbench.costs.estimate import RuleCodecEstimate, estimate, run_caveats, summarise
from nacbench.costs.fit import CostModel, fit_cost_model, fit_cost_models
from nacbench.costs.gpu import (
    GPU_FIGURES_SCHEMA,
    GPU_FIGURES_VERSION,
    GpuFiguresError,
    gpu_cost_models,
    read_gpu_figures,
)
from nacbench.costs.jobs import DatasetAudio, full_dataset_audio, job_counts, plan_jobs, with_seeds
from nacbench.costs.machine import TargetMachine, makespan
from nacbench.costs.records import StartupRecordError, fit_record_models, load_startup_records
from nacbench.costs.runlog import latest_logged_jobs, logged_to_benchmark, parse_snakemake_log
from nacbench.costs.workflow import (
    dry_run_job_counts,
    parse_job_stats,
    rule_declarations,
    workflow_rule_declarations,
)
from nacbench.data.manifest import MANIFEST_COLUMNS, select_shard
from nacbench.startup import RECORD_VERSION

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "estimate_full_run.py"
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_tsv(path: Path, rows: list[tuple[float, str, str]]) -> None:
    """A Snakemake benchmark TSV with the given (s, max_rss, cpu_time) rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{s:.4f}\t0:00:01\t{rss}\t1.0\t1.0\t1.0\t0.0\t0.0\t50.0\t{cpu}\n" for s, rss, cpu in rows)
    path.write_text(HEADER + body)


def small_config(**over: Any) -> dict[str, Any]:
    """Just the keys nacbench.plan reads, with a labelling study and a Study B."""
    config: dict[str, Any] = {
        "results": "results",
        "data": {
            "libri": {"reader": "librispeech", "subset": "test-clean", "root": None, "shards": 3},
            "arctic": {
                "reader": "cmu_arctic",
                "root": "/local/arctic",
                "speakers": ["a", "b"],
                "utterances_per_speaker": 5,
                "shards": 2,
            },
        },
        "codecs": {"x": {"adapter": "dac"}, "y": {"adapter": "encodec"}, "z": {"adapter": "neucodec"}},
        "fit": {"dataset": "arctic", "utterances": 10},
        "study_a": {
            "dataset": "libri",
            "codecs": ["x", "y"],
            "channels": {"bsc": {"p_flip": [0.01, 0.1], "seeds": [0]}, "ge": None},
        },
        "study_labelling": {"codecs": ["x"], "labellings": ["natural", "gray", "random"]},
        "study_b": {
            "dataset": "arctic",
            "rows": [{"encoder": "E", "decoder": "D", "codec": "z"}],
            "reference_codec": "z",
            "distilled_codec": "y",
            "extra_codecs": [],
            "asr": {"backend": "openai-whisper", "model": "large-v3"},
            "enc_rtf": {"repeats": 5, "utterances": 20},
        },
    }
    config.update(over)
    return config


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("encode/x/libri/002.tsv", JobPath("benchmarks", "encode", "x", "libri", None, "002")),
        (
            "decode/x/libri/bsc-p0.01-seed0/001.tsv",
            JobPath("benchmarks", "decode", "x", "libri", "bsc-p0.01-seed0", "001"),
        ),
        ("asr_reference/arctic/000.tsv", JobPath("benchmarks", "asr_reference", None, "arctic", None, "000")),
        ("manifest/libri.tsv", JobPath("benchmarks", "manifest", None, "libri")),
        ("labelling/x/gray.tsv", JobPath("benchmarks", "labelling", "x", other="gray")),
    ],
)
def test_parse_benchmark_path(rel: str, expected: JobPath) -> None:
    results = Path("results")
    path = results / "benchmarks" / rel
    assert parse_benchmark_path(path, results, {"libri", "arctic"}, {"x", "y"}) == expected


def test_parse_benchmark_path_rejects_shard_without_dataset() -> None:
    with pytest.raises(CostError, match="without a configured dataset"):
        parse_benchmark_path(Path("r/benchmarks/encode/x/unknown/000.tsv"), Path("r"), {"libri"}, {"x"})


def test_read_benchmark_tsv_median_max_and_na(tmp_path: Path) -> None:
    path = tmp_path / "b.tsv"
    write_tsv(path, [(10.0, "100.0", "4.0"), (30.0, "300.0", "NA"), (20.0, "NA", "6.0")])
    got = read_benchmark_tsv(path)
    assert got == {"wall_s": 20.0, "cpu_s": 5.0, "max_rss_mb": 300.0}
    write_tsv(path, [(0.5, "NA", "NA")])  # a job faster than Snakemake's sampling interval
    got = read_benchmark_tsv(path)
    assert got["wall_s"] == 0.5 and math.isnan(got["max_rss_mb"]) and math.isnan(got["cpu_s"])


def test_read_benchmark_tsv_names_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(CostError, match="bad.tsv"):
        read_benchmark_tsv(path)


def test_shard_audio_matches_select_shard() -> None:
    durations = np.arange(1.0, 12.0)
    df = pd.DataFrame({"duration_s": durations})
    for shard in range(4):
        expected = select_shard(df, shard, 4)["duration_s"].sum()
        assert shard_audio_seconds(durations, shard, 4) == pytest.approx(expected)


# ---------------------------------------------------------------- fitting


def test_fit_recovers_known_overhead_and_rate(tmp_path: Path) -> None:
    """Jobs timed as exactly 7 s + 0.25 s per audio second: the fit returns those two numbers."""
    a, b = 7.0, 0.25
    config = small_config()
    config["data"]["libri"]["shards"] = 4
    durations = {"libri": np.linspace(2.0, 30.0, 23), "arctic": np.full(10, 3.0)}
    bench = tmp_path / "benchmarks"
    for shard in range(4):
        audio = shard_audio_seconds(durations["libri"], shard, 4)
        for channel in ("clean", "bsc-p0.01-seed0"):
            write_tsv(bench / f"decode/x/libri/{channel}/{shard:03d}.tsv", [(a + b * audio, "512.0", "1.0")])
    write_tsv(bench / "decode/x/arctic/clean/000.tsv", [(a + b * 15.0, "900.0", "1.0")])
    write_tsv(bench / "labelling/x/gray.tsv", [(3.0, "50.0", "3.0")])
    write_tsv(bench / "labelling/x/random.tsv", [(5.0, "60.0", "5.0")])

    jobs, skipped = load_benchmarks(tmp_path, config, durations)
    assert skipped == []
    models = fit_cost_models(jobs)
    decode = models[("decode", "x")]
    assert decode.method == "least-squares" and decode.n_jobs == 9
    assert decode.overhead_s == pytest.approx(a, abs=1e-3)  # the TSV keeps 4 decimals
    assert decode.rate == pytest.approx(b, abs=1e-5)
    assert decode.max_rss_mb == 900.0
    assert decode.datasets == ("arctic", "libri")
    assert decode.predict(100.0) == pytest.approx(a + b * 100.0)
    labelling = models[("labelling", "x")]
    assert labelling.method == "per-job" and labelling.overhead_s == 4.0
    assert labelling.predict(None) == 4.0


def test_fit_falls_back_to_rate_only_and_bounds_it() -> None:
    """Two distinct durations cannot separate overhead from rate: all time goes to the rate, and
    the range runs from all-overhead to all-rate."""
    key = JobPath("benchmarks", "encode", "x", "libri", None, "000")
    jobs = [
        BenchmarkJob(key, "p0", wall_s=10.0, cpu_s=20.0, max_rss_mb=1.0, audio_s=100.0),
        BenchmarkJob(key, "p1", wall_s=12.0, cpu_s=24.0, max_rss_mb=2.0, audio_s=100.0),
        BenchmarkJob(key, "p2", wall_s=30.0, cpu_s=60.0, max_rss_mb=3.0, audio_s=200.0),
    ]
    model = fit_cost_model(jobs)
    assert model.method == "rate-only" and "not separable" in model.note
    assert model.overhead_s == 0.0
    assert model.rate == pytest.approx(0.12)  # median of 0.10, 0.12, 0.15
    assert model.cpu_rate_median == pytest.approx(0.24)
    low, high = model.predict_range([1000.0, 1000.0])
    assert (low, high) == pytest.approx((2 * 12.0, 2 * 0.12 * 1000.0))


def test_fit_rejects_mixed_groups() -> None:
    jobs = [
        BenchmarkJob(JobPath("benchmarks", "encode", "x"), "a", 1.0, 1.0, 1.0, None),
        BenchmarkJob(JobPath("benchmarks", "encode", "y"), "b", 1.0, 1.0, 1.0, None),
    ]
    with pytest.raises(CostError, match="several rule x codec"):
        fit_cost_model(jobs)


# ---------------------------------------------------------------- planning


def test_job_counts_follow_plan_conditions() -> None:
    config = small_config()
    conds = plan.conditions(config)
    shards = {name: len(plan.shard_names(config, name)) for name in config["data"]}
    counts = job_counts(config)
    for rule in ("decode", "score"):  # the decode job transmits: no channel jobs for adapter codecs
        assert counts[rule] == sum(shards[c.dataset] for c in conds)
    assert counts["channel"] == 0
    encoded = {(c.codec, c.dataset) for c in conds} | {("x", "arctic")}  # x also encodes the fit set
    assert counts["encode"] == sum(shards[d] for _, d in encoded)
    assert counts["asr_decoded"] == len(plan.study_b_codecs(config)) * shards["arctic"]
    assert counts["asr_reference"] == shards["arctic"]
    assert counts["labelling"] == 2  # gray + random for codec x; natural needs no table
    assert counts["download_dataset"] == 1  # arctic has a local root
    assert counts["codec_info"] == 3 and counts["manifest"] == 2 and counts["code_analysis"] == 1
    # 2 codecs x (clean + 2 BSC) + x's 2 extra labellings x 2 BSC on libri, z and y clean on arctic
    assert len(conds) == 2 * 3 + 2 * 2 + 2
    assert counts["decode"] == (6 + 4) * 3 + 2 * 2


def test_job_counts_without_optional_studies() -> None:
    config = small_config()
    config["study_labelling"]["codecs"] = []
    config["study_b"].update(rows=[], reference_codec=None, distilled_codec=None)
    counts = job_counts(config)
    assert not {"labelling", "codewords", "asr_reference", "asr_decoded", "table2", "code_analysis"} & set(
        counts
    )
    assert counts["decode"] == 2 * 3 * 3


def test_planned_audio_adds_up_to_the_dataset() -> None:
    config = small_config()
    audio = {"libri": DatasetAudio("libri", 10, 100.0, "test")}
    jobs = [j for j in plan_jobs(config, audio) if (j.rule, j.codec, j.dataset) == ("encode", "x", "libri")]
    assert [j.shard for j in jobs] == ["000", "001", "002"]
    assert [j.audio_s for j in jobs] == pytest.approx([40.0, 30.0, 30.0])  # 4, 3, 3 utterances of 10 s


def test_full_dataset_audio_sources() -> None:
    full, measured = small_config(), small_config()
    measured["data"] = {
        "libri": {**full["data"]["libri"], "root": "/subset"},
        "arctic": {**full["data"]["arctic"], "speakers": ["a"]},
    }
    durations = {"libri": np.ones(5), "arctic": np.array([2.0, 4.0])}
    libri = full_dataset_audio("libri", full, measured, durations)
    assert (libri.n_utterances, libri.total_s) == (2620, 19452.0) and "Panayotov" in libri.source
    arctic = full_dataset_audio("arctic", full, measured, durations)
    assert (arctic.n_utterances, arctic.total_s) == (10, 30.0) and "mean duration 3.00 s" in arctic.source
    same = full_dataset_audio("arctic", full, full, durations)  # same selection: the manifest itself
    assert (same.n_utterances, same.total_s) == (2, 6.0)
    # options left to their reader's defaults count as the reader counts them (100 per speaker, test-clean)
    del full["data"]["arctic"]["utterances_per_speaker"], full["data"]["libri"]["subset"]
    assert full_dataset_audio("arctic", full, measured, durations).n_utterances == 200
    assert full_dataset_audio("libri", full, measured, durations).n_utterances == 2620


def test_estimate_never_borrows_from_another_codec() -> None:
    full, measured = small_config(), small_config()
    measured["codecs"] = {"x": {"adapter": "dac", "random_weights": True}}
    audio = {"libri": DatasetAudio("libri", 9, 90.0, "test")}
    planned = [j for j in plan_jobs(full, audio) if j.rule == "encode" and j.dataset == "libri"]
    model = CostModel(
        rule="encode",
        codec="x",
        n_jobs=3,
        method="least-squares",
        overhead_s=2.0,
        rate=0.5,
        rate_median=0.6,
        cpu_rate_median=1.0,
        max_rss_mb=10.0,
        rms_residual_s=0.0,
        wall_median_s=10.0,
        datasets=("libri",),
    )
    est = {e.codec: e for e in estimate(planned, {("encode", "x"): model}, full, measured)}
    assert est["x"].wall_s == pytest.approx(3 * 2.0 + 0.5 * 90.0)
    assert "random weights" in est["x"].caveats
    assert est["y"].wall_s is None and "was not in the measured run" in est["y"].caveats[0]
    rows = summarise(list(est.values()))
    assert len(rows) == 1 and rows[0].jobs == 6 and rows[0].jobs_measured == 3 and not rows[0].complete
    assert rows[0].wall_h == pytest.approx(51.0 / 3600) and "not measured: y" in rows[0].measured_on
    assert rows[0].measured_on.startswith("x (3 jobs)")

    measured["codecs"]["x"]["random_semantic_layers"] = 2  # a reduced stand-in is not the full codec
    est = estimate(planned, {("encode", "x"): model}, full, measured)
    assert any("random_semantic_layers: full None vs measured 2" in c for c in est[0].caveats)
    assert summarise(est)[0].measured_on.startswith("x (3 jobs, options differ)")


def test_asr_model_difference_is_flagged() -> None:
    full, measured = small_config(), small_config()
    measured["study_b"] = {**full["study_b"], "asr": {"backend": "faster-whisper", "model": "tiny.en"}}
    caveats = run_caveats("asr_reference", None, full, measured)
    assert any("tiny.en" in c and "large-v3" in c for c in caveats)
    assert run_caveats("asr_reference", None, full, full) == []


# ---------------------------------------------------------------- log and rule files

LOG = """\
[Tue Nov 24 01:07:58 2026]
localrule channel:
    input: results/codes/x/libri/000.npz
    output: results/channel/x/libri/clean/000.npz
    jobid: 7
    wildcards: codec=x, dataset=libri, channel=clean, shard=000
    resources: tmpdir=/tmp
[Tue Nov 24 01:08:01 2026]
rule decode:
    output: other/audio/x/libri/clean/000, other/listen/x/libri/clean/000
    jobid: 8
    wildcards: codec=x, dataset=libri, channel=clean, shard=000
[Tue Nov 24 01:08:04 2026]
Finished jobid: 7 (Rule: channel)
[Tue Nov 24 01:08:30 2026]
Finished jobid: 8 (Rule: decode)
[Tue Nov 24 01:08:31 2026]
localrule table3:
    output: results/tables/table3.csv
    jobid: 9
[Tue Nov 24 01:08:32 2026]
Error in rule table3:
"""


def test_parse_snakemake_log_times_finished_jobs() -> None:
    jobs = parse_snakemake_log(LOG)
    assert [(j.rule, j.wall_s) for j in jobs] == [("channel", 6.0), ("decode", 29.0)]  # table3 failed
    kept = latest_logged_jobs([jobs], "results")
    assert [j.rule for j in kept] == ["channel"]  # decode wrote outside results/
    config = small_config()
    job = logged_to_benchmark(kept[0], config, {"libri": np.arange(9.0)}, "log")
    assert job.key == JobPath("logs", "channel", "x", "libri", "clean", "000")
    assert job.audio_s == pytest.approx(0 + 3 + 6) and job.source == "log" and math.isnan(job.max_rss_mb)


def test_rule_declarations() -> None:
    text = """
rule a:
    output: "x"
    benchmark:
        bench_path("a")
    resources:
        gpu=1,
        gpu_mem_mb=gpu_mem_of("dac"),

rule b:
    output: "y"
    resources:
        mem_mb=10,

rule c:
    output: "z"
    log:
        **job_logs("c"),
"""
    assert rule_declarations(text) == {
        "a": {"measured": True, "gpu": True, "gpu_mem": True},
        "b": {"measured": False, "gpu": False, "gpu_mem": False},
        "c": {"measured": True, "gpu": False, "gpu_mem": False},
    }
    assert rule_declarations("# no rules") == {}


# ---------------------------------------------------------------- the plan against the workflow's DAG

JOB_STATS = """\
Building DAG of jobs...
Job stats:
job            count
-----------  -------
encode             4
decode            12
all                1
total             17

Job stats:
job            count
"""


def test_parse_job_stats_reads_the_first_table() -> None:
    assert parse_job_stats(JOB_STATS) == {"encode": 4, "decode": 12, "all": 1}


def test_parse_job_stats_refuses_a_misread_table() -> None:
    with pytest.raises(CostError, match="add up to 16, total row says 17"):
        parse_job_stats(JOB_STATS.replace("decode            12", "decode            11"))
    with pytest.raises(CostError, match="no 'Job stats:' table"):
        parse_job_stats("Error in rule x", source="dry run")


def merged_config(*paths: Path) -> dict[str, Any]:
    """The configuration Snakemake runs: config.yaml, then each --configfile on top."""
    config: dict[str, Any] = {}
    for path in (REPO / "config.yaml", *paths):
        update_config(config, yaml.safe_load(path.read_text()))
    return config


@pytest.mark.parametrize("overlay", [None, "configs/offline.yaml", "configs/quick.yaml"])
def test_planned_job_counts_match_the_dry_run(overlay: str | None) -> None:
    """The estimator's job list per rule is the DAG's (``snakemake -n --forceall``), for every shipped
    configuration: a rule added to the workflow, or a target changed, without the planner following
    fails here. The full configuration's dry run takes ~10-20 s on the 2-core machine."""
    overlays = [REPO / overlay] if overlay else []
    dag = dry_run_job_counts(overlays, REPO)
    planned = job_counts(merged_config(*overlays))
    assert dict(sorted(planned.items())) == dict(sorted(dag.items()))


def test_planned_job_counts_follow_the_fit_set(tmp_path: Path) -> None:
    """A labelling codec that no other study runs on the fit dataset still encodes the fit set: the
    planner counts those encode jobs as the DAG does."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"study_labelling": {"codecs": ["lyra", "dac"]}}))
    overlays = [REPO / "configs/offline.yaml", overlay]
    dag = dry_run_job_counts(overlays, REPO)
    assert dict(sorted(job_counts(merged_config(*overlays)).items())) == dict(sorted(dag.items()))


# ---------------------------------------------------------------- the command line


def write_manifest_tsv(path: Path, durations: np.ndarray) -> None:
    lines = ["\t".join(MANIFEST_COLUMNS)]
    lines += [f"u{i}\tspk\t/a/u{i}.flac\t{float(d)!r}\t16000\tWORDS" for i, d in enumerate(durations)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_estimate_full_run_script_writes_the_report(tmp_path: Path) -> None:
    """benchmarks/estimate_full_run.py on a measured run of three encode jobs: the fitted model is
    applied to the full configuration's encode jobs, everything else is reported as not measured."""
    spec = importlib.util.spec_from_file_location("estimate_full_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    results = tmp_path / "results"
    measured = small_config(results=str(results))
    measured["data"]["libri"]["root"] = "/a"  # a local subset: the full run is the published corpus
    (results / "report").mkdir(parents=True)
    (results / "report" / "config.yaml").write_text(yaml.safe_dump(measured))
    durations = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0])  # shards of 3: 10, 14 and 18 s
    write_manifest_tsv(results / "data" / "libri" / "manifest.tsv", durations)
    for shard in range(3):
        audio = shard_audio_seconds(durations, shard, 3)
        write_tsv(results / f"benchmarks/encode/x/libri/{shard:03d}.tsv", [(1.0 + 0.5 * audio, "100", "1")])
    full = tmp_path / "full.yaml"
    full_config = small_config()
    full_config["study_labelling"]["codecs"] = []  # x encodes libri only (no fit set)
    full.write_text(yaml.safe_dump(full_config))

    out = tmp_path / "estimate"
    argv = ["--results", str(results), "--full-config", str(full), "--measured-on", "test", "--out", str(out)]
    assert script.main(argv) == 0
    report = json.loads(Path(f"{out}.json").read_text())
    encode = next(e for e in report["estimates"] if (e["rule"], e["codec"]) == ("encode", "x"))
    # the full libri is LibriSpeech test-clean at its published size, in 3 shards
    assert encode["jobs"] == 3 and encode["audio_s"] == pytest.approx(19452.0)
    assert encode["wall_s"] == pytest.approx(3 * 1.0 + 0.5 * 19452.0, rel=1e-3)
    assert report["total_jobs"] == sum(job_counts(full_config).values())
    assert "| encode (GPU rule) | 10 | ≥ 2.70 |" in Path(f"{out}.md").read_text()  # 3 of 10 jobs measured
    with pytest.raises(SystemExit, match="no benchmark folder"):
        script.main(["--results", str(tmp_path), "--config", str(full), "--full-config", str(full)])


# ---------------------------------------------------------------- startup records, GPU figures, target machine


def write_record(path: Path, fixed_s: float, work_s: float, other_s: float = 0.0, **info: Any) -> None:
    """A startup record as nacbench.startup writes it: fixed phases summing to ``fixed_s``, then work."""
    phases = {"startup": 1.0, "imports": fixed_s - 1.0, "construct": 0.0, "weights": 0.0, "device": 0.0}
    record = {
        "version": RECORD_VERSION,
        "phases": {**phases, "work": work_s},
        "other_s": other_s,
        "wall_s": fixed_s + work_s + other_s,
        "fixed_s": fixed_s,
        "startup_measured": True,
        **info,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_startup_records_give_the_measured_overhead_and_a_rate_on_the_work(tmp_path: Path) -> None:
    """Fixed costs 5, 6 and 7 s and work at 0.25 s per audio second: the overhead is the median fixed
    cost with its min-max, the rate 0.25, and a job serving two conditions counts its audio twice."""
    config = small_config()
    durations = {"libri": np.linspace(2.0, 30.0, 23), "arctic": np.full(10, 3.0)}
    for shard, fixed in enumerate([5.0, 7.0, 6.0]):
        audio = shard_audio_seconds(durations["libri"], shard, 3)
        write_record(
            Path(startup_file(tmp_path, "encode", "x", "libri", f"{shard:03d}")),
            fixed,
            0.2 * audio,
            other_s=0.05 * audio,
            codec="x",
            device="cpu",
        )
    # a decode job that served two conditions of 40 s each: 80 s of work at 0.5 s per second
    write_record(
        Path(startup_file(tmp_path, "decode", "x", "libri", "clean", "000")),
        3.0,
        40.0,
        audio_s=40.0,
        conditions=["clean", "bsc-p0.01-seed0"],
    )
    write_record(Path(startup_file(tmp_path, "labelling", "x", "gray")), 2.0, 4.0)
    write_record(Path(startup_file(tmp_path, "decode", "x", "libri", "clean", "001")), 1.0, 1.0, failed=True)
    # a job whose code marks no phase: start-up, then everything is "other" (no fixed cost to read)
    write_record(Path(startup_file(tmp_path, "decode", "x", "libri", "clean", "002")), 1.0, 0.0, other_s=9.0)
    Path(tmp_path / "logs/encode/x/libri/000.log").write_text("a log is not a record\n")

    jobs, skipped = load_startup_records(tmp_path, config, durations)
    assert len(jobs) == 5 and len(skipped) == 2 and "the job failed" in skipped[0]
    assert "no phase marked" in skipped[1]
    rss = [
        BenchmarkJob(JobPath("benchmarks", "encode", "x", "libri", None, "000"), "p", 1.0, 1.0, 700.0, 1.0)
    ]
    models = fit_record_models(jobs, rss)
    encode = models[("encode", "x")]
    assert encode.method == "startup-records" and encode.source == "startup-record"
    assert encode.overhead_s == 6.0 and encode.overhead_range_s == (5.0, 7.0)
    assert encode.rate == pytest.approx(0.25) and encode.rate_range == pytest.approx((0.25, 0.25))
    assert encode.max_rss_mb == 700.0 and encode.device == "cpu"
    assert encode.predict(100.0) == pytest.approx(6.0 + 25.0)
    assert encode.predict_range([100.0, 100.0]) == pytest.approx((2 * 5.0 + 50.0, 2 * 7.0 + 50.0))
    decode = models[("decode", "x")]
    assert decode.rate == pytest.approx(0.5) and decode.overhead_s == 3.0 and "2 conditions" in decode.note
    labelling = models[("labelling", "x")]
    assert labelling.method == "per-job" and labelling.overhead_s == 6.0


def test_every_rule_that_does_work_writes_a_startup_record_not_a_benchmark() -> None:
    """Startup records replaced Snakemake's benchmark files in the pipeline's own rules (the benchmark's
    memory sampling cost Snakemake's process CPU): every rule that reads data, encodes, decodes, scores,
    transcribes or fits is still measured, and none samples."""
    rules = REPO / "workflow" / "rules"
    decl = workflow_rule_declarations(rules)
    working = ["manifest", "codec_info", "encode", "decode", "channel", "score", "asr_reference"]
    working += ["asr_decoded", "enc_rtf", "codewords", "labelling", "fit_latents", "fit_quantizer"]
    assert [rule for rule in working if not decl[rule]["measured"]] == []
    assert [p.name for p in rules.glob("*.smk") if re.search(r"^\s+benchmark\s*:", p.read_text(), re.M)] == []


def test_records_peak_memory_and_cpu_beat_the_benchmark_files(tmp_path: Path) -> None:
    """A record that holds ``max_rss_mb`` and ``cpu_s`` (records since issue 12's last round) gives the
    model's memory and CPU rate; a benchmark file's memory stands in only for older records."""
    config = small_config()
    durations = {"libri": np.full(4, 5.0), "arctic": np.full(10, 3.0)}  # 20 s per shard of one
    for shard, (rss, cpu) in enumerate([(900.0, 12.0), (1500.0, 8.0)]):
        path = Path(startup_file(tmp_path, "decode", "x", "libri", "clean", f"{shard:03d}"))
        write_record(path, 2.0, 10.0, max_rss_mb=rss, cpu_s=cpu, audio_s=20.0)
    write_record(Path(startup_file(tmp_path, "encode", "x", "libri", "000")), 2.0, 10.0, audio_s=20.0)
    jobs, _ = load_startup_records(tmp_path, config, durations)
    bench = [
        BenchmarkJob(JobPath("benchmarks", rule, "x", "libri", None, "000"), "p", 1.0, 1.0, 700.0, 1.0)
        for rule in ("decode", "encode")
    ]
    models = fit_record_models(jobs, bench)
    assert models[("decode", "x")].max_rss_mb == 1500.0
    assert models[("decode", "x")].cpu_rate_median == pytest.approx(0.5)  # median of 12/20 and 8/20
    assert models[("encode", "x")].max_rss_mb == 700.0  # an older record: the benchmark file's figure
    write_record(Path(startup_file(tmp_path, "encode", "x", "libri", "000")), 2.0, 1.0, max_rss_mb=-1.0)
    with pytest.raises(StartupRecordError, match="'max_rss_mb' must be a non-negative number of MB"):
        load_startup_records(tmp_path, config, durations)


def test_a_record_of_another_version_is_a_named_error(tmp_path: Path) -> None:
    path = Path(startup_file(tmp_path, "encode", "x", "libri", "000"))
    write_record(path, 1.0, 1.0)
    path.write_text(path.read_text().replace(f'"version": {RECORD_VERSION}', '"version": 99'))
    with pytest.raises(StartupRecordError, match=r"000\.startup\.json.*version"):
        load_startup_records(tmp_path, small_config(), {"libri": np.ones(6)})


def write_gpu_figures(path: Path, **over: Any) -> dict[str, Any]:
    """A GPU check's JSON with codec x on the GPU (encode 100 s in 0.5-1.0 s, decode 100 s in 0.25 s;
    start-up 20 s full, 10 s decode-only; 20 GB peak) and a faster-whisper ASR."""

    def timed(seconds: list[float]) -> dict[str, Any]:
        return {"audio_s": 100.0, "seconds": seconds, "batch_size": 8, "n_utterances": 10, "warmup": 1}

    def started(seconds: float) -> dict[str, Any]:
        return {
            "startup_s": seconds,
            "decode_only": True,
            "record": {"version": 1},
            "peak_reserved_mb": 1000.0,
        }

    data: dict[str, Any] = {
        "schema": GPU_FIGURES_SCHEMA,
        "version": GPU_FIGURES_VERSION,
        "quick": False,
        "machine": {
            "device": "cuda",
            "gpu_name": "NVIDIA H200",
            "gpu_memory_mb": 143_000.0,
            "torch": "2.11.0",
            "cuda": "13.0",
            "cpu_count": 16,
        },
        "codecs": {
            "x": {
                "adapter": "dac",
                "options": {"adapter": "dac", "random_weights": True},
                "device": "cuda:NVIDIA H200",
                "random_weights": True,
                "build_s": 3.0,
                "encode": {"exact": {**timed([0.5, 1.0, 0.75]), "batching": "exact"}},
                "decode": {"exact": {**timed([0.25]), "batching": "exact"}},
                "startup": {"full": started(20.0), "decode_only": started(10.0)},
                "gpu_memory_mb": {"peak_allocated": 15_000.0, "peak_reserved": 20_000.0},
            }
        },
        "asr": {
            "backend": "faster-whisper",
            "model": "tiny.en",
            "device": "cuda",
            "build_s": 1.0,
            "throughput": {**timed([2.0]), "batching": "batched"},
            "startup": {**started(5.0), "decode_only": False, "device_used_mb": 3000.0},
        },
        "skipped": [{"step": "y/startup/full", "reason": "would not fit the time budget"}],
    }
    data.update(over)
    path.write_text(json.dumps(data))
    return data


def test_gpu_figures_become_models_of_the_gpu_rules(tmp_path: Path) -> None:
    path = tmp_path / "gpu.json"
    write_gpu_figures(path)
    figures = read_gpu_figures(path)
    full = small_config()
    audio = {"arctic": DatasetAudio("arctic", 10, 40.0, "test")}
    rules = ["encode", "decode", "enc_rtf", "asr_reference", "asr_decoded"]
    models = gpu_cost_models(figures, rules, full, audio)
    encode, decode = models[("encode", "x")], models[("decode", "x")]
    assert (encode.overhead_s, encode.rate, encode.rate_range) == (20.0, 0.0075, (0.005, 0.01))
    assert (decode.overhead_s, decode.rate) == (10.0, 0.0025)  # the decode-only start-up
    assert encode.source == "gpu_check" and encode.gpu_mem_mb == 20_000.0 and encode.device.startswith("cuda")
    assert "random weights (published architecture: compute representative)" in encode.caveats
    # enc_rtf: start-up + (5 repeats + 1 warm-up) x 10 utterances of 4 s at 0.0075 s per second
    assert models[("enc_rtf", "x")].overhead_s == pytest.approx(20.0 + 6 * 40.0 * 0.0075)
    asr = models[("asr_reference", None)]
    assert (asr.overhead_s, asr.rate, asr.gpu_mem_mb) == (5.0, 0.02, 3000.0)
    assert any("tiny.en" in c and "large-v3" in c for c in asr.caveats)
    assert ("asr_decoded", "z") in models and ("encode", "y") not in models  # y has no figure
    assert "y/startup/full: would not fit the time budget" in figures.skipped


def test_gpu_figures_of_another_version_or_incomplete_are_named_errors(tmp_path: Path) -> None:
    path = tmp_path / "gpu.json"
    write_gpu_figures(path, version=GPU_FIGURES_VERSION + 1)
    with pytest.raises(GpuFiguresError, match="version"):
        read_gpu_figures(path)
    data = write_gpu_figures(path)
    del data["codecs"]["x"]["encode"]["exact"]["seconds"]
    path.write_text(json.dumps(data))
    with pytest.raises(GpuFiguresError, match=r"codecs\.x\.encode\.exact: missing field 'seconds'"):
        read_gpu_figures(path)


def _estimate(
    rule: str, codec: str | None, jobs: int, audio: float | None, model: CostModel
) -> RuleCodecEstimate:
    audio_each = None if audio is None else audio / jobs
    wall = sum(model.predict(audio_each) for _ in range(jobs))
    bounds = model.predict_range([audio_each] * jobs)
    return RuleCodecEstimate(rule, codec, jobs, audio, wall, model, wall_range_s=bounds)


def _model(rule: str, overhead: float, rate: float, **over: Any) -> CostModel:
    fields: dict[str, Any] = {
        "rule": rule,
        "codec": "x",
        "n_jobs": 3,
        "method": "startup-records",
        "overhead_s": overhead,
        "rate": rate,
        "rate_median": rate,
        "cpu_rate_median": math.nan,
        "max_rss_mb": math.nan,
        "rms_residual_s": 0.0,
        "wall_median_s": 1.0,
        "datasets": (),
    }
    return CostModel(**{**fields, **over})


def test_target_machine_makespan_is_the_larger_of_gpu_and_cpu_bound() -> None:
    """10 GPU decode jobs (20 s start-up, 0.01 s per audio s, 40 GB: 3 side by side on 143 GB) and
    32 CPU score jobs of 100 s on 16 cores."""
    gpu = _model("decode", 20.0, 0.01, source="gpu_check", device="cuda:H200", gpu_mem_mb=40_000.0)
    cpu = _model("score", 100.0, 0.0, method="per-job")
    lyra = _model("encode", 1.0, 0.1, source="gpu_check", device="cpu")  # a CPU codec on the GPU machine
    estimates = [
        _estimate("decode", "x", 10, 10_000.0, gpu),
        _estimate("score", "x", 32, None, cpu),
        _estimate("encode", "lyra", 4, 40.0, lyra),
    ]
    machine = TargetMachine(gpus=1, cores=16, gpu_mem_mb=143_000.0)
    span = makespan(estimates, {"decode", "encode"}, machine)
    shares = {s.rule: s for s in span.shares}
    assert shares["decode"].slots == 3 and shares["decode"].pool == "gpu"
    assert span.gpu_s[1] == pytest.approx(10_000.0 * 0.01 + 10 * 20.0 / 3)  # work adds up, start-ups overlap
    assert shares["encode"].pool == "cpu"  # Lyra's figure says it computes on the CPU
    assert span.cpu_s[1] == pytest.approx((32 * 100.0 + 4 * 1.0 + 0.1 * 40.0) / 16)
    assert span.wall_s[1] == pytest.approx(max(span.gpu_s[1], span.cpu_s[1])) and span.bound == "CPU"
    one_token = makespan(estimates, {"decode"}, TargetMachine(gpus=1, cores=16))  # no GPU memory given
    assert {s.rule: s.slots for s in one_token.shares}["decode"] == 1
    two = makespan(estimates, {"decode"}, TargetMachine(gpus=2, cores=16, gpu_mem_mb=143_000.0))
    assert two.gpu_s[1] == pytest.approx(span.gpu_s[1] / 2)


def test_seeds_multiply_the_channel_conditions() -> None:
    config = small_config()
    one, three = job_counts(config), job_counts(with_seeds(config, 3))
    assert three["encode"] == one["encode"]
    # per codec x BSC condition (2 codecs, x with 3 labellings, 2 P_flip each): three seeds instead of one
    assert three["decode"] - one["decode"] == 2 * (2 * 2 + 2 * 2) * 3  # the decode job transmits
    assert config["study_a"]["channels"]["bsc"]["seeds"] == [0]  # the input is left alone


def _measured_run(tmp_path: Path, records: bool) -> tuple[Path, Path, dict[str, Any]]:
    """A measured run of three encode jobs of codec x (1 s + 0.5 s per audio second) and, with
    ``records``, their startup records (fixed cost 2 s each); the full configuration to estimate."""
    results = tmp_path / "results"
    measured = small_config(results=str(results))
    measured["data"]["libri"]["root"] = "/a"
    (results / "report").mkdir(parents=True)
    (results / "report" / "config.yaml").write_text(yaml.safe_dump(measured))
    durations = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
    write_manifest_tsv(results / "data" / "libri" / "manifest.tsv", durations)
    for shard in range(3):
        audio = shard_audio_seconds(durations, shard, 3)
        write_tsv(results / f"benchmarks/encode/x/libri/{shard:03d}.tsv", [(1.0 + 0.5 * audio, "100", "1")])
        write_tsv(
            results / f"benchmarks/score/x/libri/clean/{shard:03d}.tsv", [(10.0 + 0.1 * audio, "50", "1")]
        )
        if records:
            write_record(
                Path(startup_file(results, "encode", "x", "libri", f"{shard:03d}")), 2.0, 0.4 * audio
            )
    full = tmp_path / "full.yaml"
    full_config = small_config()
    full_config["study_labelling"]["codecs"] = []
    full.write_text(yaml.safe_dump(full_config))
    return results, full, full_config


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("estimate_full_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_estimate_without_records_is_labelled_as_the_regression_fallback(tmp_path: Path) -> None:
    results, full, _ = _measured_run(tmp_path, records=False)
    out = tmp_path / "estimate"
    assert _script().main(["--results", str(results), "--full-config", str(full), "--out", str(out)]) == 0
    report = json.loads(Path(f"{out}.json").read_text())
    assert report["startup_records"] == {
        "n_records": 0,
        "groups": [],
        "fallback": ["encode × x", "score × x"],
    }
    assert "FITTED by regression (fallback)" in report["caveats"][0]
    encode = next(e for e in report["estimates"] if (e["rule"], e["codec"]) == ("encode", "x"))
    assert "regression fallback" in encode["model_text"] and encode["figures"] == "CPU stand-in for GPU"


def test_estimate_with_records_and_gpu_figures_on_the_target_machine(tmp_path: Path) -> None:
    """Records measure encode x's overhead (the benchmark-only score x falls back, labelled); GPU figures
    then replace encode x; the target machine's wall time is the larger makespan; three seeds."""
    results, full, full_config = _measured_run(tmp_path, records=True)
    figures = tmp_path / "gpu.json"
    write_gpu_figures(figures)
    out = tmp_path / "estimate"
    argv = ["--results", str(results), "--full-config", str(full), "--out", str(out), "--seeds", "3"]
    assert _script().main(argv) == 0
    report = json.loads(Path(f"{out}.json").read_text())
    assert report["startup_records"]["groups"] == ["encode × x"]
    assert report["startup_records"]["fallback"] == ["score × x"]
    encode = next(e for e in report["estimates"] if (e["rule"], e["codec"]) == ("encode", "x"))
    assert encode["model"]["overhead_s"] == 2.0 and encode["model"]["rate"] == pytest.approx(0.4)
    assert report["total_jobs"] == sum(job_counts(with_seeds(full_config, 3)).values())

    argv += ["--gpu-figures", str(figures), "--gpus", "1", "--cores", "16"]
    assert _script().main(argv) == 0
    report = json.loads(Path(f"{out}.json").read_text())
    markdown = Path(f"{out}.md").read_text()
    encode = next(e for e in report["estimates"] if (e["rule"], e["codec"]) == ("encode", "x"))
    assert encode["figures"] == "GPU" and encode["model"]["source"] == "gpu_check"
    assert encode["wall_s"] == pytest.approx(3 * 20.0 + 0.0075 * 19452.0)
    assert encode["wall_range_s"] == pytest.approx([3 * 20.0 + 0.005 * 19452.0, 3 * 20.0 + 0.01 * 19452.0])
    target = report["target"]
    assert target["machine"] == {"gpus": 1, "cores": 16, "gpu_mem_mb": 143_000.0}  # from the figures
    assert target["wall_s"][1] == pytest.approx(max(target["gpu_s"][1], target["cpu_s"][1]))
    shares = {(s["rule"], s["codec"]): s for s in target["shares"]}
    assert shares[("encode", "x")]["slots"] == 7 and shares[("encode", "x")]["pool"] == "gpu"  # 143 / 20 GB
    assert shares[("score", "x")]["pool"] == "cpu"
    assert "CPU measurements standing in for GPU ones: none" in markdown
    assert "| encode (GPU rule) | 10 | ≥ " in markdown and "GPU-bound" in markdown
    # a GPU figure never covers a codec it did not measure: y and z stay unmeasured
    assert (
        next(e for e in report["estimates"] if (e["rule"], e["codec"]) == ("encode", "y"))["wall_s"] is None
    )


# ---------------------------------------------------------------- the GPU check (benchmarks/gpu_check.py)

GPU_CHECK = REPO / "benchmarks" / "gpu_check.py"


def _benchmark_module(path: Path) -> Any:
    """A script of benchmarks/ imported as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_gpu_check_skips_what_does_not_fit_and_says_why(tmp_path: Path) -> None:
    """A step that would overrun the budget is recorded as skipped, with the time it needed, in the
    JSON on disk; the codec options are the full configuration's, at full size unless --quick."""
    gc = _benchmark_module(GPU_CHECK)
    settings = gc.Settings("cpu", False, 3, 1, 16, None, tmp_path)
    check = gc.Check(tmp_path / "g.json", gc.Budget(total_s=gc.RESERVE_S + 10.0), settings, {"skipped": []})
    assert check.fits("small", 1.0)
    assert not check.fits("neucodec/startup/full", 60.0)
    written = json.loads((tmp_path / "g.json").read_text())
    assert written["skipped"][0]["step"] == "neucodec/startup/full"
    assert written["skipped"][0]["reason"].startswith("needs ~60 s")
    neucodec = gc.codec_options("neucodec", settings)
    assert neucodec["random_weights"] is True and "random_semantic_layers" not in neucodec  # the full encoder
    quick = gc.Settings("cpu", True, 1, 1, 3, 0.5, tmp_path)
    assert gc.codec_options("neucodec", quick)["random_semantic_layers"] == 2
    assert gc.codec_options("distill-neucodec", quick)["random_semantic_layers"] == 1
    assert "own environment" in gc.codec_options("stablecodec", settings)
    assert gc.codec_options("lyra", settings)["model_dir"] == str(tmp_path / "models" / "lyra-v2")
    assert gc.default_codecs()[-1] == "lyra" and "neucodec" in gc.default_codecs()


@pytest.mark.slow
def test_gpu_check_quick_cpu_run_writes_figures_the_estimator_reads(tmp_path: Path) -> None:
    """``gpu_check.py --device cpu --quick`` end to end (~40 s on 2 cores: Lyra, EnCodec and Whisper
    tiny.en, each with its start-up processes): the JSON passes the estimator's reader, holds every
    figure the estimator uses, and ``estimate_full_run.py --gpu-figures`` takes it."""
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, str(GPU_CHECK), "--device", "cpu", "--quick", "--codecs", "lyra,encodec"]
    proc = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    raw = json.loads(out.read_text())
    assert raw["errors"] == [] and raw["skipped"] == [] and raw["complete"] is True
    assert {"gpu_name", "gpu_memory_mb", "torch", "cuda", "cpu_count", "device"} <= set(raw["machine"])
    figures = read_gpu_figures(out)
    assert figures.quick and set(figures.codecs) == {"lyra", "encodec"}
    encodec = figures.codecs["encodec"]
    assert encodec.device == "cpu" and encodec.random_weights
    assert set(encodec.encode) == set(encodec.decode) == {"exact", "padded"}
    assert encodec.encode["exact"].batch_size == 8 and encodec.encode["exact"].audio_s_per_s > 0
    assert set(encodec.startup) == {"full", "decode_only"} and encodec.startup["full"].startup_s > 0
    assert encodec.startup["full"].record["phases"]["imports"] > 0  # the probe's own startup record
    equal = raw["codecs"]["encodec"]["batching_equal"]
    assert equal["applicable"] and {"equal", "max_abs_diff", "shapes_equal"} <= set(equal["audio"])
    assert raw["codecs"]["lyra"]["batching_equal"]["applicable"] is False
    assert figures.asr is not None and figures.asr.throughput is not None and figures.asr.startup is not None

    results, full, full_config = _measured_run(tmp_path, records=True)
    full_config["codecs"]["encodec"] = {"adapter": "encodec", "n_codebooks": 12}
    full_config["study_a"]["codecs"] = ["x", "encodec"]
    full.write_text(yaml.safe_dump(full_config))
    estimate_out = tmp_path / "estimate"
    argv = ["--results", str(results), "--full-config", str(full), "--gpu-figures", str(out)]
    assert _script().main([*argv, "--out", str(estimate_out)]) == 0
    report = json.loads(Path(f"{estimate_out}.json").read_text())
    encode = next(e for e in report["estimates"] if (e["rule"], e["codec"]) == ("encode", "encodec"))
    assert encode["wall_s"] > 0 and encode["figures"] == "GPU machine, CPU codec"  # --device cpu
    assert any("--quick" in c for c in encode["caveats"])


# -------------------------------------------------- the whole-run benchmark (benchmarks/bench_offline_run.py)

SNAKEMAKE_LOG = """Select jobs to execute...

[Thu Dec  3 02:54:04 2026]
rule encode:
    jobid: 3
    wildcards: codec=x
    threads: 2

[Thu Dec  3 02:54:14 2026]
Finished jobid: 3 (Rule: encode)

[Thu Dec  3 02:54:14 2026]
localrule decode:
    jobid: 4

[Thu Dec  3 02:54:16 2026]
rule score:
    jobid: 5

[Thu Dec  3 02:54:20 2026]
Finished jobid: 4 (Rule: decode)

[Thu Dec  3 02:54:24 2026]
Finished jobid: 5 (Rule: score)
"""


def test_whole_run_benchmark_counts_idle_cores_from_the_snakemake_log() -> None:
    """10 s of a 2-thread job (no idle core), then 2 s of one 1-thread job (2 idle core-s, 2 s alone),
    4 s of two jobs, 4 s of one (4 idle core-s, 4 s alone)."""
    bench = _benchmark_module(REPO / "benchmarks" / "bench_offline_run.py")
    assert bench.core_occupancy(SNAKEMAKE_LOG, cores=2) == {"idle_core_s": 6.0, "single_job_s": 16.0}
    # on one core the 2-thread job holds the one core, and nothing else idles it
    assert bench.core_occupancy(SNAKEMAKE_LOG, cores=1)["idle_core_s"] == 0.0
