"""Lyra v2 adapter on the real TFLite models and real LibriSpeech speech from ../shared."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from pystoi import stoi

from nacbench.audio import SCORING_RATE, read_audio, resample, trim_to_common_length
from nacbench.codecs import DecodeOnlyError, WeightsUnavailableError, build_codec
from nacbench.codecs import lyra as lyra_module
from nacbench.codecs.lyra import (
    CODEBOOK_SIZE,
    FRAME_SAMPLES,
    LYRA_FILES,
    MAX_QUANTIZERS,
    UNUSED_SLOT,
    decoder_indices,
    frame_audio,
    read_config_identifier,
)
from nacbench.codecs.weights import cached_file, default_cache_dir

UNREACHABLE = "http://127.0.0.1:9/"


@pytest.fixture(scope="module")
def model_dir(shared_dir: Path) -> Path:
    return shared_dir / "models" / "lyra-v2"


@pytest.fixture(scope="module")
def speech(shared_dir: Path) -> list[np.ndarray]:
    """The 5 LibriSpeech test-clean utterances at 16 kHz, shortest first."""
    files = sorted((shared_dir / "corpus" / "LibriSpeech" / "test-clean").rglob("*.flac"))
    assert len(files) == 5
    return sorted((read_audio(f) for f in files), key=len)


def _build(model_dir: Path, num_quantizers: int = 30, name: str = "lyra", decode_only: bool = False):
    options = {"adapter": "lyra", "model_dir": str(model_dir), "num_quantizers": num_quantizers}
    return build_codec(name, options, decode_only=decode_only)


@pytest.fixture(scope="module")
def lyra30(model_dir: Path):
    return _build(model_dir, 30)


@pytest.fixture(scope="module")
def codes30(lyra30, speech: list[np.ndarray]) -> list[np.ndarray]:
    return lyra30.encode([resample(w, SCORING_RATE, lyra30.info.input_sample_rate) for w in speech])


def _mean_clean_stoi(codec, speech: list[np.ndarray], codes: list[np.ndarray]) -> float:
    scores = []
    for ref, out in zip(speech, codec.decode(codes), strict=True):
        deg = resample(out, codec.info.output_sample_rate, SCORING_RATE)[codec.info.delay_samples :]
        scores.append(stoi(*trim_to_common_length(ref, deg), SCORING_RATE, extended=False))
    return float(np.mean(scores))


def test_info_describes_the_code_layout(lyra30) -> None:
    info = lyra30.info
    assert (info.input_sample_rate, info.output_sample_rate, info.frame_rate) == (16000, 16000, 50.0)
    assert info.codebook_sizes == (16,) * 30 and info.quantizer == "rvq"
    assert info.bits_per_codebook == (4,) * 30 and info.bitrate_bps == 6000.0
    assert info.weights_id.endswith("sha256:237da0b16226fb0a") and not info.random_weights
    assert info.extra["matches_pinned_release"] is True


def test_encode_gives_varied_in_range_codes_per_frame(lyra30, speech, codes30) -> None:
    for wav, codes in zip(speech, codes30, strict=True):
        assert codes.dtype == np.int64
        assert codes.shape == (30, -(-len(wav) // FRAME_SAMPLES))
        assert codes.min() >= 0 and codes.max() < CODEBOOK_SIZE
    # a trained RVQ uses (nearly) its whole codebook in every stage on 10 s of real speech (15-16 seen)
    assert min(len(np.unique(row)) for row in codes30[-1]) >= 12


def test_decode_returns_whole_frames_of_float_audio(lyra30, codes30) -> None:
    out = lyra30.decode(codes30[:2])
    for codes, wav in zip(codes30[:2], out, strict=True):
        assert wav.dtype == np.float32 and wav.shape == (codes.shape[1] * FRAME_SAMPLES,)
        assert np.isfinite(wav).all() and np.abs(wav).max() <= 1.0 and wav.std() > 1e-3


def test_codes_do_not_depend_on_previous_utterances(lyra30, speech) -> None:
    """The TFLite encoder/decoder are stateful: reusing interpreters would leak A's state into B."""
    a, b = speech[0], speech[1]
    codes_ab = lyra30.encode([a, b])
    codes_b = lyra30.encode([b])
    np.testing.assert_array_equal(codes_ab[1], codes_b[0])
    wav_ab = lyra30.decode(codes_ab)
    np.testing.assert_array_equal(wav_ab[1], lyra30.decode(codes_b)[0])


def test_clean_stoi_is_that_of_a_working_codec(lyra30, model_dir, speech, codes30) -> None:
    """Measured here: mean classic STOI 0.934 (30 quantizers, 6 kbps) and 0.946 (46, 9.2 kbps)."""
    stoi30 = _mean_clean_stoi(lyra30, speech, codes30)
    lyra46 = _build(model_dir, 46)
    stoi46 = _mean_clean_stoi(lyra46, speech, lyra46.encode(speech))
    assert stoi30 > 0.88
    assert stoi46 > 0.89
    assert stoi46 > stoi30  # more residual stages can only refine the feature


def test_codeword_vectors_are_what_the_quantizer_decode_sums(lyra30, codes30) -> None:
    vectors = lyra30.codeword_vectors()
    assert len(vectors) == 30
    assert all(v.shape == (CODEBOOK_SIZE, 64) and v.dtype == np.float32 for v in vectors)
    assert all(len(np.unique(v.round(5), axis=0)) == CODEBOOK_SIZE for v in vectors)
    # the decoder input for a full code column is the sum of its stages' codewords (RVQ)
    _, dequantize = lyra30._models.quantizer_runners()
    column = codes30[0][:, 7]
    feature = dequantize(encoding_indices=decoder_indices(column[:, None])[0])["output_0"].reshape(64)
    expected = np.sum([vectors[k][i] for k, i in enumerate(column)], axis=0)
    np.testing.assert_allclose(feature, expected, rtol=1e-4, atol=1e-4)


def test_decode_only_lyra_decodes_exactly_without_the_encoder_model(model_dir, lyra30, codes30) -> None:
    """A decode job loads the quantizer and LyraGAN alone; same audio, same info, encode refused."""
    decoder = _build(model_dir, 30, decode_only=True)
    assert decoder.info == lyra30.info  # the encoder file is hashed for the weights id, not loaded
    assert set(decoder._models._blobs) == {"quantizer.tflite", "lyragan.tflite"}
    for a, b in zip(lyra30.decode(codes30[:2]), decoder.decode(codes30[:2]), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(DecodeOnlyError, match=r"codec 'lyra' \(LyraAdapter\) was built decode-only"):
        decoder.encode([np.zeros(640, np.float32)])
    np.testing.assert_array_equal(decoder.codeword_vectors()[3], lyra30.codeword_vectors()[3])


def _dequantized(codec, codes: np.ndarray) -> np.ndarray:
    """``[64, frames]``: what Lyra's own RVQ hands LyraGAN for ``codes``."""
    _, dequantize = codec._models.quantizer_runners()
    return np.stack(
        [dequantize(encoding_indices=i)["output_0"].reshape(64) for i in decoder_indices(codes)], axis=1
    )


def test_latent_is_what_the_rvq_quantizes_and_lyragan_decodes(model_dir, lyra30, speech, codes30) -> None:
    """encode_latent is the RVQ's input (more stages land closer to it), decode_latent is the decoder
    behind decode (the RVQ's sums give decode's audio exactly), so another quantizer can be swapped in."""
    wavs = [resample(w, SCORING_RATE, lyra30.info.input_sample_rate) for w in speech[:2]]
    latents = lyra30.encode_latent(wavs)
    for latent, codes in zip(latents, codes30[:2], strict=True):
        assert latent.dtype == np.float32 and latent.shape == (64, codes.shape[1])
    lyra4 = _build(model_dir, 4)
    errors = {}
    for n, codec in ((4, lyra4), (30, lyra30)):
        codes = codec.encode(wavs[:1])[0]
        errors[n] = float(np.mean((_dequantized(codec, codes) - latents[0]) ** 2))
    assert errors[30] < 0.5 * errors[4]  # residual stages refine the encoder's latent
    (from_sums,) = lyra30.decode_latent([_dequantized(lyra30, codes30[0])])
    assert np.array_equal(from_sums, lyra30.decode(codes30[:1])[0])
    # the unquantized latent decodes to speech at least as intelligible as 6 kbps codes
    (direct,) = lyra30.decode_latent(latents[:1])
    unquantized = stoi(*trim_to_common_length(speech[0], direct), SCORING_RATE, extended=False)
    assert unquantized > 0.9


def test_latent_access_is_refused_by_name_where_absent(model_dir) -> None:
    from nacbench.codecs import Capability, MissingCapabilityError

    decoder = _build(model_dir, 30, decode_only=True)
    assert decoder.has(Capability.DECODE_LATENT) and not decoder.has(Capability.ENCODE_LATENT)
    with pytest.raises(DecodeOnlyError, match="cannot encode_latent"):
        decoder.encode_latent([np.zeros(640, np.float32)])
    with pytest.raises(ValueError, match=r"latent 0 has shape \(32, 3\), expected \(64, frames\)"):
        decoder.decode_latent([np.zeros((32, 3), np.float32)])
    codec2 = build_codec("codec2-3200", {"adapter": "codec2", "mode": 3200})
    with pytest.raises(
        MissingCapabilityError, match=r"codec 'codec2-3200' .* 'encode_latent', which the quantizer"
    ):
        codec2.require(Capability.ENCODE_LATENT, "the quantizer swap")


def test_decoder_indices_mark_unused_slots_with_minus_one() -> None:
    codes = np.array([[3, 4], [15, 0]])
    indices = decoder_indices(codes)
    assert indices.shape == (2, MAX_QUANTIZERS, 1, 1) and indices.dtype == np.int32
    np.testing.assert_array_equal(indices[:, :2, 0, 0], codes.T)
    assert (indices[:, 2:] == UNUSED_SLOT).all()


def test_frame_audio_zero_pads_the_last_frame() -> None:
    wav = np.linspace(-0.5, 0.5, 650, dtype=np.float32)
    frames = frame_audio(wav)
    assert frames.shape == (3, FRAME_SAMPLES)
    np.testing.assert_array_equal(frames.reshape(-1)[:650], wav)
    assert (frames.reshape(-1)[650:] == 0).all()
    assert frame_audio(np.zeros(0, dtype=np.float32)).shape == (0, FRAME_SAMPLES)


def test_out_of_codebook_indices_are_refused_before_tflite(lyra30, codes30) -> None:
    bad = codes30[0].copy()
    bad[3, 5] = 16
    with pytest.raises(ValueError, match="outside its codebook"):
        lyra30.decode([bad])
    with pytest.raises(ValueError, match=r"\[30, frames\]"):
        lyra30.decode([codes30[0][:29]])


def test_options_are_validated_with_the_config_key(model_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"codecs\.my_lyra: unknown option.*bitrate"):
        build_codec("my_lyra", {"adapter": "lyra", "model_dir": str(model_dir), "bitrate": 6000})
    with pytest.raises(ValueError, match=r"codecs\.my_lyra\.num_quantizers"):
        _build(model_dir, 47, name="my_lyra")


def test_missing_model_dir_names_the_option_and_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match=r"codecs\.x\.model_dir=.*soundstream_encoder\.tflite"):
        build_codec("x", {"adapter": "lyra", "model_dir": str(tmp_path)})


def test_no_network_and_no_cache_says_to_set_model_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NACBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(lyra_module, "LYRA_BASE_URL", UNREACHABLE)
    with pytest.raises(WeightsUnavailableError, match=r"codecs\.offline_lyra\.model_dir") as err:
        build_codec("offline_lyra", {"adapter": "lyra"})
    assert str(tmp_path / "cache" / "lyra-v2") in str(err.value)


def test_verified_cache_is_used_without_network(tmp_path: Path, monkeypatch, model_dir: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "lyra-v2").mkdir(parents=True)
    for filename in LYRA_FILES:
        shutil.copy(model_dir / filename, cache / "lyra-v2" / filename)
    monkeypatch.setenv("NACBENCH_CACHE", str(cache))
    monkeypatch.setattr(lyra_module, "LYRA_BASE_URL", UNREACHABLE)
    codec = build_codec("cached", {"adapter": "lyra", "num_quantizers": 16})
    assert codec.info.extra["matches_pinned_release"] is True
    assert codec.encode([np.zeros(640, dtype=np.float32)])[0].shape == (16, 2)


def test_config_identifier_is_read_from_the_proto(model_dir: Path, tmp_path: Path) -> None:
    assert read_config_identifier(model_dir / "lyra_config.binarypb") == 3
    multi_byte = tmp_path / "cfg.binarypb"
    multi_byte.write_bytes(b"\x08\x96\x01")
    assert read_config_identifier(multi_byte) == 150


# --- weights.py (generic download cache), exercised offline through file:// URLs ---------------------


def _source(tmp_path: Path, payload: bytes) -> tuple[str, str]:
    src = tmp_path / "remote.bin"
    src.write_bytes(payload)
    return src.as_uri(), hashlib.sha256(payload).hexdigest()


def test_cached_file_downloads_verifies_and_reuses(tmp_path: Path) -> None:
    url, sha = _source(tmp_path, b"weights v1")
    cache = tmp_path / "cache"
    path = cached_file(url, sha, cache, "w.bin")
    assert path == cache / "w.bin" and path.read_bytes() == b"weights v1"
    (tmp_path / "remote.bin").unlink()  # second call must not touch the network
    assert cached_file(url, sha, cache, "w.bin") == path
    assert [p.name for p in cache.iterdir()] == ["w.bin"]  # no temporary files left behind


def test_cached_file_refuses_a_checksum_mismatch(tmp_path: Path) -> None:
    url, _ = _source(tmp_path, b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(WeightsUnavailableError, match="expected " + "0" * 64):
        cached_file(url, "0" * 64, cache, "w.bin")
    assert list(cache.iterdir()) == []


def test_cached_file_replaces_a_corrupt_copy(tmp_path: Path) -> None:
    url, sha = _source(tmp_path, b"good bytes")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "w.bin").write_bytes(b"truncated")
    assert cached_file(url, sha, cache, "w.bin").read_bytes() == b"good bytes"


def test_default_cache_dir_honours_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NACBENCH_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("NACBENCH_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "nacbench"
