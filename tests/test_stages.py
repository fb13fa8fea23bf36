"""Stage functions without Snakemake: one shard through encode -> channel -> decode -> score, and the
log of a failing job naming the utterance it was on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nacbench import stages
from nacbench.artifacts import load_shard
from nacbench.conditions import condition_columns
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
    condition = condition_columns("codec2-3200", "librispeech", "bsc-p0.05-seed0", "000")
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
    condition = condition_columns("codec2-3200", "librispeech", "clean", "000")
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
