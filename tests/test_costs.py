"""Cost extrapolation (nacbench.costs): benchmark parsing, the overhead + rate fit, job planning."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nacbench import costs, plan
from nacbench.data.manifest import select_shard

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
        ("encode/x/libri/002.tsv", costs.JobKey("encode", "x", "libri", None, "002")),
        ("decode/x/libri/bsc-0.01-s0/001.tsv", costs.JobKey("decode", "x", "libri", "bsc-0.01-s0", "001")),
        ("asr_reference/arctic/000.tsv", costs.JobKey("asr_reference", None, "arctic", None, "000")),
        ("manifest/libri.tsv", costs.JobKey("manifest", None, "libri")),
        ("labelling/x/gray.tsv", costs.JobKey("labelling", "x", other="gray")),
    ],
)
def test_parse_benchmark_path(rel: str, expected: costs.JobKey) -> None:
    assert costs.parse_benchmark_path(Path(rel), {"libri", "arctic"}, {"x", "y"}) == expected


def test_parse_benchmark_path_rejects_shard_without_dataset() -> None:
    with pytest.raises(costs.CostError, match="without a configured dataset"):
        costs.parse_benchmark_path(Path("encode/x/unknown/000.tsv"), {"libri"}, {"x"})


def test_read_benchmark_tsv_median_max_and_na(tmp_path: Path) -> None:
    path = tmp_path / "b.tsv"
    write_tsv(path, [(10.0, "100.0", "4.0"), (30.0, "300.0", "NA"), (20.0, "NA", "6.0")])
    got = costs.read_benchmark_tsv(path)
    assert got == {"wall_s": 20.0, "cpu_s": 5.0, "max_rss_mb": 300.0}
    write_tsv(path, [(0.5, "NA", "NA")])  # a job faster than Snakemake's sampling interval
    got = costs.read_benchmark_tsv(path)
    assert got["wall_s"] == 0.5 and math.isnan(got["max_rss_mb"]) and math.isnan(got["cpu_s"])


def test_read_benchmark_tsv_names_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(costs.CostError, match="bad.tsv"):
        costs.read_benchmark_tsv(path)


def test_shard_audio_matches_select_shard() -> None:
    durations = np.arange(1.0, 12.0)
    df = pd.DataFrame({"duration_s": durations})
    for shard in range(4):
        expected = select_shard(df, shard, 4)["duration_s"].sum()
        assert costs.shard_audio_seconds(durations, shard, 4) == pytest.approx(expected)


# ---------------------------------------------------------------- fitting


def test_fit_recovers_known_overhead_and_rate(tmp_path: Path) -> None:
    """Jobs timed as exactly 7 s + 0.25 s per audio second: the fit returns those two numbers."""
    a, b = 7.0, 0.25
    config = small_config()
    config["data"]["libri"]["shards"] = 4
    durations = {"libri": np.linspace(2.0, 30.0, 23), "arctic": np.full(10, 3.0)}
    bench = tmp_path / "benchmarks"
    for shard in range(4):
        audio = costs.shard_audio_seconds(durations["libri"], shard, 4)
        for channel in ("clean", "bsc-0.01-s0"):
            write_tsv(bench / f"decode/x/libri/{channel}/{shard:03d}.tsv", [(a + b * audio, "512.0", "1.0")])
    write_tsv(bench / "decode/x/arctic/clean/000.tsv", [(a + b * 15.0, "900.0", "1.0")])
    write_tsv(bench / "labelling/x/gray.tsv", [(3.0, "50.0", "3.0")])
    write_tsv(bench / "labelling/x/random.tsv", [(5.0, "60.0", "5.0")])

    jobs, skipped = costs.load_benchmarks(bench, config, durations)
    assert skipped == []
    models = costs.fit_cost_models(jobs)
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
    key = costs.JobKey("encode", "x", "libri", None, "000")
    jobs = [
        costs.BenchmarkJob(key, "p0", wall_s=10.0, cpu_s=20.0, max_rss_mb=1.0, audio_s=100.0),
        costs.BenchmarkJob(key, "p1", wall_s=12.0, cpu_s=24.0, max_rss_mb=2.0, audio_s=100.0),
        costs.BenchmarkJob(key, "p2", wall_s=30.0, cpu_s=60.0, max_rss_mb=3.0, audio_s=200.0),
    ]
    model = costs.fit_cost_model(jobs)
    assert model.method == "rate-only" and "not separable" in model.note
    assert model.overhead_s == 0.0
    assert model.rate == pytest.approx(0.12)  # median of 0.10, 0.12, 0.15
    assert model.cpu_rate_median == pytest.approx(0.24)
    low, high = model.predict_range([1000.0, 1000.0])
    assert (low, high) == pytest.approx((2 * 12.0, 2 * 0.12 * 1000.0))


def test_fit_rejects_mixed_groups() -> None:
    jobs = [
        costs.BenchmarkJob(costs.JobKey("encode", "x"), "a", 1.0, 1.0, 1.0, None),
        costs.BenchmarkJob(costs.JobKey("encode", "y"), "b", 1.0, 1.0, 1.0, None),
    ]
    with pytest.raises(costs.CostError, match="several rule x codec"):
        costs.fit_cost_model(jobs)


# ---------------------------------------------------------------- planning


def test_job_counts_follow_plan_conditions() -> None:
    config = small_config()
    conds = plan.conditions(config)
    shards = {name: len(plan.shard_names(config, name)) for name in config["data"]}
    counts = costs.job_counts(config)
    for rule in ("channel", "decode", "score"):
        assert counts[rule] == sum(shards[c.dataset] for c in conds)
    assert counts["encode"] == sum(shards[d] for _, d in {(c.codec, c.dataset) for c in conds})
    assert counts["asr_decoded"] == len(plan.study_b_codecs(config)) * shards["arctic"]
    assert counts["asr_reference"] == shards["arctic"]
    assert counts["labelling"] == 2  # gray + random for codec x; natural needs no table
    assert counts["download_dataset"] == 1  # arctic has a local root
    assert counts["codec_info"] == 3 and counts["manifest"] == 2 and counts["code_analysis"] == 1
    # 2 codecs x (clean + 2 BSC) + x's 2 extra labellings x 2 BSC on libri, z and y clean on arctic
    assert len(conds) == 2 * 3 + 2 * 2 + 2
    assert counts["channel"] == (6 + 4) * 3 + 2 * 2


def test_job_counts_without_optional_studies() -> None:
    config = small_config()
    config["study_labelling"]["codecs"] = []
    config["study_b"].update(rows=[], reference_codec=None, distilled_codec=None)
    counts = costs.job_counts(config)
    assert not {"labelling", "codewords", "asr_reference", "asr_decoded", "table2", "code_analysis"} & set(
        counts
    )
    assert counts["decode"] == 2 * 3 * 3


def test_planned_audio_adds_up_to_the_dataset() -> None:
    config = small_config()
    audio = {"libri": costs.DatasetAudio("libri", 10, 100.0, "test")}
    jobs = [j for j in costs.plan_jobs(config, audio) if j.rule == "encode" and j.codec == "x"]
    assert [j.shard for j in jobs] == ["000", "001", "002"]
    assert [j.audio_s for j in jobs] == pytest.approx([40.0, 30.0, 30.0])  # 4, 3, 3 utterances of 10 s


def test_full_dataset_audio_sources() -> None:
    full, measured = small_config(), small_config()
    measured["data"] = {
        "libri": {**full["data"]["libri"], "root": "/subset"},
        "arctic": {**full["data"]["arctic"], "speakers": ["a"]},
    }
    durations = {"libri": np.ones(5), "arctic": np.array([2.0, 4.0])}
    libri = costs.full_dataset_audio("libri", full, measured, durations)
    assert (libri.n_utterances, libri.total_s) == (2620, 19452.0) and "Panayotov" in libri.source
    arctic = costs.full_dataset_audio("arctic", full, measured, durations)
    assert (arctic.n_utterances, arctic.total_s) == (10, 30.0) and "mean duration 3.00 s" in arctic.source
    same = costs.full_dataset_audio("arctic", full, full, durations)  # same selection: the manifest itself
    assert (same.n_utterances, same.total_s) == (2, 6.0)


def test_estimate_never_borrows_from_another_codec() -> None:
    full, measured = small_config(), small_config()
    measured["codecs"] = {"x": {"adapter": "dac", "random_weights": True}}
    audio = {"libri": costs.DatasetAudio("libri", 9, 90.0, "test")}
    planned = [j for j in costs.plan_jobs(full, audio) if j.rule == "encode" and j.dataset == "libri"]
    model = costs.CostModel(
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
    est = {e.codec: e for e in costs.estimate(planned, {("encode", "x"): model}, full, measured)}
    assert est["x"].wall_s == pytest.approx(3 * 2.0 + 0.5 * 90.0)
    assert "random weights" in est["x"].caveats
    assert est["y"].wall_s is None and "was not in the measured run" in est["y"].caveats[0]
    rows = costs.summarise(list(est.values()))
    assert len(rows) == 1 and rows[0].jobs == 6 and rows[0].jobs_measured == 3 and not rows[0].complete
    assert rows[0].wall_h == pytest.approx(51.0 / 3600) and "not measured: y" in rows[0].measured_on
    assert rows[0].measured_on.startswith("x (3 jobs)")

    measured["codecs"]["x"]["random_semantic_layers"] = 2  # a reduced stand-in is not the full codec
    est = costs.estimate(planned, {("encode", "x"): model}, full, measured)
    assert any("random_semantic_layers: full None vs measured 2" in c for c in est[0].caveats)
    assert costs.summarise(est)[0].measured_on.startswith("x (3 jobs, options differ)")


def test_asr_model_difference_is_flagged() -> None:
    full, measured = small_config(), small_config()
    measured["study_b"] = {**full["study_b"], "asr": {"backend": "faster-whisper", "model": "tiny.en"}}
    caveats = costs.run_caveats("asr_reference", None, full, measured)
    assert any("tiny.en" in c and "large-v3" in c for c in caveats)
    assert costs.run_caveats("asr_reference", None, full, full) == []


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
    jobs = costs.parse_snakemake_log(LOG)
    assert [(j.rule, j.wall_s) for j in jobs] == [("channel", 6.0), ("decode", 29.0)]  # table3 failed
    kept = costs.latest_logged_jobs([jobs], "results")
    assert [j.rule for j in kept] == ["channel"]  # decode wrote outside results/
    config = small_config()
    job = costs.logged_to_benchmark(kept[0], config, {"libri": np.arange(9.0)}, "log")
    assert job.key == costs.JobKey("channel", "x", "libri", "clean", "000")
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
    assert costs.rule_declarations(text) == {
        "a": {"benchmark": True, "gpu": True},
        "b": {"benchmark": False, "gpu": False},
    }
    assert costs.rule_declarations("# no rules") == {}
