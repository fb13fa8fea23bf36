"""Codec2 adapter (pycodec2) on real LibriSpeech speech from ../shared, at 8 kHz via the pipeline resampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycodec2
import pytest
from pystoi import stoi
from scipy.signal import fftconvolve, stft

from nacbench.audio import SCORING_RATE, read_audio, resample, trim_to_common_length
from nacbench.codecs import DecodeOnlyError, build_codec
from nacbench.codecs.codec2 import DELAY_SAMPLES, pack_frame_bits, to_pcm16, unpack_frame_bits

MODES = [3200, 1300]
#: real bits per frame of each mode, from codec2's mode table (README: 3200 = 64 bits / 20 ms, ...)
BITS_PER_FRAME = {3200: 64, 2400: 48, 1600: 64, 1400: 56, 1300: 52, 1200: 48, 700: 28}


@pytest.fixture(scope="module")
def speech(shared_dir: Path) -> list[np.ndarray]:
    """The 5 LibriSpeech test-clean utterances at 16 kHz, shortest first."""
    files = sorted((shared_dir / "corpus" / "LibriSpeech" / "test-clean").rglob("*.flac"))
    assert len(files) == 5
    return sorted((read_audio(f) for f in files), key=len)


@pytest.fixture(scope="module")
def speech8k(speech: list[np.ndarray]) -> list[np.ndarray]:
    return [resample(w, SCORING_RATE, 8000) for w in speech]


@pytest.fixture(scope="module", params=MODES, ids=lambda m: f"mode{m}")
def coded(request, speech8k):
    """(codec, codes, decoded 8 kHz audio) for one mode over the 5 utterances."""
    codec = build_codec(f"codec2_{request.param}", {"adapter": "codec2", "mode": request.param})
    codes = codec.encode(speech8k)
    return codec, codes, codec.decode(codes)


def _raw_codec2_bytes(mode: int, wav8k: np.ndarray) -> np.ndarray:
    """What pycodec2 itself emits, frame by frame: ``[frames, bytes_per_frame]`` uint8."""
    codec = pycodec2.Codec2(mode)
    spf = codec.samples_per_frame()
    pcm = to_pcm16(wav8k)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % spf, dtype=np.int16)])
    return np.stack([np.frombuffer(codec.encode(f), dtype=np.uint8) for f in pcm.reshape(-1, spf)])


def _log_spectrogram(wav: np.ndarray, hop: int) -> np.ndarray:
    _, _, spec = stft(wav, nperseg=256, noverlap=256 - hop, boundary=None, padded=False)
    log_power = np.log(np.abs(spec) ** 2 + 1e-8)
    return log_power - log_power.mean(axis=1, keepdims=True)


def _spectral_xcorr_delay(refs: list[np.ndarray], degs: list[np.ndarray], max_lag: int, hop: int = 4) -> int:
    """Lag (samples) maximising the band-wise cross-correlation of log spectrograms, summed over utterances.

    A parametric codec does not keep the waveform's phase, so waveform cross-correlation is meaningless
    for Codec2; its spectral envelope over time is what lines up.
    """
    lags = np.arange(-(max_lag // hop), max_lag // hop + 1)
    total = np.zeros(len(lags))
    for ref, deg in zip(refs, degs, strict=True):
        x, y = _log_spectrogram(ref, hop), _log_spectrogram(deg, hop)
        xcorr = fftconvolve(y, x[:, ::-1], mode="full", axes=1).sum(axis=0)
        window = xcorr[x.shape[1] - 1 + lags]
        total += window / np.abs(window).max()
    return int(lags[total.argmax()] * hop)


def _stoi_after_removing(delay8k: int, speech, decoded) -> float:
    scores = []
    for ref, out in zip(speech, decoded, strict=True):
        deg = resample(out[delay8k:], 8000, SCORING_RATE)
        scores.append(stoi(*trim_to_common_length(ref, deg), SCORING_RATE, extended=False))
    return float(np.mean(scores))


def test_bits_per_frame_agree_with_codec2_and_its_byte_packing() -> None:
    for mode, bits in BITS_PER_FRAME.items():
        codec = build_codec("c2", {"adapter": "codec2", "mode": mode})
        raw = pycodec2.Codec2(mode)
        assert codec.info.bits_per_frame == bits == raw.bits_per_frame()
        assert raw.bytes_per_frame() == -(-bits // 8)
        assert codec.info.codebook_sizes == (2,) * bits and codec.info.quantizer == "parametric"
        assert codec.info.frame_rate == 8000 / raw.samples_per_frame()
        assert (codec.info.input_sample_rate, codec.info.output_sample_rate) == (8000, 8000)


def test_codes_are_one_row_per_real_bit(coded, speech8k) -> None:
    codec, codes, _ = coded
    spf = codec.samples_per_frame
    for wav, c in zip(speech8k, codes, strict=True):
        assert c.dtype == np.int64 and c.shape == (codec.info.n_codebooks, -(-len(wav) // spf))
        assert set(np.unique(c)) == {0, 1}
    assert codec.info.bitrate_bps == codec.info.extra["mode"]


def test_codes_are_codec2_bits_msb_first_and_repack_exactly(coded, speech8k) -> None:
    codec, codes, _ = coded
    raw = _raw_codec2_bytes(codec.mode, speech8k[0])
    np.testing.assert_array_equal(pack_frame_bits(codes[0], codec.bytes_per_frame), raw)
    np.testing.assert_array_equal(unpack_frame_bits(raw, codec.info.n_codebooks), codes[0])


def test_padding_bits_are_zero_and_never_part_of_the_code() -> None:
    raw = _raw_codec2_bytes(1300, np.random.default_rng(0).uniform(-0.3, 0.3, 8000).astype(np.float32))
    assert (raw[:, -1] & 0x0F == 0).all()  # 52 bits in 7 bytes: the last 4 bits are padding
    ones = np.ones((52, 3), dtype=np.int64)
    packed = pack_frame_bits(ones, 7)
    assert (packed[:, :6] == 0xFF).all() and (packed[:, 6] == 0xF0).all()


def test_decode_returns_whole_frames_of_speech(coded) -> None:
    codec, codes, decoded = coded
    for c, wav in zip(codes, decoded, strict=True):
        assert wav.dtype == np.float32 and wav.shape == (c.shape[1] * codec.samples_per_frame,)
        assert np.isfinite(wav).all() and wav.std() > 1e-3


def test_flipping_one_real_bit_changes_the_audio(coded) -> None:
    codec, codes, decoded = coded
    flipped = codes[0].copy()
    flipped[0, 20] ^= 1  # the first bit of a frame (MSB of the first parameter)
    assert not np.array_equal(codec.decode([flipped])[0], decoded[0])


def test_result_does_not_depend_on_previous_utterances(coded, speech8k) -> None:
    """Needs a fresh codec state per utterance and libcodec2's global random generator reset."""
    codec, codes, decoded = coded
    assert codec.info.extra["decoder_rng"].startswith("libcodec2 codec2_rand state reset")
    np.testing.assert_array_equal(codec.encode([speech8k[1]])[0], codes[1])
    np.testing.assert_array_equal(codec.decode([codes[1]])[0], decoded[1])


def test_declared_delay_matches_cross_correlation(coded, speech8k) -> None:
    """Spectral cross-correlation on the 5 utterances: 148 (3200) and 144 (1300) samples against 160.

    The estimate runs short of the algorithmic delay because the decoder interpolates parameters
    towards the next transmitted frame, so envelope changes surface early; the tolerance (3 ms) covers
    that bias, not a wrong frame (20 or 40 ms) or an undeclared delay.
    """
    codec, _, decoded = coded
    padded = [np.pad(w, (0, len(d) - len(w))) for w, d in zip(speech8k, decoded, strict=True)]
    estimate = _spectral_xcorr_delay(padded, decoded, max_lag=480)
    assert abs(estimate - codec.info.delay_samples) <= 24


def test_removing_the_declared_delay_is_what_stoi_needs(coded, speech) -> None:
    """STOI with the declared delay removed is at the top of its (broad) peak and far above no removal."""
    codec, _, decoded = coded
    declared = codec.info.delay_samples
    at_declared = _stoi_after_removing(declared, speech, decoded)
    neighbours = [_stoi_after_removing(declared + d, speech, decoded) for d in (-40, 40)]
    assert at_declared > max(neighbours)
    assert at_declared > _stoi_after_removing(0, speech, decoded) + 0.1


def test_clean_stoi_is_that_of_a_working_codec(coded, speech) -> None:
    """Measured here (classic STOI, 16 kHz, delay removed): 3200 -> 0.893, 1300 -> 0.823."""
    codec, _, decoded = coded
    floor = {3200: 0.82, 1300: 0.76}[codec.mode]
    assert _stoi_after_removing(codec.info.delay_samples, speech, decoded) > floor


def test_decode_only_codec2_decodes_exactly_and_refuses_to_encode(coded) -> None:
    codec, codes, decoded = coded
    decoder = build_codec(codec.info.name, {"adapter": "codec2", "mode": codec.mode}, decode_only=True)
    assert decoder.info == codec.info
    for a, b in zip(decoded[:2], decoder.decode(codes[:2]), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(DecodeOnlyError, match=rf"codec '{codec.info.name}' .* built decode-only"):
        decoder.encode([np.zeros(800, np.float32)])


def test_every_mode_declares_a_delay() -> None:
    assert set(DELAY_SAMPLES) == set(BITS_PER_FRAME)


def test_options_are_validated_with_the_config_key() -> None:
    with pytest.raises(ValueError, match=r"codecs\.c2\.mode: 3000"):
        build_codec("c2", {"adapter": "codec2", "mode": 3000})
    with pytest.raises(ValueError, match=r"codecs\.c2: unknown option.*bitrate"):
        build_codec("c2", {"adapter": "codec2", "bitrate": 3200})


def test_out_of_range_bits_are_refused(coded) -> None:
    codec, codes, _ = coded
    bad = codes[0].copy()
    bad[5, 0] = 2
    with pytest.raises(ValueError, match="outside its codebook"):
        codec.decode([bad])
