"""Cost extrapolation (nacbench.costs): benchmark parsing, the overhead + rate fit, job planning, and
the planned job counts against the workflow's own dry run."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from nacbench import plan
from nacbench.artifacts import JobPath
from nacbench.costs import CostError
from nacbench.costs.benchmarks import (
    BenchmarkJob,
    load_benchmarks,
    parse_benchmark_path,
    read_benchmark_tsv,
    shard_audio_seconds,
)
from nacbench.costs.estimate import estimate, run_caveats, summarise
from nacbench.costs.fit import CostModel, fit_cost_model, fit_cost_models
from nacbench.costs.jobs import DatasetAudio, full_dataset_audio, job_counts, plan_jobs
from nacbench.costs.runlog import latest_logged_jobs, logged_to_benchmark, parse_snakemake_log
from nacbench.costs.workflow import dry_run_job_counts, parse_job_stats, rule_declarations
from nacbench.data.manifest import MANIFEST_COLUMNS, select_shard

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

rule b:
    output: "y"
    resources:
        mem_mb=10,
"""
    assert rule_declarations(text) == {
        "a": {"benchmark": True, "gpu": True},
        "b": {"benchmark": False, "gpu": False},
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
