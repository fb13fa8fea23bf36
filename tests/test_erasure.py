"""Packet-loss channel building blocks: packets, loss models, pattern files, statistics, concealment, names."""

from __future__ import annotations

import math
import re
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from nacbench.conditions import CHANNEL_WILDCARD
from nacbench.erasure import (
    ERASURE_COLUMNS,
    ERASURE_NAME_RE,
    ERASURE_WILDCARD,
    G192_BAD,
    G192_GOOD,
    ErasureSpec,
    PatternError,
    conceal_codes,
    conceal_latent,
    frame_losses,
    frame_packets,
    gilbert_losses,
    gilbert_transitions,
    iid_losses,
    loss_stats,
    packet_count,
    packet_losses,
    pattern_losses,
    read_pattern,
    silence_audio,
)

# ------------------------------------------------------------------------------------------ packets


@pytest.mark.parametrize(
    ("rate", "packet_s", "expected"),
    [
        # 20 ms packets
        (50, 0.02, [0, 1, 2, 3, 4]),
        (75, 0.02, [0, 0, 1, 2, 2, 3, 4, 4, 5]),  # starts 0, 13.3, 26.7, 40, 53.3, 66.7, 80, 93.3, 106.7 ms
        (25, 0.02, [0, 2, 4, 6]),  # a 40 ms frame starts in every other packet
        (12.5, 0.02, [0, 4, 8, 12]),  # an 80 ms frame starts in every fourth packet
        # 40 ms packets
        (50, 0.04, [0, 0, 1, 1, 2]),
        (75, 0.04, [0, 0, 0, 1, 1, 1, 2]),
        (25, 0.04, [0, 1, 2, 3]),
        (12.5, 0.04, [0, 2, 4]),
    ],
)
def test_frames_ride_in_the_packet_where_they_start(
    rate: float, packet_s: float, expected: list[int]
) -> None:
    got = frame_packets(len(expected), rate, packet_s)
    assert got.dtype == np.int64
    assert got.tolist() == expected


def test_packet_boundaries_are_exact_where_floats_are_not() -> None:
    """Frame 29 at 50 Hz starts exactly at 580 ms, where packet 29 starts; float division says 28.999...
    Checked against exact fractions, also for rates with non-binary periods and one whose products leave
    int64."""
    assert math.floor(29 / 50 / 0.02) == 28 and math.floor(87 / 75 / 0.02) == 57  # the float traps
    assert frame_packets(30, 50, 0.02)[29] == 29 and frame_packets(88, 75, 0.02)[87] == 58
    for rate, packet_s in [(75, 0.02), (16000 / 480, 0.02), (44100 / 512, 0.02), (75, 0.01), (50, 0.03)]:
        fr = Fraction(rate).limit_denominator(1000)
        ps = Fraction(packet_s).limit_denominator(1000)
        expected = [math.floor(Fraction(t) / fr / ps) for t in range(2000)]
        assert frame_packets(2000, rate, packet_s).tolist() == expected, rate
    huge = Fraction(10**18 + 3, 10**16)  # about 100 Hz, but index x numerator overflows int64
    expected = [math.floor(Fraction(t) / huge / Fraction(1, 50)) for t in range(200)]
    assert frame_packets(200, huge, Fraction(1, 50)).tolist() == expected


def test_packets_lose_the_same_audio_time_at_25_50_and_75_hz() -> None:
    lost = np.zeros(50, dtype=bool)
    lost[[2, 3, 10, 11]] = True  # two 40 ms losses (80 ms in all), aligned to the 25 Hz frames
    for rate in (25, 50, 75):
        n = int(rate)  # one second of frames
        assert packet_count(n, rate) == 50
        frames = frame_losses(lost, n, rate)
        assert Fraction(int(frames.sum()), rate) == Fraction(80, 1000), rate
    # the 75 Hz frames lost are exactly those starting in [40, 80) and [200, 240) ms
    assert np.flatnonzero(frame_losses(lost, 75, 75)).tolist() == [3, 4, 5, 15, 16, 17]


def test_packet_count_spans_the_audio_and_frame_losses_checks_the_mask() -> None:
    assert packet_count(3, 12.5) == 12  # 240 ms of audio, frames in packets 0, 4, 8
    assert packet_count(4, 75) == 3  # 53.3 ms -> 3 packets
    assert packet_count(0, 50) == 0
    assert frame_losses(np.array([True, False, False, False]), 1, 12.5).tolist() == [True]
    with pytest.raises(ValueError, match="reach packet 4"):
        frame_losses(np.zeros(4, dtype=bool), 2, 12.5)
    with pytest.raises(ValueError, match="positive"):
        frame_packets(3, 0, 0.02)
    with pytest.raises(ValueError, match="non-negative integer"):
        frame_packets(-1, 50, 0.02)


# ------------------------------------------------------------------------------------------ loss models


@pytest.mark.parametrize("fer", [0.01, 0.05, 0.2])
def test_iid_losses_realise_their_rate_within_a_binomial_band(fer: float) -> None:
    n = 100_000
    mask = iid_losses(n, fer, np.random.default_rng(1))
    assert mask.dtype == bool and mask.shape == (n,)
    assert abs(int(mask.sum()) - n * fer) <= 5 * math.sqrt(n * fer * (1 - fer))


def test_iid_losses_refuse_rates_outside_zero_to_one() -> None:
    assert not iid_losses(1000, 0.0, np.random.default_rng(0)).any()
    for fer in (1.0, -0.01, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            iid_losses(10, fer, np.random.default_rng(0))


@pytest.mark.parametrize(("fer", "burst"), [(0.05, 3.0), (0.2, 1.5), (0.1, 10.0), (0.03, 1.0)])
def test_gilbert_losses_realise_rate_and_mean_burst(fer: float, burst: float) -> None:
    n = 200_000
    mask = gilbert_losses(n, fer, burst, np.random.default_rng(7))
    stats = loss_stats(mask)
    p, q = gilbert_transitions(fer, burst)
    assert p / (p + q) == pytest.approx(fer) and 1 / q == pytest.approx(burst)
    # the sample mean of a stationary two-state chain has variance pi(1-pi)/n x (1+lambda)/(1-lambda)
    lam = 1 - p - q
    sd_rate = math.sqrt(fer * (1 - fer) / n * (1 + lam) / (1 - lam))
    assert abs(stats["loss_rate"] - fer) <= 5 * sd_rate
    # bursts are geometric(q): mean 1/q, standard deviation sqrt(1-q)/q
    sd_burst = math.sqrt(1 - q) / q / math.sqrt(stats["bursts"])
    assert abs(stats["mean_burst"] - burst) <= 5 * sd_burst + 1e-12
    # and the shortest bursts occur with the geometric frequency q
    assert abs(stats["burst_hist"][0] / stats["bursts"] - q) <= 5 * math.sqrt(q * (1 - q) / stats["bursts"])


def test_gilbert_losses_start_in_the_stationary_distribution() -> None:
    """The first packet is lost with probability fer (not 0, as a chain started in 'good' would give)."""
    rng = np.random.default_rng(3)
    trials, fer = 4000, 0.2
    first = sum(bool(gilbert_losses(1, fer, 4.0, rng)[0]) for _ in range(trials))
    assert abs(first - trials * fer) <= 5 * math.sqrt(trials * fer * (1 - fer))


def test_gilbert_losses_are_determined_by_the_seed() -> None:
    a = gilbert_losses(50_000, 0.05, 3.0, np.random.default_rng(11))
    b = gilbert_losses(50_000, 0.05, 3.0, np.random.default_rng(11))
    c = gilbert_losses(50_000, 0.05, 3.0, np.random.default_rng(12))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert gilbert_losses(0, 0.05, 3.0, np.random.default_rng(0)).shape == (0,)
    assert not gilbert_losses(1000, 0.0, 3.0, np.random.default_rng(0)).any()


def test_gilbert_refuses_impossible_parameters() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=">= 1"):
        gilbert_losses(10, 0.05, 0.5, rng)
    with pytest.raises(ValueError, match="at most 0.5"):
        gilbert_losses(10, 0.6, 1.0, rng)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        gilbert_losses(10, 1.0, 3.0, rng)


# ------------------------------------------------------------------------------------------ pattern files


def _words(path: Path, words: list[int]) -> Path:
    path.write_bytes(struct.pack(f"<{len(words)}H", *words))
    return path


def test_g192_erasure_pattern_round_trips(tmp_path: Path) -> None:
    lost = [False, True, True, False, False, True, False]
    path = _words(tmp_path / "ep.g192", [G192_BAD if x else G192_GOOD for x in lost])
    assert path.read_bytes()[:4] == b"!k k"  # little-endian 0x6B21, 0x6B20
    got = read_pattern(path)
    assert got.dtype == bool and got.tolist() == lost
    assert read_pattern(path, "g192").tolist() == lost


def test_g192_bitstream_round_trips(tmp_path: Path) -> None:
    frames = [(False, [0x7F, 0x81, 0x7F]), (True, [0, 0, 0]), (False, []), (True, [0x81] * 5)]
    words: list[int] = []
    for bad, payload in frames:
        words += [G192_BAD if bad else G192_GOOD, len(payload), *payload]
    path = _words(tmp_path / "bits.g192", words)
    assert read_pattern(path).tolist() == [bad for bad, _ in frames]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"!k!", r"odd count.*offset 2"),
        (struct.pack("<4H", G192_GOOD, 1, 0x7F, 0x1234), r"byte offset 6.*0x1234"),
        (struct.pack("<4H", G192_GOOD, 5, 1, 2), r"byte offset 0.*declares 5 payload words but only 2"),
        (struct.pack("<5H", G192_GOOD, 2, 1, 1, G192_BAD), r"byte offset 8.*no length word"),
        (struct.pack(">2H", G192_GOOD, G192_BAD), r"big-endian"),
        (b"", r"empty"),
        (b"# only a comment\n\n", r"empty"),
        (b"0 1\n1 0\n0 2 1\n", r"line 3: '2' is not 0"),
        (b"0 1 \xff\n", r"byte offset 4: not UTF-8"),
        (b"011\n", r"line 1: '011'"),
    ],
)
def test_malformed_patterns_name_the_file_and_the_place(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad_pattern.txt"
    path.write_bytes(content)
    with pytest.raises(PatternError, match=re.escape(str(path)) + r".*" + message):
        read_pattern(path)


def test_forced_formats_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "trace.txt"
    text.write_text("1 0 1 1\n")
    with pytest.raises(PatternError, match=re.escape(str(text)) + r": byte offset 0: expected a G.192 sync"):
        read_pattern(text, "g192")
    g192 = _words(tmp_path / "ep.g192", [G192_GOOD, G192_BAD])
    with pytest.raises(PatternError, match=re.escape(str(g192)) + r", line 1"):
        read_pattern(g192, "text")
    with pytest.raises(PatternError, match="cannot read"):
        read_pattern(tmp_path / "missing.g192")
    with pytest.raises(ValueError, match="pattern format"):
        read_pattern(text, "csv")  # type: ignore[arg-type]  # a wrong format on purpose


def test_text_pattern_with_comments_and_any_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "trace.txt"
    path.write_text("# a packet trace: 1 = lost\n0 1\t1\n0   # trailing comment\n\n  1\r\n0#x\n")
    assert read_pattern(path).tolist() == [False, True, True, False, True, False]


def test_patterns_repeat_cyclically_from_the_offset_and_say_so() -> None:
    pattern = np.array([True, False, False])
    mask, wrapped = pattern_losses(pattern, 7)
    assert mask.tolist() == [True, False, False, True, False, False, True] and wrapped
    assert pattern_losses(pattern, 3) == (pytest.approx(pattern), False)
    mask, wrapped = pattern_losses(pattern, 2, offset=1)
    assert mask.tolist() == [False, False] and not wrapped
    mask, wrapped = pattern_losses(pattern, 3, offset=1)
    assert mask.tolist() == [False, False, True] and wrapped
    mask, wrapped = pattern_losses(pattern, 2, offset=4)  # beyond the end: modulo, and already wrapped
    assert mask.tolist() == [False, False] and wrapped
    with pytest.raises(ValueError, match="non-empty"):
        pattern_losses(np.zeros(0, dtype=bool), 3)


# ------------------------------------------------------------------------------------------ statistics


def test_loss_stats_of_a_hand_made_mask() -> None:
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1], dtype=bool)
    assert loss_stats(mask) == {
        "packets": 11,
        "lost": 7,
        "loss_rate": 7 / 11,
        "bursts": 4,
        "mean_burst": 7 / 4,
        "max_burst": 3,
        "burst_hist": [2, 1, 1],
    }
    none = loss_stats(np.zeros(5, dtype=bool))
    assert none["loss_rate"] == 0 and none["bursts"] == 0 and none["max_burst"] == 0
    assert math.isnan(none["mean_burst"]) and none["burst_hist"] == []
    assert math.isnan(loss_stats(np.zeros(0, dtype=bool))["loss_rate"])
    assert loss_stats(np.ones(4, dtype=bool))["burst_hist"] == [0, 0, 0, 1]


# ------------------------------------------------------------------------------------------ concealment


def test_repeat_resends_the_last_received_frame_and_silences_the_start() -> None:
    codes = np.array([[10, 11, 12, 13, 14, 15, 16], [20, 21, 22, 23, 24, 25, 26]], dtype=np.int16)
    lost = np.array([1, 1, 0, 1, 1, 0, 1], dtype=bool)
    out = conceal_codes(codes, lost, "repeat")
    assert out.codes.dtype == np.int16
    assert out.codes.tolist() == [[12, 12, 12, 12, 12, 15, 15], [22, 22, 22, 22, 22, 25, 25]]
    assert out.silenced.tolist() == [True, True, False, False, False, False, False]
    silence = conceal_codes(codes, lost, "silence")
    assert np.array_equal(silence.codes, out.codes) and silence.silenced.tolist() == lost.tolist()
    assert codes[0, 0] == 10  # the input is not modified


def test_repeat_reproduces_the_previous_frame_exactly_on_random_codes() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 1024, size=(8, 500))
    lost = rng.random(500) < 0.3
    lost[0] = False
    out = conceal_codes(codes, lost, "repeat").codes
    assert np.array_equal(out[:, ~lost], codes[:, ~lost])
    for t in np.flatnonzero(lost):
        assert np.array_equal(out[:, t], out[:, t - 1])


def test_concealment_edge_cases_and_refusals() -> None:
    codes = np.arange(6).reshape(2, 3)
    everything = conceal_codes(codes, np.ones(3, dtype=bool), "repeat")
    assert not everything.codes.any() and everything.silenced.all()
    nothing = conceal_codes(codes, np.zeros(3, dtype=bool), "silence")
    assert np.array_equal(nothing.codes, codes) and not nothing.silenced.any()
    assert conceal_codes(np.zeros((2, 0), dtype=int), np.zeros(0, dtype=bool), "repeat").codes.shape == (2, 0)
    assert not conceal_codes(codes, np.ones(3, dtype=bool), "mean-latent").silenced.any()
    leading = conceal_codes(codes, np.array([True, False, True]), "mean-latent")
    assert not leading.silenced.any()  # the decode stage decodes the mean latent there instead
    assert np.array_equal(leading.codes, codes[:, [1, 1, 1]])
    with pytest.raises(ValueError, match="unknown concealment"):
        conceal_codes(codes, np.zeros(3, dtype=bool), "interpolate")
    with pytest.raises(ValueError, match="one flag per frame"):
        conceal_codes(codes, np.zeros(4, dtype=bool), "repeat")
    with pytest.raises(TypeError, match="integers"):
        conceal_codes(codes.astype(float), np.zeros(3, dtype=bool), "repeat")


def _check_silenced(
    wav: np.ndarray, out: np.ndarray, spans: list[tuple[int, int]], fade: int, total: int
) -> None:
    """Outside the spans: bit-exact. Inside: zero but for the fades at edges away from the signal's ends."""
    inside = np.zeros(total, dtype=bool)
    for s, e in spans:
        inside[s:e] = True
        lo = s + (fade if s > 0 else 0)
        hi = e - (fade if e < total else 0)
        assert not out[..., lo:hi].any(), (s, e)
        edge = np.r_[s:lo, hi:e]
        assert np.all(np.abs(out[..., edge]) <= np.abs(wav[..., edge]))
        assert np.all(out[..., edge] != 0)  # the fades are ramps, not zeros
    assert np.array_equal(out[..., ~inside], wav[..., ~inside])


def test_silence_audio_zeroes_exactly_the_silenced_frames() -> None:
    rng = np.random.default_rng(2)
    # 50 Hz at 16 kHz: 320 samples a frame; 50 samples of decoder tail after the 10 frames
    wav = rng.uniform(0.5, 1.0, size=3250).astype(np.float32)
    silenced = np.array([1, 0, 0, 1, 1, 0, 0, 0, 0, 1], dtype=bool)
    out = silence_audio(wav, silenced, 50, 16000)
    assert out.dtype == np.float32 and out.shape == wav.shape
    _check_silenced(wav, out, [(0, 320), (960, 1600), (2880, 3250)], fade=32, total=3250)
    # 75 Hz at 16 kHz: 213 1/3 samples a frame, frame t starts at floor(640 t / 3); two channels
    stereo = rng.uniform(0.5, 1.0, size=(2, 1600))
    flags = np.zeros(7, dtype=bool)
    flags[2] = True
    out2 = silence_audio(stereo, flags, 75, 16000, fade_s=0.001)
    _check_silenced(stereo, out2, [(426, 640)], fade=16, total=1600)
    assert np.array_equal(silence_audio(wav, np.zeros(10, dtype=bool), 50, 16000), wav)
    with pytest.raises(TypeError, match="floating"):
        silence_audio(np.zeros(320, dtype=np.int16), silenced, 50, 16000)


# ------------------------------------------------------------------------------------------ names

NAMES = [
    "erasure-iid-fer0.05-p20ms-repeat-seed0",
    "erasure-iid-fer0-p20ms-silence-seed3",
    "erasure-iid-fer1e-05-p10ms-mean-latent-seed1",
    "erasure-iid-fer0.1-p2.5ms-repeat-seed0",
    "erasure-gilbert-fer0.05-b3-p20ms-repeat-seed0",
    "erasure-gilbert-fer0.2-b1.5-p40ms-silence-seed12",
    "erasure-pattern-sta_ep.3-p20ms-repeat",
    "erasure-pattern-trace1-o250-p20ms-silence",
    "erasure-pattern-o5-p20ms-repeat",  # a pattern named "o5", not an offset
]
# not the grammar at all
UNGRAMMATICAL = [
    "erasure-iid-fer0.05-b3-p20ms-repeat-seed0",
    "erasure-gilbert-fer0.05-p20ms-repeat-seed0",
    "erasure-iid-fer0.05-p20ms-conceal-seed0",
    "erasure-iid-fer0.05-20ms-repeat-seed0",
    "erasure-pattern-My_Trace-p20ms-repeat",
    "erasure-pattern-a-b-p20ms-repeat",
    "erasure-pattern-p20ms-repeat",
    "erasure-iid-fer0.05-p20ms-repeat-seed0-gray",
    "bsc-p0.01-seed0",
]
# grammatical, but not canonical or out of range
REFUSED = [
    "erasure-iid-fer0.050-p20ms-repeat-seed0",
    "erasure-iid-fer0.05-p20.0ms-repeat-seed0",
    "erasure-iid-fer0.05-p20ms-repeat",
    "erasure-iid-fer0.05-p20ms-repeat-seed00",
    "erasure-gilbert-fer0.05-b3.0-p20ms-repeat-seed0",
    "erasure-pattern-x-o0-p20ms-repeat",
    "erasure-pattern-x-p20ms-repeat-seed0",
    "erasure-iid-fer1-p20ms-repeat-seed0",
    "erasure-gilbert-fer0.05-b0.5-p20ms-repeat-seed0",
    "erasure-gilbert-fer0.6-b1-p20ms-repeat-seed0",
    "erasure-iid-fer0.05-p0ms-repeat-seed0",
]


def test_erasure_names_round_trip_and_match_the_wildcard() -> None:
    wildcard = re.compile(rf"^(?:{ERASURE_WILDCARD})$")
    channels = re.compile(rf"^(?:{CHANNEL_WILDCARD})$")  # the workflow's: bit-error and erasure channels
    for name in NAMES:
        spec = ErasureSpec.parse(name)
        assert spec.name == name
        assert ErasureSpec.parse(spec.name) == spec
        assert wildcard.match(name) and channels.match(name), name
    assert not wildcard.match("bsc-p0.1-seed0") and channels.match("bsc-p0.1-seed0")
    assert "(?P<" not in ERASURE_WILDCARD and not ERASURE_WILDCARD.startswith("^")
    assert ErasureSpec.parse("erasure-gilbert-fer0.05-b3-p20ms-repeat-seed0") == ErasureSpec(
        "gilbert", fer=0.05, burst=3.0, seed=0
    )
    pattern = ErasureSpec.parse("erasure-pattern-trace1-o250-p20ms-silence")
    assert (pattern.pattern, pattern.pattern_offset, pattern.concealment, pattern.seed) == (
        "trace1",
        250,
        "silence",
        None,
    )


def test_non_canonical_and_invalid_erasure_names_are_refused() -> None:
    wildcard = re.compile(rf"^(?:{ERASURE_WILDCARD})$")
    for name in UNGRAMMATICAL:
        assert not wildcard.match(name) and not ERASURE_NAME_RE.match(name), name
        with pytest.raises(ValueError, match="not an erasure channel name"):
            ErasureSpec.parse(name)
    for name in REFUSED:
        assert wildcard.match(name), name
        with pytest.raises(ValueError):
            ErasureSpec.parse(name)
    with pytest.raises(
        ValueError, match="not canonical; write it as 'erasure-iid-fer0.05-p20ms-repeat-seed0'"
    ):
        ErasureSpec.parse("erasure-iid-fer0.050-p20ms-repeat-seed0")


def test_erasure_spec_validation_and_columns() -> None:
    assert ErasureSpec("iid", 0.05) == ErasureSpec("iid", 0.05, seed=0)
    assert ErasureSpec("iid", 0.05).packet_s == Fraction(1, 50)
    assert ErasureSpec("iid", 0.05, packet_ms=2.5).packet_s == Fraction(1, 400)
    bad_specs = [
        ({"model": "iid", "fer": 0.05, "burst": 3.0}, "gilbert"),
        ({"model": "pattern", "pattern": "x", "fer": 0.1}, "no fer"),
        ({"model": "pattern"}, "pattern name"),
        ({"model": "iid", "pattern": "x", "fer": 0.1}, "'pattern' model only"),
        ({"model": "iid"}, "needs a frame erasure rate"),
        ({"model": "gilbert", "fer": 0.05}, "mean burst length"),
        ({"model": "iid", "fer": 0.1234567}, "not exactly representable"),
        ({"model": "iid", "fer": 0.1, "concealment": "foo"}, "unknown concealment"),
        ({"model": "iid", "fer": 0.1, "seed": -1}, "seed"),
        ({"model": "awgn", "fer": 0.1}, "erasure model"),
    ]
    for kwargs, message in bad_specs:
        with pytest.raises(ValueError, match=message):
            ErasureSpec(**kwargs)  # type: ignore[arg-type]  # wrong fields on purpose
    row = ErasureSpec("gilbert", 0.05, 3.0, seed=2).columns()
    assert tuple(row) == ERASURE_COLUMNS
    assert row == {
        "model": "gilbert",
        "fer": 0.05,
        "burst": 3.0,
        "pattern": "",
        "pattern_offset": 0,
        "packet_ms": 20.0,
        "concealment": "repeat",
        "seed": 2,
    }
    prow = ErasureSpec("pattern", pattern="x", pattern_offset=3).columns()
    assert math.isnan(prow["fer"]) and prow["seed"] == -1 and prow["pattern_offset"] == 3


def test_packet_losses_follow_the_spec() -> None:
    spec = ErasureSpec("iid", 0.1, seed=4)
    mask, wrapped = packet_losses(spec, 1000, np.random.default_rng(9))
    assert np.array_equal(mask, iid_losses(1000, 0.1, np.random.default_rng(9))) and not wrapped
    gspec = ErasureSpec("gilbert", 0.1, 3.0)
    gmask, _ = packet_losses(gspec, 1000, np.random.default_rng(9))
    assert np.array_equal(gmask, gilbert_losses(1000, 0.1, 3.0, np.random.default_rng(9)))
    pspec = ErasureSpec("pattern", pattern="x", pattern_offset=1)
    pmask, wrapped = packet_losses(pspec, 4, np.random.default_rng(0), np.array([1, 0, 1], dtype=bool))
    assert pmask.tolist() == [False, True, True, False] and wrapped
    with pytest.raises(ValueError, match="pass its mask"):
        packet_losses(pspec, 4, np.random.default_rng(0))


def test_mean_latent_replaces_exactly_the_lost_frames() -> None:
    latent = np.arange(12, dtype=np.float32).reshape(3, 4)
    lost = np.array([True, False, False, True])
    out = conceal_latent(latent, lost, np.array([-1.0, -2.0, -3.0]))
    assert np.array_equal(out[:, ~lost], latent[:, ~lost]) and out.dtype == np.float32
    assert np.array_equal(out[:, lost], [[-1.0, -1.0], [-2.0, -2.0], [-3.0, -3.0]])
    assert np.array_equal(latent, np.arange(12).reshape(3, 4))  # a copy
    with pytest.raises(ValueError, match="the codec's latent is 3-d"):
        conceal_latent(latent, lost, np.zeros(4))
    with pytest.raises(ValueError, match="one flag per frame"):
        conceal_latent(latent, lost[:3], np.zeros(3))
