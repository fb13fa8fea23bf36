"""Stage functions without Snakemake: one shard through encode -> channel -> decode -> score, and the
log of a failing job naming the utterance it was on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nacbench import stages
from nacbench.codecs.base import CodecAdapter, CodecInfo
from nacbench.codes_io import load_shard
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


def _synthetic_rows(tmp_path: Path, n: int, rate: int = 16_000) -> pd.DataFrame:
    """``n`` generated utterances (noise-modulated tones, 0.6 s) written as FLAC, as a manifest slice."""
    from nacbench.audio import write_audio

    rng = np.random.default_rng(0)
    t = np.arange(int(0.6 * rate)) / rate
    rows = []
    for i in range(n):
        wav = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.01 * rng.normal(size=t.size)
        path = tmp_path / "orig" / f"u{i}.flac"
        write_audio(path, wav.astype(np.float32), rate)
        rows.append({"utt_id": f"u{i}", "path": str(path), "duration_s": t.size / rate})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("policy", ["clamp", "wrap"])
def test_out_of_range_counts_reach_the_score_and_failure_tables(tmp_path: Path, policy: str) -> None:
    """A 5-entry codebook sends 3 bits per index: flipped indices 5-7 are out of range. Their count per
    utterance and the policy that mapped them back must appear in the scores and the failures table."""
    from nacbench.audio import write_decoded
    from nacbench.codecs.base import CodecInfo
    from nacbench.codes_io import CodeShard, save_shard
    from nacbench.tables import failure_counts

    rows = _synthetic_rows(tmp_path, 3)
    info = CodecInfo("toy5", "Toy5", 16_000, 16_000, 50.0, (5, 3), "other")
    info.write(tmp_path / "codec.json")
    rng = np.random.default_rng(1)
    codes = [np.stack([rng.integers(0, 5, 200), rng.integers(0, 3, 200)]) for _ in range(3)]
    save_shard(tmp_path / "codes.npz", CodeShard(list(rows.utt_id), codes, False), 2)
    received = tmp_path / "bsc.npz"
    channel = "bsc-p0.2-seed0"
    stages.transmit_shard(
        str(tmp_path / "codes.npz"),
        str(tmp_path / "codec.json"),
        channel,
        "toy5",
        "toy",
        "000",
        str(received),
        out_of_range=policy,
    )
    sent = load_shard(received).extras["out_of_range"]
    assert (sent > 0).all()  # p = 0.2 over 200 frames: every utterance has some
    audio = tmp_path / "audio"
    for utt, path in zip(rows.utt_id, rows.path, strict=True):
        write_decoded(audio / f"{utt}.wav", stages.read_audio(path), 16_000)
    out = tmp_path / "scores.parquet"
    condition = stages.condition_columns("toy5", "toy", channel, "000")
    stages.score_shard(
        str(audio), str(received), str(tmp_path / "codec.json"), rows, {"si_sdr": {}}, 1, condition, str(out)
    )
    scores = pd.read_parquet(out)
    np.testing.assert_array_equal(scores.out_of_range, sent)
    assert scores.out_of_range_policy.eq(policy).all()
    assert list(scores.columns).index("out_of_range") == list(scores.columns).index("bits_flipped") + 1

    failures = failure_counts(scores, ["si_sdr"]).iloc[0]
    assert failures["utterances_out_of_range"] == 3
    assert failures["indices_out_of_range"] == int(sent.sum())
    assert failures["out_of_range_policy"] == policy


class _LevelNormalisingCodec(CodecAdapter):
    """A toy StableCodec: normalises every input to RMS 0.1 (StableCodec: -20 LUFS), then sends each
    sample as a 12-bit index, so its decoder returns the normalised level, not the input's."""

    def __init__(self) -> None:
        self.info = CodecInfo("toy-norm", "ToyNorm", 16_000, 16_000, 16_000.0, (4096,), "other")

    def input_gain_db(self, wav: np.ndarray) -> float:
        return float(20 * np.log10(0.1 / np.sqrt(np.mean(np.square(wav, dtype=np.float64)))))

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        scaled = [w * 10 ** (self.input_gain_db(w) / 20) for w in wavs]
        return [np.clip(np.rint((x + 1) * 2047.5), 0, 4095).astype(np.int64)[None] for x in scaled]

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [(c[0] / 2047.5 - 1).astype(np.float32) for c in codes]


def test_input_normalisation_is_undone_before_scoring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gain an adapter applies before encoding is recorded in the codes npz, carried by the channel
    npz and divided out at decoding: the decoded audio is at the input's level and mel-MSE (which is not
    gain-invariant) does not charge the codec a loudness offset."""
    mel = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())["metrics"][
        "mel_mse"
    ]
    adapter = _LevelNormalisingCodec()
    monkeypatch.setattr(stages, "load_codec", lambda name, options, device: adapter)
    rows = _synthetic_rows(tmp_path, 2)
    info, codes, received = tmp_path / "codec.json", tmp_path / "codes.npz", tmp_path / "clean.npz"
    stages.write_codec_info("toy-norm", {}, "cpu", str(info))
    stages.encode_shard("toy-norm", {}, "cpu", rows, str(codes))
    originals = [stages.read_audio(p) for p in rows.path]
    expected = [adapter.input_gain_db(w) for w in originals]
    np.testing.assert_allclose(load_shard(codes).extras["input_gain_db"], expected)
    assert abs(expected[0]) > 5  # 0.3-amplitude tone vs RMS 0.1: a real offset to undo
    stages.transmit_shard(str(codes), str(info), "clean", "toy-norm", "toy", "000", str(received))
    np.testing.assert_allclose(load_shard(received).extras["input_gain_db"], expected)

    audio = tmp_path / "audio"
    stages.decode_shard("toy-norm", {}, "cpu", str(received), str(audio), str(tmp_path / "listen"), [])
    for utt, original in zip(rows.utt_id, originals, strict=True):
        decoded = stages.read_audio(audio / f"{utt}.wav")
        level = 20 * np.log10(
            np.sqrt(np.mean(decoded.astype(np.float64) ** 2) / np.mean(original.astype(np.float64) ** 2))
        )
        assert abs(level) < 0.05
    out = tmp_path / "scores.parquet"
    condition = stages.condition_columns("toy-norm", "toy", "clean", "000")
    stages.score_shard(str(audio), str(received), str(info), rows, {"mel_mse": mel}, 1, condition, str(out))
    assert (pd.read_parquet(out).mel_mse < 0.05).all()
