"""Every random stream of the pipeline, derived one way: a SeedSequence over a seed and named parts.

:func:`derive_rng` hashes each named part with SHA-256 (numbers by their exact value), so a stream
depends only on the run seed and its names: never on the process, the job order, which other streams
were drawn, or Python's per-process ``hash()`` salt. Each consumer has its own named stream, so two
consumers never share draws and adding one leaves the others' draws unchanged. No other module builds a
numpy Generator, SeedSequence or RandomState (a test greps ``src/`` for it).

========================  =======================================================  =====================
consumer                  named parts after the seed                               function
========================  =======================================================  =====================
channel bit errors        codec, dataset, shard, model, P_flip, burst length (0    :func:`channel_rng`
                          for BSC) -- no leading stream name: the channel
                          artifacts were drawn this way before this module existed
                          and stay bit-identical. The labelling is deliberately
                          not a part: every labelling of a condition sees the same
                          bit errors (common random numbers). The quantizer swap's
                          codecs at one budget share their base codec's stream
                          (``nacbench.swap.error_streams``): paired comparisons.
packet losses             "erasure", dataset, utterance, model, FER, burst (0 for  :func:`erasure_rng`
                          i.i.d.), packet ms -- no codec and no concealment: every
                          codec and concealment sees the same lost packets
                          (common random numbers; packets are on one time grid)
random labelling          "labelling", "random", codec, codebook index             :func:`labelling_rng`
switching-search start    "binary-switching", "init"                               :func:`switching_rng`
CMU-Arctic selection      "arctic-selection", speaker                              :func:`arctic_rng`
bootstrap resampling      "bootstrap", then each part of the group's key           :func:`bootstrap_rng`
fits (post-hoc k-means)   "fit", then the consumer's own parts                     :func:`fit_rng`
PLCMOS v2 raters          a legacy MT19937 ``RandomState(seed)``, as speechmos    :func:`plcmos_raters`
                          draws them (not a derived stream: it reproduces a
                          third-party package's draws, so scores match its own)
========================  =======================================================  =====================

The channel, labelling and switching streams are the ones the pipeline always used. The Arctic
selection (formerly ``SeedSequence([seed, sha256(speaker)[:8] little-endian])``) and the bootstrap draws
(formerly ``default_rng([seed, crc32(repr(key))])``) moved onto :func:`derive_rng` with this module, so
they differ from runs made before it: a different (equally uniform) set of Arctic utterances, and
bootstrap intervals that differ within their Monte Carlo error. Random-weight codec initialisation is
torch's generator, seeded per model part (``nacbench.codecs.torchutil.seeded_part``: SHA-256 of the
codec's ``seed`` option and the part's name), so a decode-only build gets the full build's decoder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

__all__ = [
    "arctic_rng",
    "bootstrap_rng",
    "channel_rng",
    "derive_rng",
    "erasure_rng",
    "fit_rng",
    "labelling_rng",
    "plcmos_raters",
    "switching_rng",
]

NamePart = str | float


def _name_entropy(part: NamePart) -> int:
    if isinstance(part, str):
        payload = b"s:" + part.encode("utf-8")
    elif isinstance(part, (int, float, np.integer, np.floating)) and not isinstance(part, (bool, np.bool_)):
        # numbers are named by value (YAML's 1 and 1.0 are the same P_flip); float.hex is exact, so 0.01
        # and 0.010000000000000002 do not share a stream (integers are exact up to 2**53)
        payload = b"f:" + float(part).hex().encode("ascii")
    else:
        raise TypeError(f"derive_rng names must be str or numbers, got {type(part).__name__}")
    return int.from_bytes(hashlib.sha256(payload).digest()[:16], "big")


def derive_rng(seed: int, *names: NamePart) -> np.random.Generator:
    """A generator determined only by ``seed`` and the named parts (never by Python's ``hash()``)."""
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    entropy = [int(seed), *(_name_entropy(n) for n in names)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def channel_rng(
    seed: int, codec: str, dataset: str, shard: str, model: str, p_flip: float, burst_length: float | None
) -> np.random.Generator:
    """The bit-error stream of one channel shard (see the table above for why it has no stream name)."""
    return derive_rng(seed, codec, dataset, shard, model, float(p_flip), float(burst_length or 0.0))


def erasure_rng(
    seed: int, dataset: str, utterance: str, model: str, fer: float, burst: float | None, packet_ms: float
) -> np.random.Generator:
    """The packet-loss stream of one utterance under one random loss model (see the table above).

    Per utterance, not per shard, and without the codec: a loss mask drawn for an utterance's packets is
    the same for every codec (the draws are prefix-stable, :mod:`nacbench.erasure`), whatever its frame
    rate or the other utterances of its shard.
    """
    return derive_rng(
        seed, "erasure", dataset, utterance, model, float(fer), float(burst or 0.0), float(packet_ms)
    )


def labelling_rng(seed: int, codec: str, codebook: int) -> np.random.Generator:
    """The stream that draws the ``random`` labelling's permutation of one codebook."""
    return derive_rng(seed, "labelling", "random", codec, int(codebook))


def switching_rng(seed: int) -> np.random.Generator:
    """The stream that draws the random start of the binary switching search."""
    return derive_rng(seed, "binary-switching", "init")


def arctic_rng(seed: int, speaker: str) -> np.random.Generator:
    """The stream that draws one CMU-Arctic speaker's utterances (independent of the other speakers)."""
    return derive_rng(seed, "arctic-selection", speaker)


def _key_part(value: object) -> NamePart:
    """A group-key value as a name part: numbers by value, everything else (bools, NaN-free text) as text."""
    if isinstance(value, (bool, np.bool_)):
        return f"bool:{bool(value)}"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return str(value)


def bootstrap_rng(seed: int, key: Iterable[object]) -> np.random.Generator:
    """The resampling stream of one group of a table (e.g. codec, labelling, model, P_flip).

    Each part of the key is a name part, so the stream depends on the group's values, not on which other
    groups exist or the order they are visited in.
    """
    return derive_rng(seed, "bootstrap", *(_key_part(v) for v in key))


def fit_rng(seed: int, *names: NamePart) -> np.random.Generator:
    """A stream for fitting something on data (e.g. a k-means initialisation), named by its
    consumer, e.g. ``fit_rng(seed, "kmeans", codec)``."""
    return derive_rng(seed, "fit", *names)


def plcmos_raters(seed: int, raters: int, dim: int) -> np.ndarray:
    """PLCMOS v2's rater embeddings ``[raters, dim]``, drawn as speechmos draws them from numpy's legacy
    global state after ``np.random.seed(seed)``: the one stream here that is not derived, because it
    reproduces another package's draws (scores then equal speechmos's for the same seed)."""
    return np.random.RandomState(int(seed)).standard_normal((raters, dim))
