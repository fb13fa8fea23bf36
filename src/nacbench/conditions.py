"""What names a condition: channel specs, labelling names, the name grammars and the condition columns.

This is the bottom of the package's import graph (it imports nothing from ``nacbench``): a channel's
path component, the Snakemake wildcard constraints, the channel stage, the score tables and the
notebook helpers all read these definitions, so a condition is spelled, parsed and tabulated one way.

Name grammar (each is a path component under ``results/``):

``{codec}``    ``[a-z0-9][a-z0-9_.-]*`` (the config schema's codec-name pattern)
``{dataset}``  ``[a-z0-9_]+``
``{shard}``    three digits, ``000`` ... (:func:`shard_name`)
``{channel}``  ``clean``, ``bsc-p<P>-seed<N>`` or ``ge-p<P>-b<B>-seed<N>``, then ``-<labelling>`` for a
               non-natural labelling; numbers are written ``format(x, "g")`` (:attr:`ChannelSpec.name`);
               or a packet-loss channel ``erasure-...`` (:attr:`nacbench.erasure.ErasureSpec.name`)

A bit-error channel (:class:`ChannelSpec`) flips bits; an erasure channel (:class:`ErasureSpec`) loses
whole packets and names its concealment. :func:`parse_channel` reads either, and
:func:`condition_columns` tabulates both in one set of columns (a parameter that does not apply to a
condition is NaN there, or None for the concealment).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from nacbench.erasure import ERASURE_MODELS, ERASURE_WILDCARD, ErasureSpec

__all__ = [
    "BIT_ERROR_MODELS",
    "CHANNEL_MODELS",
    "CHANNEL_NAME_RE",
    "CHANNEL_PARAMETERS",
    "CHANNEL_WILDCARD",
    "CODEC_CHAR",
    "CODEC_NAME",
    "CONFIGURED_CODEC_NAME",
    "CONDITION_COLUMNS",
    "DATASET_NAME",
    "GE_P_BAD",
    "LABELLINGS",
    "LABELLING_WILDCARD",
    "SHARD_NAME",
    "ChannelModel",
    "ChannelSpec",
    "ErasureSpec",
    "condition_columns",
    "is_erasure",
    "parse_channel",
    "shard_name",
]

ChannelModel = Literal["clean", "bsc", "ge"]

#: bit-error channel models (:class:`ChannelSpec`)
BIT_ERROR_MODELS: tuple[str, ...] = ("clean", "bsc", "ge")
#: every channel model, in the order tables and the notebook list them: the bit-error models, then the
#: packet-loss models of :mod:`nacbench.erasure` ("iid", "gilbert", "pattern")
CHANNEL_MODELS: tuple[str, ...] = (*BIT_ERROR_MODELS, *ERASURE_MODELS)

#: Labellings a condition may name; "natural" is the codec's own indices and adds nothing to paths.
LABELLINGS: tuple[str, ...] = ("natural", "gray", "random", "distortion-aware")

#: Error probability inside the Gilbert-Elliott bad state. Fixed (not part of a condition's name) so that
#: a path always identifies its channel; the mean rate and burst length are the named parameters.
GE_P_BAD = 0.5

#: one character of a codec name after the first (also ends a codec name inside a longer regex)
CODEC_CHAR = r"[a-z0-9_.~-]"
#: a codec name: a configured one, or one the quantizer swap derives from it (``lyra~fsq120``)
CODEC_NAME = rf"[a-z0-9]{CODEC_CHAR}*"
#: a name under ``codecs:`` in config (the schema's ``propertyNames`` pattern says the same): "~" is
#: reserved for derived codecs (:mod:`nacbench.swap`), so they can never collide with a configured one
CONFIGURED_CODEC_NAME = r"[a-z0-9][a-z0-9_.-]*"
#: a dataset name (``data.<name>`` in config)
DATASET_NAME = r"[a-z0-9_]+"
#: a shard name: the shard's index, zero-padded to three digits
SHARD_NAME = r"\d{3}"

#: The condition columns of every per-utterance table (scores, ASR) and of the notebook's condition list,
#: in this order: the path fields, then what the channel name encodes. ``p_flip`` is the bit error rate
#: (0 for clean, NaN for a packet-loss channel); ``burst_length`` the mean burst, in bits for "ge" and
#: in packets for "gilbert", NaN otherwise; ``fer`` the nominal frame (packet) erasure rate, NaN unless
#: a random packet-loss model; ``concealment`` None unless a packet-loss channel; ``seed`` -1 for the
#: clean channel and a loss pattern (neither draws anything).
CONDITION_COLUMNS: tuple[str, ...] = (
    "codec",
    "dataset",
    "channel",
    "model",
    "p_flip",
    "burst_length",
    "seed",
    "labelling",
    "shard",
    "fer",
    "concealment",
)

#: The columns that say what a channel did once seeds and shards are pooled (with codec, dataset and
#: labelling they name one point of a curve).
CHANNEL_PARAMETERS: tuple[str, ...] = ("model", "p_flip", "burst_length", "fer", "concealment")

_NUM = r"\d+(?:\.\d*)?(?:e[+-]?\d+)?"
#: the channel name grammar, with named groups for :meth:`ChannelSpec.parse`
_CHANNEL_BODY = (
    rf"(?:(?P<clean>clean)|bsc-p(?P<bsc_p>{_NUM})-seed(?P<bsc_seed>\d+)"
    rf"|ge-p(?P<ge_p>{_NUM})-b(?P<ge_b>{_NUM})-seed(?P<ge_seed>\d+))"
    rf"(?:-(?P<labelling>{'|'.join(re.escape(x) for x in LABELLINGS if x != 'natural')}))?"
)
#: a whole channel name (parsing; :meth:`ChannelSpec.parse` also insists on the canonical spelling)
CHANNEL_NAME_RE = re.compile(rf"^{_CHANNEL_BODY}$")
#: the same grammar as a Snakemake wildcard constraint (no anchors, no named groups: Snakemake wraps the
#: constraint in its own named group), bit-error and packet-loss channels alike
_BIT_ERROR_WILDCARD = re.sub(r"\(\?P<\w+>", "(?:", _CHANNEL_BODY)
CHANNEL_WILDCARD = f"(?:{_BIT_ERROR_WILDCARD}|{ERASURE_WILDCARD})"
#: the labellings that name a labelling artifact (``labelling/{codec}/{labelling}.npz``)
LABELLING_WILDCARD = "|".join(re.escape(x) for x in LABELLINGS if x != "natural")


def shard_name(index: int) -> str:
    """The path component of shard ``index`` (``7`` -> ``"007"``)."""
    if isinstance(index, bool) or int(index) != index or not 0 <= int(index) <= 999:
        raise ValueError(f"shard index must be an integer in [0, 999], got {index!r}")
    return f"{int(index):03d}"


def _g(x: float) -> str:
    return format(x, "g")


@dataclass(frozen=True)
class ChannelSpec:
    """One channel condition; :attr:`name` is its path component and :meth:`parse` inverts it.

    ``p_flip`` is the bit error rate (for "ge" the stationary mean rate), ``burst_length`` the mean
    bad-state sojourn in bits (GE only). A number must survive ``format(x, "g")`` unchanged: two
    conditions whose names collided would silently share artifacts.
    """

    model: ChannelModel
    p_flip: float = 0.0
    seed: int = 0
    labelling: str = "natural"
    burst_length: float | None = None

    def __post_init__(self) -> None:
        if self.model not in BIT_ERROR_MODELS:
            raise ValueError(f"channel model must be 'clean', 'bsc' or 'ge', got {self.model!r}")
        p = float(self.p_flip)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"channel {self.model!r}: p_flip must lie in [0, 1], got {self.p_flip!r}")
        if float(_g(p)) != p:
            raise ValueError(
                f"channel {self.model!r}: p_flip {p!r} is not exactly representable as {_g(p)!r} in a path "
                "name; round it (at most 6 significant digits)"
            )
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(
                f"channel {self.model!r}: seed must be a non-negative integer, got {self.seed!r}"
            )
        if self.labelling not in LABELLINGS:
            raise ValueError(f"unknown labelling {self.labelling!r}; expected one of {LABELLINGS}")
        if self.model == "clean" and p != 0.0:
            raise ValueError(f"a clean channel has p_flip 0, got {self.p_flip!r}")
        if self.model == "ge":
            b = self.burst_length
            if b is None or not 1.0 <= float(b) < math.inf:
                raise ValueError(f"GE channel needs a finite burst_length >= 1 bit, got {b!r}")
            if float(_g(float(b))) != float(b):
                raise ValueError(f"GE burst_length {b!r} is not exactly representable as {_g(float(b))!r}")
            if p > GE_P_BAD:
                raise ValueError(
                    f"GE channel: mean bit error rate {p} exceeds the bad-state error rate {GE_P_BAD}"
                )
        elif self.burst_length is not None:
            raise ValueError(f"burst_length applies to the 'ge' channel only, not {self.model!r}")

    @property
    def name(self) -> str:
        if self.model == "clean":
            base = "clean"
        elif self.model == "bsc":
            base = f"bsc-p{_g(float(self.p_flip))}-seed{int(self.seed)}"
        else:
            assert self.burst_length is not None
            base = f"ge-p{_g(float(self.p_flip))}-b{_g(float(self.burst_length))}-seed{int(self.seed)}"
        return base if self.labelling == "natural" else f"{base}-{self.labelling}"

    @classmethod
    def parse(cls, name: str) -> ChannelSpec:
        m = CHANNEL_NAME_RE.match(name)
        if m is None:
            raise ValueError(
                f"not a channel name: {name!r} (expected 'clean', 'bsc-p<P>-seed<N>' or 'ge-p<P>-b<B>-seed<N>', "
                f"optionally followed by -gray, -random or -distortion-aware)"
            )
        labelling = m["labelling"] or "natural"
        if m["clean"]:
            spec = cls("clean", labelling=labelling)
        elif m["bsc_p"] is not None:
            spec = cls("bsc", float(m["bsc_p"]), int(m["bsc_seed"]), labelling)
        else:
            b = float(m["ge_b"])
            spec = cls("ge", float(m["ge_p"]), int(m["ge_seed"]), labelling, b)
        if spec.name != name:  # e.g. "bsc-p0.010-seed0": parses, but is not the canonical spelling
            raise ValueError(f"channel name {name!r} is not canonical; write it as {spec.name!r}")
        return spec


def is_erasure(channel: str) -> bool:
    """Whether ``channel`` names a packet-loss channel (only its prefix is looked at)."""
    return channel.startswith("erasure-")


def parse_channel(channel: str) -> ChannelSpec | ErasureSpec:
    """The condition a channel name denotes: a bit-error :class:`ChannelSpec` or a packet-loss
    :class:`ErasureSpec`; ValueError (naming the grammar) for anything else."""
    return ErasureSpec.parse(channel) if is_erasure(channel) else ChannelSpec.parse(channel)


def condition_columns(codec: str, dataset: str, channel: str, shard: str) -> dict[str, Any]:
    """The :data:`CONDITION_COLUMNS` of one (codec, dataset, channel, shard), in that order.

    Raises ValueError (from :func:`parse_channel`) when ``channel`` is not a channel name.
    """
    spec = parse_channel(channel)
    head = {"codec": codec, "dataset": dataset, "channel": channel, "model": spec.model}
    if isinstance(spec, ErasureSpec):
        params: dict[str, Any] = {
            "p_flip": math.nan,
            "burst_length": math.nan if spec.burst is None else float(spec.burst),
            "seed": -1 if spec.seed is None else int(spec.seed),
            "labelling": "natural",
            "shard": shard,
            "fer": math.nan if spec.fer is None else float(spec.fer),
            "concealment": spec.concealment,
        }
    else:
        params = {
            "p_flip": float(spec.p_flip),
            "burst_length": math.nan if spec.burst_length is None else float(spec.burst_length),
            "seed": int(spec.seed) if spec.model != "clean" else -1,
            "labelling": spec.labelling,
            "shard": shard,
            "fer": math.nan,
            "concealment": None,
        }
    row = head | params
    assert tuple(row) == CONDITION_COLUMNS
    return row
