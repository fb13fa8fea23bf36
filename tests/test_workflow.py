"""The workflow as users run it: DAGs of the shipped configs and profiles, and one reduced offline run
(shared fixture) checked for its artifacts, its statistics and its rerun behaviour."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, snakemake, write_overlay

from nacbench import artifacts
from nacbench.artifacts import load_shard
from nacbench.codecs.base import CodecInfo

STAGES = ("manifest", "encode", "decode", "score", "tidy_scores", "figure3", "table3", "table2")


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run."""
    counts: dict[str, int] = {}
    lines = dry_run_stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_full_config_dry_run_lists_every_stage() -> None:
    counts = job_counts(snakemake("-n").stdout)
    for stage in (*STAGES, "download_dataset", "asr_reference", "asr_decoded", "enc_rtf", "code_analysis"):
        assert counts.get(stage, 0) > 0, f"no {stage} jobs in the full dry run: {counts}"
    # 7 codecs x 8 conditions x 20 shards on LibriSpeech + 2 codecs clean x 6 shards on Arctic, and the
    # packet-loss study's 100 conditions of the paper's 5 codecs and 33 of three Opus rates (test_config)
    assert counts["score"] == (7 * 8 + 100 + 33) * 20 + 2 * 6
    assert counts["encode"] == (7 + 3) * 20 + 2 * 6
    assert counts["packet_loss"] == 1


def classical_overlay(base: Path) -> Path:
    """A small config whose every target can be laid out without running anything: Codec2 only (no
    weights), two shards, every study on, datasets at an empty local folder (no download rule)."""
    (base / "corpus").mkdir(parents=True, exist_ok=True)
    overlay = {
        "results": str(base / "results"),
        "data": {
            "librispeech": {"root": str(base / "corpus"), "shards": 2},
            "cmu_arctic": {"root": str(base / "corpus"), "speakers": ["bdl"], "shards": 1},
        },
        "fit": {"dataset": "cmu_arctic", "utterances": 10},
        "codecs": {"codec2-3200": {"adapter": "codec2", "mode": 3200}},
        "study_a": {"codecs": ["codec2-3200"], "channels": {"bsc": {"p_flip": [0.01, 0.1], "seeds": [0]}}},
        "study_labelling": {"codecs": ["codec2-3200"], "labellings": ["natural", "gray", "random"]},
        "study_b": {
            "rows": [],
            "reference_codec": None,
            "distilled_codec": None,
            "extra_codecs": ["codec2-3200"],
        },
    }
    path = base / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return path


def lay_out_outputs(overlay: Path) -> None:
    """Create every output the DAG plans (empty files; folders for decode's) and mark them up to date:
    a finished run's results folder, in seconds."""
    summary = snakemake("--summary", "--configfile", str(overlay)).stdout
    for line in summary.splitlines()[1:]:
        path, _, rule = line.split("\t")[:3]
        target = Path(path)
        if rule == "decode" and not target.suffix:  # audio/ and listen/ are directory() outputs
            target.mkdir(parents=True, exist_ok=True)
        elif rule == "codec_info":  # read at start-up (which weights built this folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            CodecInfo(target.parent.name, "", 8000, 8000, 50.0, (2,), "parametric").write(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    snakemake("--touch", "--cores", "1", "--configfile", str(overlay))


def scheduled_outputs(dry_run_stdout: str) -> set[str]:
    return {
        path
        for line in dry_run_stdout.splitlines()
        if line.strip().startswith("output:")
        for path in line.split(":", 1)[1].strip().split(", ")
    }


def test_deleted_documented_outputs_are_rebuilt(tmp_path: Path) -> None:
    """A documented output that goes missing (a failed tidy_scores removes its outputs; a user deletes a
    shard) is rebuilt by the next run, not hidden behind up-to-date figures."""
    overlay = classical_overlay(tmp_path)
    lay_out_outputs(overlay)
    assert "Nothing to be done" in snakemake("-n", "--configfile", str(overlay)).stdout
    results = tmp_path / "results"
    documented = {
        "tidy_parquet": results / "tables" / "scores_librispeech.parquet",
        "tidy_csv": results / "tables" / "scores_librispeech.csv.gz",
        "skipped": results / "data" / "librispeech" / "skipped.tsv",
        "codec_info": results / "codes" / "codec2-3200" / "codec.json",
        "score": results / "metrics" / "codec2-3200" / "librispeech" / "bsc-p0.1-seed0" / "001.parquet",
        "channel": results / "channel" / "codec2-3200" / "cmu_arctic" / "clean" / "000.npz",
        "labelling": results / "labelling" / "codec2-3200" / "gray.npz",
        "expected_distortion": results / "labelling" / "codec2-3200" / "expected_distortion.csv",
        "asr_reference": results / "asr" / "reference" / "cmu_arctic" / "000.parquet",
        "enc_rtf": results / "analysis" / "enc_rtf" / "codec2-3200.json",
    }
    for path in documented.values():
        path.unlink()
    listen = results / "listen" / "codec2-3200" / "librispeech" / "bsc-p0.01-seed0-random" / "000"
    shutil.rmtree(listen)
    scheduled = scheduled_outputs(snakemake("-n", "--configfile", str(overlay)).stdout)
    for what, path in documented.items():
        assert str(path) in scheduled, f"deleted {what} output {path} is not rebuilt"
    assert str(listen) in scheduled
    # the study targets ask for their own documented outputs too
    study_a = scheduled_outputs(snakemake("-n", "study_a", "--configfile", str(overlay)).stdout)
    assert str(documented["tidy_parquet"]) in study_a and str(documented["score"]) in study_a
    study_b = scheduled_outputs(snakemake("-n", "study_b", "--configfile", str(overlay)).stdout)
    assert {str(documented[k]) for k in ("channel", "asr_reference", "enc_rtf")} <= study_b
    labelling = scheduled_outputs(snakemake("-n", "labelling_study", "--configfile", str(overlay)).stdout)
    assert {str(documented[k]) for k in ("labelling", "expected_distortion")} <= labelling
    data = scheduled_outputs(snakemake("-n", "data", "--configfile", str(overlay)).stdout)
    assert str(documented["skipped"]) in data


def _headline_inputs(tmp_path: Path) -> dict[str, list[str] | str]:
    """Study A tables of a real codec beside a random-weight one, written by the pipeline's writers."""
    from nacbench.report import breakdown_all
    from nacbench.tables import summary_table, write_table

    rows = []
    for codec, random in (("codec2-3200", False), ("dac", True)):
        for utt in range(3):
            common = {"codec": codec, "dataset": "ds", "utt_id": f"u{utt}", "random_weights": random}
            rows.append({**common, "model": "clean", "p_flip": 0.0, "labelling": "natural", "stoi": 0.9})
            rows += [
                {**common, "model": "bsc", "p_flip": p, "labelling": "natural", "stoi": 0.9 - p - 0.01 * utt}
                for p in (0.01, 0.1, 0.5)
            ]
    tidy = pd.DataFrame(rows).assign(pesq=2.0)
    tables = tmp_path / "tables"
    write_table(summary_table(tidy, ["stoi", "pesq"], n_boot=20), tables / "summary", "s")
    write_table(breakdown_all(tidy, {"stoi": 0.1}, 20, 0), tables / "breakdown", "b")
    infos = []
    for codec, random in (("codec2-3200", False), ("dac", True)):
        path = tmp_path / f"{codec}.json"
        CodecInfo(codec, codec.upper(), 8000, 8000, 50.0, (2,), "other", random_weights=random).write(path)
        infos.append(str(path))
    return {"info": infos, "summary": str(tables / "summary.csv"), "breakdown": str(tables / "breakdown.csv")}


def test_report_page_headline_numbers(tmp_path: Path) -> None:
    from nacbench.report import report_page

    inputs = _headline_inputs(tmp_path)
    page = report_page(inputs["info"], inputs["summary"], inputs["breakdown"], None, str(tmp_path / "h.json"))
    assert json.loads((tmp_path / "h.json").read_text()) == page
    assert page["random_codecs"] == ["dac"] and page["published_codecs"] == ["codec2-3200"]
    study_a = {c["codec"]: c for c in page["study_a"]["codecs"]}
    assert page["study_a"]["p_at"] == "0.1" and page["study_a"]["utterances"] == 3
    assert study_a["codec2-3200"]["clean_stoi"] == "0.9" and study_a["codec2-3200"]["stoi_at"] == "0.79"
    assert study_a["dac"]["weights"] == "random init" and study_a["codec2-3200"]["weights"] == "published"
    assert page["study_b"] is None

    from nacbench.tables import table2, write_table

    rows = [
        {
            "encoder": "NeuCodec",
            "decoder": "24kHz",
            "wer": 2.61,
            "stoi": 0.9,
            "pesq": 2.04,
            "random_weights": True,
        },
        {"encoder": "NeuCodec", "decoder": "16kHz", "available": False, "reason": "no 16 kHz decoder"},
    ]
    write_table(table2(rows), tmp_path / "table2", "Table 2")
    page = report_page([], None, None, str(tmp_path / "table2.csv"), str(tmp_path / "h.json"))
    assert page["study_a"] is None
    assert page["study_b"]["rows"][0] == {
        "encoder": "NeuCodec",
        "decoder": "24kHz",
        "wer": "2.61",
        "stoi": "0.9",
        "pesq": "2.04",
        "weights": "random init",
    }
    assert page["study_b"]["rows"][1]["wer"] == "n/a (weights unavailable)"


def test_html_report_opens_on_the_run_summary(tmp_path: Path) -> None:
    """The report's first page says what was computed, on which weights, and the headline numbers."""
    from nacbench.report import report_page

    overlay = classical_overlay(tmp_path)
    lay_out_outputs(overlay)
    inputs = _headline_inputs(tmp_path / "inputs")
    headline = tmp_path / "results" / "report" / "headline.json"
    report_page(inputs["info"], inputs["summary"], inputs["breakdown"], None, str(headline))
    html = tmp_path / "report.html"
    snakemake("--report", str(html), "--configfile", str(overlay))
    text = html.read_text()
    start = text.index("nacbench: FSQ neural audio codecs on noisy channels")
    page = text[start : start + 4000]
    assert "0.01, 0.1 (seeds 0)" in page
    assert "RANDOM WEIGHTS - not a result</strong>: dac ran with random weights" in page
    assert "codec2-3200 ran on published weights" in page
    assert "CODEC2-3200 (published): clean STOI 0.9, PESQ 2" in page
    assert "DAC (random init)" in page


def test_random_weight_artifacts_in_the_results_folder_stop_the_run(tmp_path: Path) -> None:
    """Another configuration's random-weight codec.json in this run's folder: Snakemake alone would
    take it (and all built on it) as done when .snakemake/ is missing; the run stops and says why."""
    overlay = classical_overlay(tmp_path)
    info = tmp_path / "results" / "codes" / "codec2-3200" / "codec.json"
    info.parent.mkdir(parents=True)
    CodecInfo("codec2-3200", "Codec2", 8000, 8000, 50.0, (2,) * 64, "parametric", random_weights=True).write(
        info
    )
    proc = snakemake("-n", "--configfile", str(overlay), check=False)
    assert proc.returncode != 0
    assert str(info) in proc.stderr + proc.stdout and "RANDOM weights" in proc.stderr + proc.stdout


@pytest.mark.parametrize("profile", ["profiles/default", "profiles/slurm"])
def test_profiles_dry_run(profile: str) -> None:
    out = snakemake("-n", "--profile", profile).stdout
    assert job_counts(out)["score"] > 0


@pytest.mark.slow
def test_offline_run_writes_study_a_artifacts(offline_run: dict[str, Path]) -> None:
    results = offline_run["results"]
    for name in ("figure3.pdf", "figure3.png", "labelling.pdf", "labelling.png"):
        assert (results / "figures" / name).stat().st_size > 0
    for stem in (
        "table3",
        "study_a_summary",
        "study_a_breakdown",
        "failures",
        "labelling_breakdown",
        "expected_distortion",
    ):
        for ext in ("csv", "md", "tex"):
            assert (results / "tables" / f"{stem}.{ext}").stat().st_size > 0
    tidy = pd.read_parquet(results / "tables" / "scores_librispeech.parquet")
    swapped = {
        "lyra~fsq120",
        "lyra~rvq120",
        "lyra~native16",
        "lyra~fsq16",
        "lyra~rvq16",
    }  # the quantizer swap
    assert set(tidy.codec) == {"lyra", "codec2-3200", "opus-12k"} | swapped  # Opus: packet loss only
    assert set(tidy.labelling) == {"natural", "gray", "random", "distortion-aware"}
    clean = tidy[(tidy.channel == "clean") & (tidy.codec == "lyra")]
    assert clean.stoi.between(0.85, 1.0).all()  # real weights: a real result
    assert not tidy.random_weights.any()
    # bit errors hurt: mean STOI at P_flip 0.1 is below clean for both codecs
    natural = tidy[tidy.labelling == "natural"]
    means = natural.groupby(["codec", "p_flip"]).stoi.mean()
    for codec in ("lyra", "codec2-3200"):
        assert means[(codec, 0.1)] < means[(codec, 0.0)] - 0.05
    assert (results / "tables" / "asr_wer.csv").exists()


@pytest.mark.slow
def test_offline_run_writes_the_packet_loss_study_from_real_codecs(offline_run: dict[str, Path]) -> None:
    """Lyra (repeat, silence) and Opus (its PLC) under i.i.d. and bursty losses: the figure and tables,
    realised losses recorded, PLCMOS and WER scored, losses hurting, both codecs losing the same packets."""
    results = offline_run["results"]
    for name in ("packet_loss.pdf", "packet_loss.png"):
        assert (results / "figures" / name).stat().st_size > 0
    for stem in ("packet_loss", "packet_loss_summary"):
        for ext in ("csv", "md", "tex"):
            assert (results / "tables" / f"{stem}.{ext}").stat().st_size > 0
    tidy = pd.read_parquet(results / "tables" / "scores_librispeech.parquet")
    lossy = tidy[tidy.model.isin(["iid", "gilbert"])]
    assert set(zip(lossy.codec, lossy.concealment, strict=True)) == {
        ("lyra", "repeat"),
        ("lyra", "silence"),
        ("opus-12k", "plc"),
    }
    assert lossy.plcmos.notna().all() and lossy.dnsmos_ovrl.notna().all()
    assert (lossy.groupby(["codec", "channel"]).wer.count() == 1).all()  # wer_utterances: 1
    # every codec and concealment of a condition lost the same packets of each utterance
    per_condition = lossy.assign(key=lossy.channel.str.replace(r"-(repeat|silence|plc)-", "-", regex=True))
    assert (per_condition.groupby(["key", "utt_id"]).packets_lost.nunique() == 1).all()
    # realised rates near the nominal ones (5 utterances: a loose band) and losses hurt PLCMOS
    summary = pd.read_csv(results / "tables" / "packet_loss_summary.csv", comment="#")
    iid = summary[summary.model == "iid"]
    assert (abs(iid.realised_fer - iid.fer) < 0.08).all()
    clean = (
        tidy[(tidy.channel == "clean") & tidy.codec.isin(["lyra", "opus-12k"])].groupby("codec").plcmos.mean()
    )
    heavy = lossy[lossy.fer == 0.2].groupby("codec").plcmos.mean()
    assert (heavy < clean).all()
    table = pd.read_csv(results / "tables" / "packet_loss.csv", comment="#")
    assert {"plcmos", "wer"} <= set(table.metric) and "fer_breakdown" in table.columns
    opus_channel = lossy[lossy.codec == "opus-12k"].channel.iloc[0]
    received = load_shard(results / "channel" / "opus-12k" / "librispeech" / opus_channel / "000.npz")
    assert {"packets_sent", "packets_lost", "lost_frames", "loss_stats"} <= set(received.extras)


@pytest.mark.slow
def test_offline_run_writes_the_quantizer_swap_from_real_lyra(offline_run: dict[str, Path]) -> None:
    """The swap's figure, table and rate figure; its codecs scored; native and post-hoc codecs at one
    budget received their bit errors at the same (frame, bit) positions."""
    from nacbench.channel import codes_to_bits
    from nacbench.codecs.base import CodecInfo

    results = offline_run["results"]
    for name in ("quantizer_swap.pdf", "quantizer_swap.png", "rate_robustness.pdf", "rate_robustness.png"):
        assert (results / "figures" / name).stat().st_size > 0
    table = pd.read_csv(results / "tables" / "quantizer_swap.csv", comment="#")
    assert {"lyra", "lyra~fsq120", "lyra~rvq120", "lyra~native16", "lyra~fsq16", "lyra~rvq16"} <= set(
        table.codec
    )
    assert not table.random_weights.astype(str).str.lower().isin(["yes", "true"]).any()  # Lyra is real

    def error_bits(codec: str) -> np.ndarray:
        info = CodecInfo.read(artifacts.codec_info(results, codec))
        sent = load_shard(artifacts.codes_shard(results, codec, "librispeech", "000"))
        got = load_shard(artifacts.channel_shard(results, codec, "librispeech", "bsc-p0.1-seed0", "000"))
        widths = info.bits_per_codebook
        return np.concatenate(
            [
                codes_to_bits(a, widths) ^ codes_to_bits(b, widths)
                for a, b in zip(sent.codes, got.codes, strict=True)
            ]
        )

    for group in (["lyra", "lyra~fsq120", "lyra~rvq120"], ["lyra~native16", "lyra~fsq16", "lyra~rvq16"]):
        errors = [error_bits(codec) for codec in group]
        assert errors[0].sum() > 0 and all(np.array_equal(errors[0], e) for e in errors[1:])


@pytest.mark.slow
def test_recorded_flip_counts_match_p_flip(offline_run: dict[str, Path]) -> None:
    results = offline_run["results"]
    checked = 0
    for path in (results / "channel").rglob("*.npz"):
        channel = path.parent.name
        if channel == "clean" or channel.startswith("erasure-"):  # packet loss flips no bits
            continue
        p = float(channel.split("-")[1][1:])
        shard = load_shard(path)
        n, k = int(shard.extras["bits_sent"].sum()), int(shard.extras["bits_flipped"].sum())
        sigma = math.sqrt(n * p * (1 - p))
        assert abs(k - n * p) <= 5 * sigma, f"{path}: {k} flips of {n} bits at P_flip {p}"
        checked += 1
    assert checked >= 8


@pytest.mark.slow
def test_rerun_does_nothing(offline_run: dict[str, Path]) -> None:
    out = snakemake("-n", "--configfile", "configs/offline.yaml", str(offline_run["overlay"])).stdout
    assert "Nothing to be done" in out


@pytest.mark.slow
def test_changing_seeds_reruns_only_channel_and_later(offline_run: dict[str, Path], tmp_path: Path) -> None:
    overlay = yaml.safe_load(offline_run["overlay"].read_text())
    overlay["study_a"]["channels"]["bsc"]["seeds"] = [0, 1, 2]
    changed = tmp_path / "seeds.yaml"
    changed.write_text(yaml.safe_dump(overlay))
    counts = job_counts(snakemake("-n", "--configfile", "configs/offline.yaml", str(changed)).stdout)
    assert counts.get("decode", 0) > 0  # the decode job transmits the codes
    for upstream in ("manifest", "codec_info", "encode", "codewords", "labelling"):
        assert upstream not in counts, f"changing seeds reran {upstream}: {counts}"


@pytest.mark.slow
def test_adding_a_p_flip_schedules_only_the_new_conditions(
    offline_run: dict[str, Path], tmp_path: Path
) -> None:
    """One more P_flip: one decode (which transmits) and one score job per new condition x shard, and the
    tables that read every condition; nothing that exists is recomputed."""
    from snakemake.utils import update_config

    from nacbench import plan
    from nacbench.conditions import ChannelSpec

    overlay = yaml.safe_load(offline_run["overlay"].read_text())
    bsc = overlay["study_a"]["channels"]["bsc"]
    bsc["p_flip"] = [*bsc["p_flip"], 0.02]
    changed = tmp_path / "p_flip.yaml"
    changed.write_text(yaml.safe_dump(overlay))
    counts = job_counts(snakemake("-n", "--configfile", "configs/offline.yaml", str(changed)).stdout)

    def merged(path: Path) -> dict:
        config: dict = {}
        for layer in (REPO / "config.yaml", REPO / "configs/offline.yaml", path):
            update_config(config, yaml.safe_load(layer.read_text()))
        return config

    before, after = merged(offline_run["overlay"]), merged(changed)
    new = set(plan.conditions(after)) - set(plan.conditions(before))
    assert new and all(ChannelSpec.parse(c.channel).p_flip == 0.02 for c in new)
    jobs = sum(len(plan.shard_names(after, c.dataset)) for c in new)
    assert counts.pop("decode") == counts.pop("score") == jobs
    counts.pop("total")
    # the resolved config changed, and the tables read every condition
    after_scores = {
        "save_config",
        "tidy_scores",
        "figure3",
        "table3",
        "report_page",
        "labelling_report",
        "quantizer_swap",  # its main channels are Study A's P_flip
        "packet_loss",  # reads the tidy table, which gained the new conditions
        "all",
    }
    assert set(counts) <= after_scores


@pytest.mark.slow
def test_report_renders(offline_run: dict[str, Path], tmp_path: Path) -> None:
    report = tmp_path / "report.zip"
    snakemake("--report", str(report), "--configfile", "configs/offline.yaml", str(offline_run["overlay"]))
    assert report.stat().st_size > 10_000
    with zipfile.ZipFile(report) as archive:
        (page,) = [n for n in archive.namelist() if n.endswith("report.html")]
        html = archive.read(page).decode()
    opening = html[html.index("nacbench: FSQ neural audio codecs on noisy channels") :][:4000]
    # the reduced run has real codecs only: the page says so and gives their headline numbers
    assert "every codec ran on its published weights" in opening
    assert "Study A</strong> (" in opening and "Lyra" in opening and "clean STOI 0." in opening


@pytest.mark.slow
def test_interrupted_run_resumes_without_recomputing(shared_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    overlay = write_overlay(
        tmp_path / "overlay.yaml",
        results,
        {"study_labelling": {"codecs": [], "labellings": ["natural"]}},
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--configfile",
        "configs/offline.yaml",
        str(overlay),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 600
    try:
        while time.time() < deadline and not list((results / "metrics").rglob("*.parquet")):
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # as hard as a power cut: no cleanup by Snakemake
        proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in (results / "codes").rglob("*.npz")}
    assert finished, "the run was killed before any job finished"
    # a hard kill leaves Snakemake's lock behind (README: unlock once, then restart)
    snakemake("--unlock", "--configfile", "configs/offline.yaml", str(overlay))
    snakemake("--cores", "2", "--configfile", "configs/offline.yaml", str(overlay))
    assert {p: p.stat().st_mtime_ns for p in finished} == finished, "finished jobs were recomputed"
    assert (results / "figures" / "figure3.png").exists()
    assert not list(results.rglob("*.tmp*")), "a temporary file survived"
    out = snakemake("-n", "--configfile", "configs/offline.yaml", str(overlay)).stdout
    assert "Nothing to be done" in out


def test_channel_streams_are_identical_across_processes() -> None:
    """Named random streams do not depend on the process (no hash() seeds)."""
    code = (
        "import numpy as np; from nacbench.seeds import derive_rng; "
        "print(derive_rng(0, 'lyra', 'librispeech', '000', 'bsc', 0.01, 0.0).integers(0, 2**31, 3).tolist())"
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(runs) == 1
    assert len(json.loads(runs.pop())) == 3


def test_snakemake_lint_is_clean() -> None:
    out = snakemake("--lint")
    assert "Congratulations, your workflow is in a good condition!" in out.stdout + out.stderr


def test_ruff_is_clean() -> None:
    ruff = [sys.executable, "-m", "ruff"]
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([*ruff, *args], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_is_clean() -> None:
    """The Snakefile and every rule file are formatted (pyproject.toml's [tool.snakefmt])."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    """The package type-checks under pyproject.toml's [tool.mypy] (stubs: envs/requirements-dev.txt)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "src/nacbench"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# a type-ignore comment, and the form every one must have: error codes in brackets, then a comment
# that says why (the pattern is split so that this file does not match itself)
_TYPE_IGNORE = re.compile(r"#\s*type:\s*" + "ignore")
_EXPLAINED_TYPE_IGNORE = re.compile(r"#\s*type:\s*" + r"ignore\[[\w-]+(\s*,\s*[\w-]+)*\]\s*#\s*\S")


def unexplained_type_ignores(text: str) -> list[str]:
    """Lines of ``text`` with a type-ignore comment that names no error code or gives no reason."""
    return [
        line.strip()
        for line in text.splitlines()
        if _TYPE_IGNORE.search(line) and not _EXPLAINED_TYPE_IGNORE.search(line)
    ]


def test_unexplained_type_ignores_are_found() -> None:
    ignore = "# type: " + "ignore"
    assert unexplained_type_ignores(f"x = f()  {ignore}[arg-type]  # a wrong type on purpose\n") == []
    assert unexplained_type_ignores(f"x = f()  {ignore}[arg-type, misc]  # why\n") == []
    for bad in (f"x = f()  {ignore}", f"x = f()  {ignore}[arg-type]", f"x = f()  {ignore}  # why"):
        assert unexplained_type_ignores(bad) == [bad]


def test_every_type_ignore_names_its_code_and_reason() -> None:
    """Issue 11: no type-ignore without a reason, in the package, tests, workflow, benchmarks or notebooks."""
    files = [REPO / "Snakefile"] + [
        path
        for folder in ("src", "tests", "workflow", "benchmarks", "notebooks")
        for path in sorted((REPO / folder).rglob("*"))
        if path.suffix in (".py", ".smk", ".ipynb")
    ]
    found = {
        str(path.relative_to(REPO)): lines
        for path in files
        if (lines := unexplained_type_ignores(path.read_text(encoding="utf-8")))
    }
    assert not found, found
