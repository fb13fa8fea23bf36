"""Stage functions without Snakemake: one shard through encode -> channel -> decode -> score, and the
log of a failing job naming the utterance it was on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from nacbench import stages
from nacbench.codecs.base import CodecInfo
from nacbench.codes_io import CodeShard, load_shard, save_shard
from nacbench.data.manifest import DatasetError
from nacbench.logs import job_log

CODEC2 = {"adapter": "codec2", "mode": 3200}
METRICS = {"stoi": {}, "si_sdr": {}}


@pytest.fixture
def rows(shared_dir: Path, tmp_path: Path) -> pd.DataFrame:
    manifest, skipped = tmp_path / "manifest.tsv", tmp_path / "skipped.tsv"
    data = {"reader": "librispeech", "root": str(shared_dir / "corpus" / "LibriSpeech"), "on_error": "error"}
    stages.build_manifest("librispeech", data, "unused", 0, str(manifest), str(skipped))
    return stages.shard_rows(str(manifest), "000", 2)  # utterances 0, 2, 4


def test_one_shard_through_every_stage(rows: pd.DataFrame, tmp_path: Path) -> None:
    info, codes, received = tmp_path / "codec.json", tmp_path / "codes.npz", tmp_path / "bsc.npz"
    stages.write_codec_info("codec2-3200", CODEC2, "cpu", str(info))
    stages.encode_shard("codec2-3200", CODEC2, "cpu", rows, str(codes))
    stages.transmit_shard(
        str(codes), str(info), "bsc-p0.05-seed0", "codec2-3200", "librispeech", "000", str(received)
    )
    shard = load_shard(received)
    assert shard.utt_ids == list(rows.utt_id)
    assert 0 < shard.extras["bits_flipped"].sum() < shard.extras["bits_sent"].sum()

    audio, listen = tmp_path / "audio", tmp_path / "listen"
    keep = [rows.utt_id.iloc[0]]
    stages.decode_shard("codec2-3200", CODEC2, "cpu", str(received), str(audio), str(listen), keep)
    assert sorted(p.stem for p in audio.glob("*.wav")) == sorted(rows.utt_id)
    assert [p.stem for p in listen.glob("*.flac")] == keep

    out = tmp_path / "scores.parquet"
    condition = stages.condition_columns("codec2-3200", "librispeech", "bsc-p0.05-seed0", "000")
    stages.score_shard(str(audio), str(received), str(info), rows, METRICS, 1, condition, str(out))
    scores = pd.read_parquet(out)
    assert list(scores.utt_id) == list(rows.utt_id)
    assert scores.p_flip.eq(0.05).all() and scores.labelling.eq("natural").all()
    assert np.isfinite(scores.stoi).all() and scores.stoi.between(0.0, 1.0).all()
    assert (scores.bits_flipped > 0).all() and not scores.random_weights.any()


def test_missing_decoded_audio_is_a_nan_row_with_its_reason(rows: pd.DataFrame, tmp_path: Path) -> None:
    info, codes = tmp_path / "codec.json", tmp_path / "codes.npz"
    stages.write_codec_info("codec2-3200", CODEC2, "cpu", str(info))
    stages.encode_shard("codec2-3200", CODEC2, "cpu", rows, str(codes))
    audio = tmp_path / "audio"
    stages.decode_shard("codec2-3200", CODEC2, "cpu", str(codes), str(audio), str(tmp_path / "listen"), [])
    lost = rows.utt_id.iloc[1]
    (audio / f"{lost}.wav").unlink()
    out = tmp_path / "scores.parquet"
    condition = stages.condition_columns("codec2-3200", "librispeech", "clean", "000")
    stages.score_shard(str(audio), str(codes), str(info), rows, METRICS, 1, condition, str(out))
    row = pd.read_parquet(out).set_index("utt_id").loc[lost]
    assert np.isnan(row.stoi) and row.error == "no decoded audio"


def test_a_failing_job_log_names_the_utterance(rows: pd.DataFrame, tmp_path: Path) -> None:
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"not audio at all")
    bad = rows.copy()
    bad.loc[bad.index[-1], "path"] = str(broken)
    log = tmp_path / "encode.log"
    with pytest.raises(ValueError), job_log(log):
        stages.encode_shard("codec2-3200", CODEC2, "cpu", bad, str(tmp_path / "codes.npz"))
    text = log.read_text()
    assert bad.utt_id.iloc[-1] in text and str(broken) in text and "job failed" in text
    assert not (tmp_path / "codes.npz").exists()  # nothing half-written is left as done


# ----------------------------------------------- another configuration's artifacts are refused, by name


def _random_artifacts(tmp_path: Path) -> dict[str, Path]:
    """A codec.json, codes and received codes recorded as random-weight, as the offline overlay leaves
    them, for a codec that the config under test asks to run on real weights."""
    info = CodecInfo("codec2-3200", "Codec2", 8000, 8000, 50.0, (2,) * 64, "parametric", random_weights=True)
    paths = {"info": tmp_path / "codes" / "codec.json", "codes": tmp_path / "channel" / "000.npz"}
    paths["info"].parent.mkdir(parents=True)
    info.write(paths["info"])
    save_shard(paths["codes"], CodeShard(["u0"], [np.zeros((64, 3), np.int64)], True), 64)
    return paths


def test_decode_refuses_random_weight_codes_in_a_real_weights_run(tmp_path: Path) -> None:
    paths = _random_artifacts(tmp_path)
    with pytest.raises(stages.WeightsMismatch, match="RANDOM weights") as err:
        stages.decode_shard(
            "codec2-3200", CODEC2, "cpu", str(paths["codes"]), str(tmp_path / "a"), str(tmp_path / "l"), []
        )
    assert str(paths["codes"]) in str(err.value) and "results/offline" in str(err.value)
    assert not (tmp_path / "a").exists() or not list((tmp_path / "a").iterdir())


def test_score_refuses_random_weight_codec_info(tmp_path: Path) -> None:
    paths = _random_artifacts(tmp_path)
    rows = pd.DataFrame({"utt_id": ["u0"], "path": ["unused.flac"], "duration_s": [1.0]})
    condition = stages.condition_columns("codec2-3200", "ds", "clean", "000")
    with pytest.raises(stages.WeightsMismatch, match="Delete it") as err:
        stages.score_shard(
            str(tmp_path), str(paths["codes"]), str(paths["info"]), rows, METRICS, 1, condition, "x.parquet"
        )
    assert str(paths["info"]) in str(err.value)
    # asked for random weights (the offline overlay), the same artifacts pass the check
    stages.check_random_weights(paths["info"], True, "codec2-3200", asked=True)


def test_tables_refuse_scores_built_on_other_weights(tmp_path: Path) -> None:
    from nacbench.report import study_a_tables

    scores = tmp_path / "scores.parquet"
    pd.DataFrame(
        {"codec": ["dac", "lyra"], "labelling": "natural", "random_weights": [True, False], "utt_id": "u"}
    ).to_parquet(scores)
    outs = [[str(tmp_path / f"{name}.csv")] for name in ("t3", "summary", "breakdown", "failures")]
    with pytest.raises(stages.WeightsMismatch) as err:
        study_a_tables(str(scores), [], ["dac", "lyra"], *outs, {}, 10, 0, {"dac": False, "lyra": False})
    assert str(scores) in str(err.value) and "'dac'" in str(err.value)
    assert not (tmp_path / "t3.csv").exists()


def test_results_folder_with_another_configurations_codec_info_is_refused(tmp_path: Path) -> None:
    paths = _random_artifacts(tmp_path / "results")
    target = tmp_path / "results" / "codes" / "codec2-3200" / "codec.json"
    target.parent.mkdir(parents=True)
    paths["info"].replace(target)
    with pytest.raises(stages.WeightsMismatch) as err:
        stages.check_results_folder(tmp_path / "results", {"codec2-3200": CODEC2})
    assert str(target) in str(err.value)
    stages.check_results_folder(tmp_path / "results", {"codec2-3200": {**CODEC2, "random_weights": True}})
    stages.check_results_folder(tmp_path / "elsewhere", {"codec2-3200": CODEC2})  # nothing there yet


def test_every_drawn_utterance_skipped_names_the_files_and_writes_skipped_tsv(tmp_path: Path) -> None:
    """on_error: skip and nothing usable: the error says which files and why, and the skip list is
    written (also to a copy that survives Snakemake removing a failed job's outputs)."""
    chapter = tmp_path / "LibriSpeech" / "test-clean" / "19" / "198"
    chapter.mkdir(parents=True)
    (chapter / "19-198.trans.txt").write_text("19-198-0000 HELLO\n19-198-0001 WORLD\n")
    (chapter / "19-198-0000.flac").write_bytes(b"not audio at all")
    sf.write(chapter / "19-198-0001.flac", np.zeros(800, np.float32), 8000)  # wrong rate
    data = {"reader": "librispeech", "root": str(tmp_path), "on_error": "skip"}
    outs = {k: tmp_path / "out" / f"{k}.tsv" for k in ("manifest", "skipped", "kept")}
    with pytest.raises(DatasetError) as err:
        stages.build_manifest("libri", data, "unused", 0, *(str(p) for p in outs.values()))
    message = str(err.value)
    assert "data.libri" in message and "no usable utterances (2 skipped)" in message
    assert str(chapter / "19-198-0000.flac") in message and "cannot read audio header" in message
    assert str(chapter / "19-198-0001.flac") in message and "8000 Hz, expected 16000" in message
    assert str(outs["skipped"]) in message
    for path in (outs["skipped"], outs["kept"]):
        skipped = pd.read_csv(path, sep="\t")
        assert sorted(skipped.utt_id) == ["19-198-0000", "19-198-0001"]
        assert skipped.reason.str.len().gt(0).all()
    assert not outs["manifest"].exists()
