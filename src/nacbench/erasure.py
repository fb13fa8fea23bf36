"""Packet-loss (frame-erasure) channels: packetisation, loss models, loss patterns, concealment, names.

Real networks deliver a packet intact or not at all, so this channel loses whole packets instead of
flipping bits (:mod:`nacbench.channel`). These are its building blocks; :mod:`nacbench.packet_loss`
turns them into the packet-loss study's conditions and sends a shard of codes through one.

Packets, not codec frames, are what a network loses. Every codec is packetised on one time grid of
``packet_s`` seconds (default 20 ms) and a packet carries the frames whose *start* time falls inside it
(:func:`frame_packets`), so one loss mask over packets removes the same stretch of audio from a 25, 50
or 75 Hz codec, and codecs at different frame rates share their loss draws (common random numbers).
A codec whose frames are longer than a packet leaves some packets empty: a 12.5 Hz codec's frames ride
in every fourth 20 ms packet, and a loss of one of the three packets in between costs it nothing.

Loss masks are boolean over packets, ``True`` = lost, from an i.i.d. model (:func:`iid_losses`), the
two-state Gilbert model of ITU-T G.191 (:func:`gilbert_losses`) or a pattern file replayed cyclically
(:func:`read_pattern`, :func:`pattern_losses`). Since standard pattern files are known to realise rates
far from their names, every artifact is meant to record :func:`loss_stats` of the mask it used next to
the nominal parameters.

Concealment (:func:`conceal_codes`) works on the received integer codes: ``repeat`` resends the last
received frame's codes, ``silence`` asks the decoder stage to zero the lost frames' audio
(:func:`silence_audio`), because silence has no code in a general codec.

Names (:attr:`ErasureSpec.name`, inverted exactly by :meth:`ErasureSpec.parse`)::

    erasure-iid-fer<F>-p<P>ms-<concealment>-seed<N>
    erasure-gilbert-fer<F>-b<B>-p<P>ms-<concealment>-seed<N>
    erasure-pattern-<pattern>[-o<N>]-p<P>ms-<concealment>

``<F>``, ``<B>``, ``<P>`` are written ``format(x, "g")`` (as in :mod:`nacbench.conditions`);
``<concealment>`` is one of :data:`CONCEALMENTS`; ``<pattern>`` is ``[a-z0-9][a-z0-9_.]*`` (no hyphen,
so the optional ``-o<N>`` pattern offset, written only when non-zero, cannot be read as part of it).
:data:`ERASURE_WILDCARD` is the same grammar as a Snakemake wildcard constraint, ready to be joined to
``nacbench.conditions.CHANNEL_WILDCARD`` (which includes it); this module imports nothing from
``nacbench`` so that :mod:`nacbench.conditions` may import it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "CODE_CONCEALMENTS",
    "CONCEALMENTS",
    "DEFAULT_PACKET_MS",
    "ERASURE_COLUMNS",
    "ERASURE_MODELS",
    "ERASURE_NAME_RE",
    "ERASURE_WILDCARD",
    "G192_BAD",
    "G192_GOOD",
    "OWN_CONCEALMENT",
    "PATTERN_NAME",
    "LATENT_CONCEALMENT",
    "Concealed",
    "ConcealmentMethod",
    "ErasureModel",
    "ErasureSpec",
    "PatternError",
    "conceal_codes",
    "conceal_latent",
    "frame_losses",
    "frame_packets",
    "gilbert_losses",
    "gilbert_transitions",
    "iid_losses",
    "loss_stats",
    "packet_count",
    "packet_losses",
    "pattern_losses",
    "read_pattern",
    "silence_audio",
]

ErasureModel = Literal["iid", "gilbert", "pattern"]
#: loss models, in the order tables list them
ERASURE_MODELS: tuple[str, ...] = ("iid", "gilbert", "pattern")

#: Concealment methods a condition may name: on codes (``repeat``, ``silence``: any codec), by the
#: codec's own decoder (``plc``), or in the latent the decoder consumes (``mean-latent``: codecs with
#: latent access, see :func:`conceal_latent`).
ConcealmentMethod = Literal["repeat", "silence", "plc", "mean-latent"]
#: the concealment of a codec that conceals lost frames in its own decoder (Opus's packet-loss
#: concealment): done by the codec, not on codes
OWN_CONCEALMENT = "plc"
#: the concealment that decodes the fit set's mean latent in place of a lost frame (the decode stage
#: does it: the codes cannot say it)
LATENT_CONCEALMENT = "mean-latent"
CONCEALMENTS: tuple[str, ...] = ("repeat", "silence", OWN_CONCEALMENT, LATENT_CONCEALMENT)
#: the concealments :func:`conceal_codes` performs on codes alone (any codec can do these)
CODE_CONCEALMENTS: tuple[str, ...] = ("repeat", "silence")

#: packet duration when a condition does not say otherwise: VoIP's and Opus's usual 20 ms
DEFAULT_PACKET_MS = 20.0

#: ITU-T G.192 synchronisation words (16-bit, little-endian on disk): a good frame and a bad (lost) frame
G192_GOOD = 0x6B21
G192_BAD = 0x6B20

#: a pattern's name in a condition: a config key, never the file's path (hyphens would make names ambiguous)
PATTERN_NAME = r"[a-z0-9][a-z0-9_.]*"

#: The columns that say what an erasure condition is (nominally), for tables beside the realised
#: :func:`loss_stats`: ``fer`` is NaN for a pattern (its rate is whatever the file realises),
#: ``burst`` NaN unless Gilbert, ``pattern`` empty and ``pattern_offset`` 0 unless a pattern, ``seed``
#: -1 for a pattern (it draws nothing).
ERASURE_COLUMNS: tuple[str, ...] = (
    "model",
    "fer",
    "burst",
    "pattern",
    "pattern_offset",
    "packet_ms",
    "concealment",
    "seed",
)

# Largest denominator tried when reading a float rate or duration as the fraction it was meant to be
# (1/3-type frame rates such as 16000/480 Hz have small denominators; binary floats have powers of 2).
_MAX_DENOMINATOR = 1_000_000
# (bad, good) run pairs drawn per block by gilbert_losses: fixed, so its masks are prefix-stable
_GILBERT_BLOCK = 256
# Products of frame indices and fraction numerators above this leave int64 (then Python ints are used).
_INT64_SAFE = 2**62


# ------------------------------------------------------------------------------------------ packets


def _rational(x: float | Fraction, what: str) -> Fraction:
    """``x`` as an exact positive fraction: a Fraction or int as is, a float as the simplest fraction
    (denominator <= 10**6) that rounds to the same float, else the float's exact binary value.

    Packet boundaries are where float arithmetic goes wrong: at 50 Hz and 20 ms, frame 29 starts exactly
    at 580 ms, the start of packet 29, but ``29 / 50 / 0.02`` is 28.999999999999996 in floats (and at
    75 Hz frame 87, at 1.16 s, would land in packet 57 instead of 58).
    """
    if isinstance(x, bool):
        raise TypeError(f"{what} must be a number, got {x!r}")
    if isinstance(x, Fraction | int):
        r = Fraction(x)
    else:
        xf = float(x)
        if not math.isfinite(xf):
            raise ValueError(f"{what} must be finite, got {x!r}")
        r = Fraction(xf).limit_denominator(_MAX_DENOMINATOR)
        if float(r) != xf:
            r = Fraction(xf)
    if r <= 0:
        raise ValueError(f"{what} must be positive, got {x!r}")
    return r


def _check_count(n: int, what: str) -> int:
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    return int(n)


def _floor_scaled(index: np.ndarray, ratio: Fraction) -> np.ndarray:
    """``floor(index * ratio)`` elementwise in exact integer arithmetic."""
    num, den = ratio.numerator, ratio.denominator
    if index.size == 0:
        return index.astype(np.int64)
    if int(index.max()) * num < _INT64_SAFE:
        return (index.astype(np.int64) * num) // den
    exact = (index.astype(object) * num) // den  # Python ints: no overflow, still exact
    return exact.astype(np.int64)


def _packets_per_frame(frame_rate: float | Fraction, packet_s: float | Fraction) -> Fraction:
    return 1 / (_rational(frame_rate, "frame rate") * _rational(packet_s, "packet duration"))


def frame_packets(
    n_frames: int, frame_rate: float | Fraction, packet_s: float | Fraction = Fraction(20, 1000)
) -> np.ndarray:
    """Packet index (int64) of each of ``n_frames`` frames at ``frame_rate`` Hz in packets of ``packet_s`` s.

    Frame ``t`` starts at ``t / frame_rate`` s and packet ``j`` covers ``[j * packet_s, (j + 1) * packet_s)``;
    a frame rides in the packet where it starts. Computed as ``floor(t / (frame_rate * packet_s))`` with
    exact fractions (floats are read as the fraction they denote, see :func:`_rational`), so a frame
    starting exactly on a packet boundary belongs to the packet that starts there: at 75 Hz and 20 ms,
    frames 0 and 1 (0 and 13.3 ms) go in packet 0, frame 2 (26.7 ms) in packet 1, frames 3 and 4
    (40, 53.3 ms) in packet 2.
    """
    n = _check_count(n_frames, "n_frames")
    return _floor_scaled(np.arange(n, dtype=np.int64), _packets_per_frame(frame_rate, packet_s))


def packet_count(
    n_frames: int, frame_rate: float | Fraction, packet_s: float | Fraction = Fraction(20, 1000)
) -> int:
    """Packets spanning the audio of ``n_frames`` frames: ``ceil(n_frames / (frame_rate * packet_s))``.

    This is the length of loss mask to draw for a stream; it counts trailing packets that carry no frame
    start (a 12.5 Hz frame spans four 20 ms packets), so the mask covers the audio time, not only the
    packets that carry something, and every codec of the same duration draws the same number of packets.
    """
    n = _check_count(n_frames, "n_frames")
    ratio = _packets_per_frame(frame_rate, packet_s)
    return -((-n * ratio.numerator) // ratio.denominator)


def frame_losses(
    lost_packets: np.ndarray,
    n_frames: int,
    frame_rate: float | Fraction,
    packet_s: float | Fraction = Fraction(20, 1000),
) -> np.ndarray:
    """Per-frame lost mask: each frame is lost with the packet that carries it (:func:`frame_packets`)."""
    mask = np.asarray(lost_packets, dtype=bool)
    if mask.ndim != 1:
        raise ValueError(f"lost_packets must be one-dimensional, got shape {mask.shape}")
    index = frame_packets(n_frames, frame_rate, packet_s)
    if index.size and int(index[-1]) >= mask.size:
        raise ValueError(
            f"{n_frames} frames at {frame_rate} Hz reach packet {int(index[-1])}, but the loss mask has only "
            f"{mask.size} packets"
        )
    return mask[index]


# ------------------------------------------------------------------------------------------ loss models


def _check_fer(fer: float) -> float:
    f = float(fer)
    if not 0.0 <= f < 1.0:
        raise ValueError(f"frame erasure rate must lie in [0, 1), got {fer!r}")
    return f


def iid_losses(n_packets: int, fer: float, rng: np.random.Generator) -> np.ndarray:
    """``n_packets`` independent losses, each with probability ``fer`` (one uniform draw per packet)."""
    n = _check_count(n_packets, "n_packets")
    f = _check_fer(fer)
    return rng.random(n) < f


def gilbert_transitions(fer: float, mean_burst: float) -> tuple[float, float]:
    """``(p, q)`` of the Gilbert model: P(good -> bad) and P(bad -> good) per packet.

    As in ITU-T G.191's Gilbert model, the bad state loses every packet and the good state none, so a
    burst is one sojourn in the bad state: its mean length is ``1 / q`` and the stationary loss rate is
    ``p / (p + q)``. Hence ``q = 1 / mean_burst`` and ``p = q * fer / (1 - fer)``, which must not exceed 1:
    a mean burst ``b`` allows rates up to ``b / (1 + b)`` (0.5 for b = 1, 0.75 for b = 3).
    """
    f = _check_fer(fer)
    b = float(mean_burst)
    if not 1.0 <= b < math.inf:
        raise ValueError(f"mean burst length must be a finite number of packets >= 1, got {mean_burst!r}")
    q = 1.0 / b
    p = q * f / (1.0 - f)
    if p > 1.0:
        raise ValueError(
            f"a loss rate of {f} with mean bursts of {b} packets needs good runs shorter than one packet; "
            f"with this burst length the rate can be at most {b / (1.0 + b):g}"
        )
    return p, q


def gilbert_losses(n_packets: int, fer: float, mean_burst: float, rng: np.random.Generator) -> np.ndarray:
    """Bursty losses from the two-state Gilbert model with mean loss rate ``fer`` and mean burst length
    ``mean_burst`` packets (:func:`gilbert_transitions`), started in its stationary distribution.

    A Markov chain's sojourns are geometric, and memorylessness makes the sojourn in progress at a
    stationary start geometric too, so alternating geometric run lengths give the chain exactly, with
    one draw per run instead of per packet. Runs are drawn in blocks of a fixed size, so the draws do not
    depend on ``n_packets``: a longer mask from the same stream extends a shorter one (prefix-stable,
    as :func:`iid_losses` is), and codecs whose streams span one or two packets more or less still
    share every loss they both cover.
    """
    n = _check_count(n_packets, "n_packets")
    p, q = gilbert_transitions(fer, mean_burst)
    if n == 0 or p == 0.0:
        return np.zeros(n, dtype=bool)
    start_bad = bool(rng.random() < p / (p + q))
    first, second = (q, p) if start_bad else (p, q)
    runs: list[np.ndarray] = []
    total = 0
    pairs = _GILBERT_BLOCK
    while total < n:
        chunk = np.column_stack([rng.geometric(first, pairs), rng.geometric(second, pairs)]).ravel()
        runs.append(chunk)
        total += int(chunk.sum())
    lengths = np.concatenate(runs)
    states = np.resize(np.array([start_bad, not start_bad]), lengths.size)
    return np.repeat(states, lengths)[:n]


# ------------------------------------------------------------------------------------------ pattern files


class PatternError(ValueError):
    """A loss-pattern file that cannot be read; the message names the file and the offset or line."""


def _g192_words(data: bytes, path: Path) -> np.ndarray:
    if len(data) % 2:
        raise PatternError(
            f"{path}: {len(data)} bytes is an odd count, but a G.192 file is 16-bit words "
            f"(stray byte at offset {len(data) - 1})"
        )
    return np.frombuffer(data, dtype="<u2")


def _parse_g192(data: bytes, path: Path) -> np.ndarray:
    """G.192 frame-erasure words, or a G.192 bitstream (sync word, length word, payload) per frame."""
    words = _g192_words(data, path)
    sync = (words == G192_GOOD) | (words == G192_BAD)
    if sync.all():  # an erasure pattern: one sync word per frame
        return words == G192_BAD
    # a bitstream: walk frame headers (one Python step per frame; the payload is skipped, not read)
    lost: list[bool] = []
    i = 0
    while i < words.size:
        word = int(words[i])
        if word not in (G192_GOOD, G192_BAD):
            raise PatternError(
                f"{path}: byte offset {2 * i}: expected a G.192 sync word (0x6B21 good or 0x6B20 bad) at the "
                f"start of frame {len(lost)}, found 0x{word:04X}"
            )
        if i + 1 >= words.size:
            raise PatternError(
                f"{path}: byte offset {2 * i}: frame {len(lost)} has a sync word but no length word"
            )
        length = int(words[i + 1])
        end = i + 2 + length
        if end > words.size:
            raise PatternError(
                f"{path}: byte offset {2 * i}: frame {len(lost)} declares {length} payload words but only "
                f"{words.size - i - 2} remain in the file"
            )
        lost.append(word == G192_BAD)
        i = end
    return np.array(lost, dtype=bool)


def _parse_text(data: bytes, path: Path, hint: str) -> np.ndarray:
    """One 0/1 token per packet, whitespace-separated, ``#`` starting a comment to the end of the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PatternError(
            f"{path}: byte offset {err.start}: not UTF-8 text, so not a 0/1 pattern{hint}"
        ) from None
    values: list[bool] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for token in line.split("#", 1)[0].split():
            if token not in ("0", "1"):
                raise PatternError(f"{path}, line {number}: {token!r} is not 0 (received) or 1 (lost){hint}")
            values.append(token == "1")
    return np.array(values, dtype=bool)


def read_pattern(path: str | Path, fmt: Literal["auto", "g192", "text"] = "auto") -> np.ndarray:
    """A loss pattern from ``path``: boolean per packet, ``True`` = lost.

    Formats:

    - ``g192``: ITU-T G.192 frame-erasure words, 16-bit little-endian, 0x6B21 a good frame and 0x6B20 a
      bad (lost) one, as G.191's ``eid-xor`` and the standard patterns use; or a G.192 *bitstream*, each
      frame a sync word (0x6B21/0x6B20), a length word and that many payload words, recognised by any
      word other than the two sync words.
    - ``text``: one ``0`` (received) or ``1`` (lost) per packet, separated by any whitespace, with ``#``
      comments.

    ``auto`` reads a file whose first two bytes are a little-endian sync word as G.192 and anything else
    as text; the two cannot be confused, since neither ``!`` nor a leading ``" k"`` is valid text.
    Malformed input raises :class:`PatternError` naming the file and the byte offset or line.
    """
    p = Path(path)
    if fmt not in ("auto", "g192", "text"):
        raise ValueError(f"pattern format must be 'auto', 'g192' or 'text', got {fmt!r}")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise PatternError(f"{p}: cannot read the loss pattern: {err.strerror or err}") from None
    head = data[:2]
    if fmt == "auto" and head in (b"k!", b"k "):
        raise PatternError(
            f"{p}: byte offset 0: starts with a big-endian G.192 sync word; G.192 patterns are read "
            "little-endian (swap the bytes of every word)"
        )
    if fmt == "g192" or (fmt == "auto" and head in (b"!k", b" k")):
        mask = _parse_g192(data, p)
    else:
        hint = " (read as a text pattern: a G.192 file starts with the word 0x6B21 or 0x6B20)"
        mask = _parse_text(data, p, hint if fmt == "auto" else "")
    if mask.size == 0:
        raise PatternError(f"{p}: empty loss pattern (no packets)")
    return mask


def pattern_losses(pattern: np.ndarray, n_packets: int, offset: int = 0) -> tuple[np.ndarray, bool]:
    """``n_packets`` of ``pattern`` read cyclically from packet ``offset``; also whether it wrapped.

    Packet ``j`` of the stream is ``pattern[(offset + j) % len(pattern)]``: a pattern shorter than the
    stream repeats from its start, which keeps its loss rate and burst structure (ITU-T's patterns are
    meant to be looped this way) but repeats the same losses, so callers record the flag
    (``wrapped = offset + n_packets > len(pattern)``, i.e. some packet came from a second pass).
    An offset beyond the pattern's length is taken modulo it (and counts as wrapped).
    """
    pat = np.asarray(pattern, dtype=bool)
    if pat.ndim != 1 or pat.size == 0:
        raise ValueError(f"a loss pattern must be a non-empty 1-D mask, got shape {pat.shape}")
    n = _check_count(n_packets, "n_packets")
    start = _check_count(offset, "pattern offset")
    index = (start + np.arange(n, dtype=np.int64)) % pat.size
    return pat[index], start + n > pat.size


# ------------------------------------------------------------------------------------------ statistics


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each maximal run of ``True`` in a 1-D mask (end exclusive)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def loss_stats(mask: np.ndarray) -> dict[str, Any]:
    """What a loss mask realised, to record beside the nominal parameters.

    Keys: ``packets``, ``lost``, ``loss_rate`` (NaN for an empty mask), ``bursts`` (maximal runs of
    losses), ``mean_burst`` (NaN without bursts), ``max_burst`` (0 without bursts) and ``burst_hist``,
    a list whose entry ``i`` counts bursts of length ``i + 1`` (lengths 1 .. ``max_burst``). Plain
    Python numbers, so the dict goes into JSON as is.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 1:
        raise ValueError(f"a loss mask must be one-dimensional, got shape {m.shape}")
    starts, ends = _runs(m)
    lengths = ends - starts
    n, lost = int(m.size), int(m.sum())
    return {
        "packets": n,
        "lost": lost,
        "loss_rate": lost / n if n else math.nan,
        "bursts": int(lengths.size),
        "mean_burst": lost / lengths.size if lengths.size else math.nan,
        "max_burst": int(lengths.max()) if lengths.size else 0,
        "burst_hist": [int(c) for c in np.bincount(lengths)[1:]] if lengths.size else [],
    }


# ------------------------------------------------------------------------------------------ concealment


@dataclass(frozen=True)
class Concealed:
    """Codes to decode, and the frames whose decoded audio the decoder stage must silence.

    Silence is not a code (a codec's index 0 is not quiet in general), so a silenced frame still gets
    codes, the repeat-concealed ones: the decoder then sees only received information, also in the
    receptive field of neighbouring frames, and :func:`silence_audio` zeroes the frame's audio after.
    """

    codes: np.ndarray  # [n_codebooks, frames], same dtype as the input
    silenced: np.ndarray  # [frames] bool


def conceal_codes(codes: np.ndarray, lost: np.ndarray, method: str) -> Concealed:
    """Conceal the ``lost`` frames of ``codes`` (``[n_codebooks, frames]``) by ``method``.

    - ``repeat``: a lost frame takes the codes of the last received frame before it. Frames lost before
      any frame was received have nothing to repeat; a causal receiver cannot look ahead, so they are
      silenced (their codes are the first received frame's, to give the decoder a plausible context,
      and their audio is zeroed). If every frame is lost the codes are all 0 and every frame is silenced.
    - ``silence``: every lost frame is silenced, with the ``repeat`` codes underneath (see
      :class:`Concealed`).
    - ``mean-latent``: nothing is silenced; the codes are the ``repeat`` ones (a received artifact
      holds codes for every frame), and the decode stage decodes the fit set's mean latent in place of
      every lost frame instead (:func:`conceal_latent`), also before the first received frame.

    Call it once per utterance: the start of an utterance is the start of a call.
    """
    c = np.asarray(codes)
    m = np.asarray(lost, dtype=bool)
    if c.ndim != 2:
        raise ValueError(f"codes must be [n_codebooks, frames], got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise TypeError(f"codes must be integers, got {c.dtype}")
    if m.shape != (c.shape[1],):
        raise ValueError(f"lost must be one flag per frame ({c.shape[1]}), got shape {m.shape}")
    if method == OWN_CONCEALMENT:
        raise ValueError(
            f"concealment {OWN_CONCEALMENT!r} is the codec's own (its decoder conceals the lost frames); "
            f"on codes there is {CODE_CONCEALMENTS}"
        )
    if method not in (*CODE_CONCEALMENTS, LATENT_CONCEALMENT):
        raise ValueError(f"unknown concealment {method!r}; expected one of {CONCEALMENTS}")
    frames = c.shape[1]
    received = np.flatnonzero(~m)
    if received.size == 0:  # nothing to repeat: silence, unless the mean latent stands in
        return Concealed(np.zeros_like(c), np.full(frames, method != LATENT_CONCEALMENT))
    source = np.maximum.accumulate(np.where(m, -1, np.arange(frames)))
    leading = source < 0
    source[leading] = received[0]
    silenced = {"repeat": leading, "silence": m.copy()}.get(method, np.zeros(frames, dtype=bool))
    return Concealed(c[:, source], silenced)


def conceal_latent(latent: np.ndarray, lost: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``latent`` (``[dim, frames]``, what the decoder consumes for the received codes) with every lost
    frame replaced by ``mean`` (``[dim]``, the fit set's mean latent): ``mean-latent`` concealment.

    The mean is the one vector that minimises the expected squared error to an unknown frame of the
    fit set's distribution, so a lost frame is decoded as the codec's "average sound" rather than a copy
    of its neighbour (``repeat``) or nothing (``silence``). Received frames are left bit-exact. A copy
    is returned.
    """
    x = np.asarray(latent)
    m = np.asarray(lost, dtype=bool)
    centre = np.asarray(mean, dtype=x.dtype)
    if x.ndim != 2:
        raise ValueError(f"latent must be [dim, frames], got shape {x.shape}")
    if m.shape != (x.shape[1],):
        raise ValueError(f"lost must be one flag per frame ({x.shape[1]}), got shape {m.shape}")
    if centre.shape != (x.shape[0],):
        raise ValueError(f"the mean latent has shape {centre.shape}; the codec's latent is {x.shape[0]}-d")
    out = x.copy()
    out[:, m] = centre[:, None]
    return out


def silence_audio(
    wav: np.ndarray,
    silenced_frames: np.ndarray,
    frame_rate: float | Fraction,
    sample_rate: int,
    fade_s: float = 0.002,
) -> np.ndarray:
    """``wav`` (``[..., samples]``, floating point) with the audio of the silenced frames zeroed.

    Frame ``t`` owns samples ``[floor(t * sr / f), floor((t + 1) * sr / f))`` (exact fractions); the last
    frame also owns any tail the decoder produced beyond the frame grid. Only silenced spans change:
    each span fades out over its first ``fade_s`` seconds and back in over its last (raised-cosine,
    at most half the span each), so the step to and from zero does not click, and received audio is
    left bit-exact. A span at the very start (end) of the signal needs no fade in front (behind). A copy
    is returned.
    """
    x = np.asarray(wav)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"audio must be floating point, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError("audio must have a samples axis")
    silenced = np.asarray(silenced_frames, dtype=bool)
    if silenced.ndim != 1:
        raise ValueError(f"silenced_frames must be one flag per frame, got shape {silenced.shape}")
    if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if not 0.0 <= float(fade_s) < math.inf:
        raise ValueError(f"fade_s must be a non-negative number of seconds, got {fade_s!r}")
    out = x.copy()
    total = x.shape[-1]
    if not silenced.any() or total == 0:
        return out
    samples_per_frame = Fraction(int(sample_rate)) / _rational(frame_rate, "frame rate")
    starts, ends = _runs(silenced)
    span_start = _floor_scaled(starts, samples_per_frame)
    span_end = _floor_scaled(ends, samples_per_frame)
    fade = round(float(fade_s) * int(sample_rate))
    gain = np.ones(total, dtype=x.dtype)
    for end_frame, s0, e0 in zip(ends, span_start, span_end, strict=True):
        s = min(int(s0), total)
        e = total if int(end_frame) == silenced.size else min(int(e0), total)
        if e <= s:
            continue
        ramp_len = min(fade, (e - s) // 2)
        gain[s:e] = 0.0
        if ramp_len:
            # strictly between 1 and 0 on the ramp samples: the received sample before stays at gain 1
            ramp = 0.5 * (1.0 + np.cos(np.pi * np.arange(1, ramp_len + 1) / (ramp_len + 1)))
            if s > 0:
                gain[s : s + ramp_len] = ramp
            if e < total:
                gain[e - ramp_len : e] = ramp[::-1]
    out *= gain
    return out


# ------------------------------------------------------------------------------------------ names

_NUM = r"\d+(?:\.\d*)?(?:e[+-]?\d+)?"
_CONCEALMENT = "|".join(re.escape(x) for x in CONCEALMENTS)
#: the erasure name grammar, with named groups for :meth:`ErasureSpec.parse`
_ERASURE_BODY = (
    rf"erasure-(?:iid-fer(?P<iid_fer>{_NUM})"
    rf"|gilbert-fer(?P<ge_fer>{_NUM})-b(?P<ge_b>{_NUM})"
    rf"|pattern-(?P<pattern>{PATTERN_NAME})(?:-o(?P<offset>\d+))?)"
    rf"-p(?P<packet>{_NUM})ms-(?P<concealment>{_CONCEALMENT})"
    rf"(?:-seed(?P<seed>\d+))?"
)
#: a whole erasure channel name (parsing; :meth:`ErasureSpec.parse` also insists on the canonical spelling)
ERASURE_NAME_RE = re.compile(rf"^{_ERASURE_BODY}$")
#: the same grammar as a Snakemake wildcard constraint (no anchors, no named groups), joined to the
#: bit-error channels' in ``nacbench.conditions.CHANNEL_WILDCARD``
ERASURE_WILDCARD = re.sub(r"\(\?P<\w+>", "(?:", _ERASURE_BODY)


def _g(x: float) -> str:
    return format(x, "g")


def _exact(x: float, what: str) -> float:
    v = float(x)
    if float(_g(v)) != v:
        raise ValueError(
            f"{what} {x!r} is not exactly representable as {_g(v)!r} in a path name; round it "
            "(at most 6 significant digits)"
        )
    return v


@dataclass(frozen=True)
class ErasureSpec:
    """One erasure condition; :attr:`name` is its path component and :meth:`parse` inverts it.

    ``fer`` is the nominal frame (packet) erasure rate in [0, 1) (iid and Gilbert), ``burst`` the Gilbert
    model's mean burst length in packets (>= 1), ``pattern`` the config name of a pattern file and
    ``pattern_offset`` the packet it is read from (:func:`pattern_losses`), ``packet_ms`` the packet
    duration, ``concealment`` one of :data:`CONCEALMENTS`. ``seed`` is the loss stream's seed for the
    random models (``None`` means 0) and must be ``None`` for a pattern, which draws nothing: every
    field that changes the channel is in the name, and no two specs share one. Numbers must survive
    ``format(x, "g")`` unchanged, as in :class:`nacbench.conditions.ChannelSpec`.
    """

    model: ErasureModel
    fer: float | None = None
    burst: float | None = None
    pattern: str | None = None
    pattern_offset: int = 0
    packet_ms: float = DEFAULT_PACKET_MS
    concealment: str = "repeat"
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.model not in ERASURE_MODELS:
            raise ValueError(f"erasure model must be one of {ERASURE_MODELS}, got {self.model!r}")
        if self.concealment not in CONCEALMENTS:
            raise ValueError(f"unknown concealment {self.concealment!r}; expected one of {CONCEALMENTS}")
        ms = _exact(self.packet_ms, "packet duration (ms)")
        if not 0.0 < ms < math.inf:
            raise ValueError(f"packet duration must be a positive number of ms, got {self.packet_ms!r}")
        if self.model == "pattern":
            if self.pattern is None or not re.fullmatch(PATTERN_NAME, self.pattern):
                raise ValueError(
                    f"a pattern condition needs a pattern name matching {PATTERN_NAME!r}, got {self.pattern!r}"
                )
            if self.fer is not None or self.burst is not None or self.seed is not None:
                raise ValueError(
                    "a pattern condition takes no fer, burst or seed: its losses are the file's "
                    f"(got fer={self.fer!r}, burst={self.burst!r}, seed={self.seed!r})"
                )
            _check_count(self.pattern_offset, "pattern offset")
            return
        if self.pattern is not None or self.pattern_offset != 0:
            raise ValueError(
                f"pattern and pattern_offset apply to the 'pattern' model only, not {self.model!r}"
            )
        if self.fer is None:
            raise ValueError(f"an {self.model!r} erasure condition needs a frame erasure rate")
        _check_fer(_exact(self.fer, "frame erasure rate"))
        if self.model == "gilbert":
            if self.burst is None:
                raise ValueError("a gilbert erasure condition needs a mean burst length")
            gilbert_transitions(self.fer, _exact(self.burst, "mean burst length"))
        elif self.burst is not None:
            raise ValueError(f"burst applies to the 'gilbert' model only, not {self.model!r}")
        # a random model without a seed draws stream 0: normalised so equal conditions compare equal
        object.__setattr__(self, "seed", _check_count(0 if self.seed is None else self.seed, "seed"))

    @property
    def packet_s(self) -> Fraction:
        """The packet duration in seconds, exact (``packet_ms`` read as the fraction it denotes)."""
        return _rational(self.packet_ms, "packet duration (ms)") / 1000

    @property
    def name(self) -> str:
        if self.model == "pattern":
            offset = f"-o{int(self.pattern_offset)}" if self.pattern_offset else ""
            return f"erasure-pattern-{self.pattern}{offset}-p{_g(float(self.packet_ms))}ms-{self.concealment}"
        assert self.fer is not None and self.seed is not None  # validated in __post_init__
        head = f"{self.model}-fer{_g(float(self.fer))}"
        if self.model == "gilbert":
            assert self.burst is not None
            head += f"-b{_g(float(self.burst))}"
        return f"erasure-{head}-p{_g(float(self.packet_ms))}ms-{self.concealment}-seed{int(self.seed)}"

    @classmethod
    def parse(cls, name: str) -> ErasureSpec:
        m = ERASURE_NAME_RE.match(name)
        if m is None:
            raise ValueError(
                f"not an erasure channel name: {name!r} (expected 'erasure-iid-fer<F>-p<P>ms-<C>-seed<N>', "
                f"'erasure-gilbert-fer<F>-b<B>-p<P>ms-<C>-seed<N>' or 'erasure-pattern-<name>[-o<N>]-p<P>ms-<C>', "
                f"with <C> one of {', '.join(CONCEALMENTS)})"
            )
        common: dict[str, Any] = {"packet_ms": float(m["packet"]), "concealment": m["concealment"]}
        seed = None if m["seed"] is None else int(m["seed"])
        if m["iid_fer"] is not None:
            spec = cls("iid", fer=float(m["iid_fer"]), seed=seed, **common)
        elif m["ge_fer"] is not None:
            spec = cls("gilbert", fer=float(m["ge_fer"]), burst=float(m["ge_b"]), seed=seed, **common)
        else:
            offset = 0 if m["offset"] is None else int(m["offset"])
            spec = cls("pattern", pattern=m["pattern"], pattern_offset=offset, seed=seed, **common)
        if spec.name != name:  # e.g. "erasure-iid-fer0.050-...": parses, but is not the canonical spelling
            raise ValueError(f"erasure channel name {name!r} is not canonical; write it as {spec.name!r}")
        return spec

    def columns(self) -> dict[str, Any]:
        """The :data:`ERASURE_COLUMNS` of this condition, in that order."""
        row: dict[str, Any] = {
            "model": self.model,
            "fer": math.nan if self.fer is None else float(self.fer),
            "burst": math.nan if self.burst is None else float(self.burst),
            "pattern": self.pattern or "",
            "pattern_offset": int(self.pattern_offset),
            "packet_ms": float(self.packet_ms),
            "concealment": self.concealment,
            "seed": -1 if self.seed is None else int(self.seed),
        }
        assert tuple(row) == ERASURE_COLUMNS
        return row


def packet_losses(
    spec: ErasureSpec, n_packets: int, rng: np.random.Generator, pattern: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    """The packet loss mask of ``spec`` over ``n_packets``, and whether a pattern wrapped.

    ``rng`` is the condition's stream (unused for a pattern); ``pattern`` the mask read from the file
    that ``spec.pattern`` names (:func:`read_pattern`), required for a pattern condition.
    """
    if spec.model == "iid":
        assert spec.fer is not None
        return iid_losses(n_packets, spec.fer, rng), False
    if spec.model == "gilbert":
        assert spec.fer is not None and spec.burst is not None
        return gilbert_losses(n_packets, spec.fer, spec.burst, rng), False
    if pattern is None:
        raise ValueError(f"condition {spec.name!r} replays the pattern {spec.pattern!r}: pass its mask")
    return pattern_losses(pattern, n_packets, spec.pattern_offset)
