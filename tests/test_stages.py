"""Stage functions without Snakemake: one shard through encode -> channel -> decode -> score, and the
log of a failing job naming the utterance it was on. The audio is generated (conftest.speech_like), so
these run without ../shared."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from conftest import write_librispeech_like

from nacbench import stages
from nacbench.artifacts import CodeShard, load_codewords, load_shard, save_shard
from nacbench.codecs.base import CodecAdapter, CodecInfo
from nacbench.conditions import condition_columns
from nacbench.data.manifest import DatasetError
from nacbench.logs import job_log

CODEC2 = {"adapter": "codec2", "mode": 3200}
METRICS = {"stoi": {}, "si_sdr": {}}


@pytest.fixture
def rows(tmp_path: Path) -> pd.DataFrame:
    corpus = write_librispeech_like(tmp_path / "corpus", n_utterances=5)
    manifest, skipped = tmp_path / "manifest.tsv", tmp_path / "skipped.tsv"
    data = {"reader": "librispeech", "root": str(corpus / "LibriSpeech"), "on_error": "error"}
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
    from nacbench.artifacts import CodeShard, save_shard
    from nacbench.audio import write_decoded
    from nacbench.codecs.base import CodecInfo
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
    condition = condition_columns("toy5", "toy", channel, "000")
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
    monkeypatch.setattr(stages, "load_codec", lambda name, options, device, decode_only=False: adapter)
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
    condition = condition_columns("toy-norm", "toy", "clean", "000")
    stages.score_shard(str(audio), str(received), str(info), rows, {"mel_mse": mel}, 1, condition, str(out))
    assert (pd.read_parquet(out).mel_mse < 0.05).all()


# ------------------------------------------------------------------------------ labelling: the fit set


class _ScalarGridCodec(CodecAdapter):
    """One 4-entry codebook whose codewords are the levels 0, 1, 2, 3 of a uniform scalar grid."""

    def __init__(self) -> None:
        self.info = CodecInfo("grid4", "Grid4", 16_000, 16_000, 50.0, (4,), "other")

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError("the fit-set tests write their codes directly")

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError("the fit-set tests decode nothing")

    def codeword_vectors(self) -> list[np.ndarray]:
        return [np.arange(4.0)[:, None]]


def _fit_dataset(tmp_path: Path, name: str, codes: list[np.ndarray], n_shards: int) -> tuple[str, list[str]]:
    """A manifest of ``len(codes)`` utterances and their codes split into shards (i goes to i mod n)."""
    from nacbench.artifacts import CodeShard, save_shard
    from nacbench.data.manifest import MANIFEST_COLUMNS

    ids = [f"{name}_{i:03d}" for i in range(len(codes))]
    rows = [
        {"utt_id": u, "speaker": "s", "path": f"/{u}.wav", "duration_s": 1.0, "sample_rate": 16000}
        for u in ids
    ]
    manifest = tmp_path / f"{name}.tsv"
    pd.DataFrame(rows).assign(transcript="").reindex(columns=MANIFEST_COLUMNS).to_csv(
        manifest, sep="\t", index=False
    )
    paths = []
    for s in range(n_shards):
        path = tmp_path / f"{name}_{s:03d}.npz"
        save_shard(path, CodeShard(ids[s::n_shards], codes[s::n_shards], False), 1)
        paths.append(str(path))
    return str(manifest), paths


def _labelling_stages(tmp_path: Path, in_sample: bool, usage_codes: list[np.ndarray]) -> pd.DataFrame:
    from nacbench.labelling import Labelling

    info = tmp_path / "codec.json"
    _ScalarGridCodec().info.write(info)
    # the fit set: the first 3 of 5 utterances; the last two would count only level 0 if they were used
    fit_codes = [*usage_codes, np.zeros((1, 50), np.int64), np.zeros((1, 50), np.int64)]
    manifest, shards = _fit_dataset(tmp_path, "arctic", fit_codes, 2)
    words = tmp_path / "codewords.npz"
    stages.write_codewords("grid4", {}, "cpu", shards, str(words), manifest, ("arctic", 3), in_sample)
    for name in ("gray", "distortion-aware"):
        stages.build_labelling(name, "grid4", str(info), str(words), 0, str(tmp_path / f"{name}.npz"), 50)
    da = Labelling.from_npz(tmp_path / "distortion-aware.npz").meta
    assert da["fit_set"]["dataset"] == "arctic" and da["fit_set"]["utterances"] == 3
    assert da["fit_set"]["ids_sha256"] == stages.ids_sha256(["arctic_000", "arctic_001", "arctic_002"])
    assert da["fit_set"]["in_sample"] is in_sample and da["usage_provenance"].startswith(
        "in-sample" if in_sample else "out-of-sample"
    )
    labellings = [str(tmp_path / f"{n}.npz") for n in ("gray", "distortion-aware")]
    return stages.expected_distortion_table(
        "grid4", str(info), str(words), labellings, str(tmp_path / "ed.csv")
    )


@pytest.mark.parametrize("in_sample", [False, True])
def test_usage_comes_from_the_fit_set_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_sample: bool
) -> None:
    monkeypatch.setattr(
        stages, "load_codec", lambda name, options, device, decode_only=False: _ScalarGridCodec()
    )
    usage_codes = [np.array([[0, 1, 1, 2]]), np.array([[2, 2, 3]]), np.array([[1]])]
    table = _labelling_stages(tmp_path, in_sample, usage_codes)
    vectors, usage = load_codewords(str(tmp_path / "codewords.npz"))
    np.testing.assert_array_equal(usage[0], [1, 3, 3, 1])  # the first 3 utterances only
    assert table.fit_set.eq("arctic (3 utterances)").all() and table.in_sample.eq(in_sample).all()
    assert table.note.str.contains("in-sample").all() == in_sample
    with pytest.raises(ValueError, match=r"fit.utterances: 9 asked for.*lists 5"):
        stages.fit_set_codes([str(tmp_path / "arctic_000.npz")], str(tmp_path / "arctic.tsv"), "arctic", 9)
    with pytest.raises(ValueError, match=r"1 utterances \(first arctic_001\) are in no codes shard"):
        stages.fit_set_codes([str(tmp_path / "arctic_000.npz")], str(tmp_path / "arctic.tsv"), "arctic", 2)


def test_expected_distortion_table_shows_whether_natural_or_gray_is_cheaper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Natural binary is optimal on a uniform 4-level grid only under uniform usage. With FSQ-like
    middle-heavy usage the table must report whichever of natural and Gray really costs less."""
    monkeypatch.setattr(
        stages, "load_codec", lambda name, options, device, decode_only=False: _ScalarGridCodec()
    )
    counts = np.array([5, 45, 45, 5])  # middle-heavy, as FSQ's levels are used
    usage_codes = [np.repeat(np.arange(4), counts)[None]]
    usage_codes += [np.zeros((1, 0), np.int64), np.zeros((1, 0), np.int64)]
    table = _labelling_stages(tmp_path, False, usage_codes).set_index("labelling")

    p = counts / counts.sum()
    level = np.arange(4.0)

    def cost(labels: list[int]) -> float:  # mean over the 2 bit positions of E[(level - flipped level)^2]
        index_of = {lab: i for i, lab in enumerate(labels)}
        return float(
            np.mean(
                [
                    sum(p[i] * (level[i] - level[index_of[labels[i] ^ (1 << b)]]) ** 2 for i in range(4))
                    for b in range(2)
                ]
            )
        )

    natural, gray = cost([0, 1, 2, 3]), cost([0, 1, 3, 2])
    assert table.loc["natural", "expected_sq_jump"] == pytest.approx(natural)
    assert table.loc["gray", "expected_sq_jump"] == pytest.approx(gray)
    cheaper, dearer = ("natural", "gray") if natural < gray else ("gray", "natural")
    assert table.loc[cheaper, "expected_sq_jump"] < table.loc[dearer, "expected_sq_jump"]
    assert not table.loc[dearer, "cheapest"]
    lowest = table["expected_sq_jump"].min()
    assert table["cheapest"].tolist() == table["expected_sq_jump"].eq(lowest).tolist()
    # the distortion-aware search finds at least the cheaper of the two
    assert table.loc["distortion-aware", "expected_sq_jump"] <= min(natural, gray) + 1e-12


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
    condition = condition_columns("codec2-3200", "ds", "clean", "000")
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
        study_a_tables(
            str(scores), [], ["dac", "lyra"], *outs, {}, 10, 0, {"dac": False, "lyra": False}, ["clean"]
        )
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


def test_a_truncated_metrics_shard_is_named_by_tidy_scores(tmp_path: Path) -> None:
    from nacbench.artifacts import ArtifactError, write_parquet

    good, bad = tmp_path / "000.parquet", tmp_path / "001.parquet"
    write_parquet(pd.DataFrame({"utt_id": ["a"], "stoi": [0.9]}), good)
    write_parquet(pd.DataFrame({"utt_id": ["b"], "stoi": [0.8]}), bad)
    bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(ArtifactError, match=r"001\.parquet.*rerun"):
        stages.tidy_scores([str(good), str(bad)], str(tmp_path / "t.parquet"), str(tmp_path / "t.csv.gz"))
    assert not (tmp_path / "t.parquet").exists()


def test_a_decode_job_gives_what_separate_channel_and_full_model_one_by_one_give(tmp_path: Path) -> None:
    """The decode job transmits the clean codes, then decodes them decode-only in order of length (equal
    lengths batched): the received codes equal the separate channel stage's, and the audio the full
    model's (bit for bit in the same batches; to float rounding one utterance at a time)."""
    from nacbench.audio import read_audio
    from nacbench.codecs import build_codec

    options = {"adapter": "encodec", "random_weights": True, "n_codebooks": 4}
    info = tmp_path / "codec.json"
    stages.write_codec_info("enc", options, "cpu", str(info))
    rng = np.random.default_rng(0)
    lengths = [30, 12, 30, 7, 12, 30]  # equal lengths share a batch under exact batching
    clean = [rng.integers(0, 1024, (4, n)) for n in lengths]
    ids = [f"u{i}" for i in range(len(lengths))]
    codes = tmp_path / "codes.npz"
    save_shard(codes, CodeShard(ids, clean, True), 4)
    channel = "bsc-p0.05-seed0"

    fused = tmp_path / "fused"
    stages.transmit_and_decode(
        "enc", options, "cpu", str(codes), str(info), channel, "ds", "000",
        str(fused / "received.npz"), str(fused / "audio"), str(fused / "listen"), [],
    )  # fmt: skip
    apart = tmp_path / "received.npz"
    stages.transmit_shard(str(codes), str(info), channel, "enc", "ds", "000", str(apart))
    received, fused_received = load_shard(apart), load_shard(fused / "received.npz")
    assert all(np.array_equal(a, b) for a, b in zip(received.codes, fused_received.codes, strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(received.codes, clean, strict=True))

    full = build_codec("enc", options)
    together = full.decode(received.codes)  # the same batches: bit-identical
    for utt, c, batched in zip(received.utt_ids, received.codes, together, strict=True):
        written = read_audio(fused / "audio" / f"{utt}.wav", expected_rate=24_000)
        assert np.array_equal(written, batched)
        # one by one: the batched convolutions round differently in the last bits (float32)
        np.testing.assert_allclose(written, full.decode([c])[0], rtol=0, atol=1e-6)


def test_a_studys_tables_pool_only_its_own_conditions() -> None:
    """The tidy table holds every study's conditions: the quantizer swap's extra seeds for Lyra must not
    enter Study A's means (seed 0 only there), nor the labelling study's natural-labelling curve."""
    from nacbench.report import study_rows

    tidy = pd.DataFrame(
        {
            "codec": ["lyra", "lyra", "lyra", "lyra", "dac"],
            "channel": ["clean", "bsc-p0.1-seed0", "bsc-p0.1-seed1", "bsc-p0.1-seed0-gray", "bsc-p0.1-seed0"],
        }
    )
    rows = study_rows(tidy, ["lyra"], ["clean", "bsc-p0.1-seed0"])
    assert list(rows.index) == [0, 1]
