"""The quantizer swap study: the codecs it derives from config, their names, channels and error streams.

The paper's Figure 3 compares codecs that differ in bits per frame, architecture and training, not only
in quantizer. The swap keeps one trained codec's encoder and decoder (its ``encode_latent`` and
``decode_latent``) and replaces its quantizer by one fitted post hoc (:mod:`nacbench.posthoc`) at the
same bits per frame. Everything here is derived from ``study_swap`` in config, so the workflow, the
validation and the report agree on what the study is.

Names (the ``{codec}`` of every artifact path): ``<base>~<quantizer><bits>``, e.g. ``lyra~fsq120`` (Lyra
v2's encoder and decoder, post-hoc FSQ, 120 bits per frame), ``lyra~rvq16`` (post-hoc residual k-means,
16 bits), ``lyra~native16`` (Lyra's own RVQ at 16 bits: a codec with a rate option run at another rate).
The native quantizer at the native rate is the base codec itself, under its own name.

Common errors: a swapped codec sends the same number of bits per frame as the native codec it is
compared with, frame-major, so drawing its channel errors from the same stream puts every bit error at
the same (frame, bit) position: native vs swapped is a paired comparison. :func:`error_stream` names
that stream: the base codec's own at its native rate, ``<base>~<bits>`` at any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nacbench.conditions import CODEC_NAME, ChannelSpec

Config = Mapping[str, Any]
SwapQuantizer = Literal["native", "fsq", "rvq"]

#: separates the base codec from the quantizer in a swapped codec's name
SEPARATOR = "~"
#: the quantizers a swap row compares, in the order tables and figures list them
QUANTIZERS: tuple[SwapQuantizer, ...] = ("native", "fsq", "rvq")
#: the adapter that wraps a base codec with a post-hoc quantizer (:mod:`nacbench.codecs.posthoc`)
POSTHOC_ADAPTER = "posthoc"
#: the name of a codec with a post-hoc quantizer (the fit_quantizer rule's wildcard)
POSTHOC_NAME = rf"{CODEC_NAME}~(?:fsq|rvq)[1-9]\d*"
#: a swapped codec's name
SWAP_NAME_RE = re.compile(rf"^(?P<base>{CODEC_NAME})~(?P<quantizer>native|fsq|rvq)(?P<bits>[1-9]\d*)$")
#: the metric of the study's paired differences and rate-sweep break-down
HEADLINE_METRIC = "stoi"
#: post-hoc RVQ stages are at most this wide (2**10 k-means entries); wider codebooks are split
MAX_RVQ_STAGE_BITS = 10


@dataclass(frozen=True, order=True)
class SwapCodec:
    """One codec of the study: a base codec's encoder and decoder with a quantizer at a bit budget."""

    base: str
    bits: int
    quantizer: SwapQuantizer
    #: the base codec's own bits per frame (its native quantizer at this budget is the base itself)
    native_bits: int

    @property
    def name(self) -> str:
        if self.quantizer == "native" and self.bits == self.native_bits:
            return self.base
        return f"{self.base}{SEPARATOR}{self.quantizer}{self.bits}"

    @property
    def posthoc(self) -> bool:
        return self.quantizer != "native"

    @property
    def error_stream(self) -> str:
        """The channel-error stream shared by every quantizer of this base at this budget."""
        return self.base if self.bits == self.native_bits else f"{self.base}{SEPARATOR}{self.bits}"


def parse_name(name: str) -> tuple[str, SwapQuantizer, int] | None:
    """(base, quantizer, bits) of a swapped codec's name; None for any other codec name."""
    m = SWAP_NAME_RE.match(name)
    if m is None:
        return None
    quantizer: SwapQuantizer = m["quantizer"]  # type: ignore[assignment]  # reason: the regex admits only these
    return m["base"], quantizer, int(m["bits"])


def _study(config: Config) -> Mapping[str, Any]:
    return config.get("study_swap") or {"codecs": []}


def rate_option(adapter: str) -> tuple[str, int, int] | None:
    """(option, bits per unit, most units) of an adapter whose rate is a count of codebooks, e.g. Lyra's
    ``num_quantizers`` (4 bits each, at most 46); None for a fixed-rate adapter."""
    from nacbench.codecs import ADAPTERS

    entry = ADAPTERS.get(adapter)
    return entry.rate if entry is not None else None


def native_bits(config: Config, base: str) -> int:
    """The base codec's bits per frame, from its static layout (nothing is built)."""
    from nacbench.channel import bits_per_codebook
    from nacbench.codecs import static_layout

    options = config["codecs"][base]
    return sum(bits_per_codebook(static_layout(options["adapter"], options).codebook_sizes))


def budgets(config: Config, base: str) -> tuple[list[int], list[int]]:
    """(main budgets, rate-sweep budgets) in bits per frame for ``base``: the main ones are its native
    rate plus ``study_swap.bits``; the sweep's are ``study_swap.rate_sweep.bits`` for a codec with a
    variable rate (a rate option), none for a fixed-rate one or without a sweep."""
    study = _study(config)
    native = native_bits(config, base)
    main = list(dict.fromkeys([native, *(int(b) for b in study.get("bits", []))]))
    variable = rate_option(config["codecs"][base]["adapter"]) is not None
    sweep = [int(b) for b in (study.get("rate_sweep") or {}).get("bits", [])] if variable else []
    return main, sweep


def swap_codecs(config: Config) -> list[SwapCodec]:
    """Every codec of the study, native rows included, in a stable order (base, bits, quantizer).

    A native row exists at a budget other than the native one only for a base with a rate option.
    """
    study = _study(config)
    out: set[SwapCodec] = set()
    for base in study["codecs"]:
        native = native_bits(config, base)
        has_rate = rate_option(config["codecs"][base]["adapter"]) is not None
        main, sweep = budgets(config, base)
        for bits in dict.fromkeys([*main, *sweep]):
            for quantizer in ("native", *study.get("quantizers", [])):
                if quantizer == "native" and bits != native and not has_rate:
                    continue
                out.add(SwapCodec(base, bits, quantizer, native))
    order = {q: i for i, q in enumerate(QUANTIZERS)}
    return sorted(out, key=lambda s: (s.base, -s.bits, order[s.quantizer]))


def rvq_stage_bits(config: Config, swap: SwapCodec) -> int:
    """Bits per post-hoc RVQ stage: ``study_swap.rvq.bits_per_stage``, else the base codec's own
    codebook width (Lyra: 4), capped at :data:`MAX_RVQ_STAGE_BITS` (NeuCodec's one 16-bit codebook
    becomes two 8-bit stages)."""
    asked = (_study(config).get("rvq") or {}).get("bits_per_stage")
    if asked:
        return int(asked)
    from nacbench.channel import bits_per_codebook
    from nacbench.codecs import static_layout

    options = config["codecs"][swap.base]
    width = bits_per_codebook(static_layout(options["adapter"], options).codebook_sizes)[0]
    if width <= MAX_RVQ_STAGE_BITS:
        return width
    return max(b for b in range(1, MAX_RVQ_STAGE_BITS + 1) if swap.bits % b == 0)


def fsq_settings(config: Config) -> dict[str, Any]:
    """``study_swap.fsq`` with its defaults: how the post-hoc FSQ splits its budget."""
    fsq = dict(_study(config).get("fsq") or {})
    return {
        "allocation": fsq.get("allocation", "water-filling"),
        "bits_per_component": int(fsq.get("bits_per_component", 2)),
    }


def codec_options(config: Config, swap: SwapCodec, quantizer_file: str) -> dict[str, Any]:
    """The ``codecs.<name>`` entry of a derived codec: the base's entry at another rate (native), or the
    post-hoc adapter around the base (``quantizer_file``: the fitted quantizer, an artifact)."""
    base_options = dict(config["codecs"][swap.base])
    if not swap.posthoc:
        rate = rate_option(base_options["adapter"])
        assert rate is not None, f"{swap.name}: no rate option (swap_codecs never derives this)"
        option, unit, _ = rate
        return {**base_options, option: swap.bits // unit}
    opts: dict[str, Any] = {
        "adapter": POSTHOC_ADAPTER,
        "base": swap.base,
        "base_options": base_options,
        "quantizer": swap.quantizer,
        "bits": swap.bits,
        "quantizer_file": quantizer_file,
        "fit": fit_settings(config, swap),
        "random_weights": bool(base_options.get("random_weights", False)),
    }
    for key in ("conda_env", "gpu_mem_mb"):  # the pipeline runs it where and as its base runs
        if key in base_options:
            opts[key] = base_options[key]
    return opts


def fit_settings(config: Config, swap: SwapCodec) -> dict[str, Any]:
    """What fitting ``swap``'s quantizer takes besides the latents (recorded with the fit)."""
    if swap.quantizer == "fsq":
        return {"kind": "fsq", "bits_per_frame": swap.bits, **fsq_settings(config)}
    stage = rvq_stage_bits(config, swap)
    return {
        "kind": "rvq",
        "bits_per_frame": swap.bits,
        "stages": swap.bits // stage,
        "bits": stage,
        "seed": int(config["seed"]),
    }


def main_channels(config: Config, base: str) -> list[ChannelSpec]:
    """Clean plus every Study A BSC P_flip at each of ``study_swap.seeds``, or the P_flip and seeds
    ``study_swap.overrides.<base>`` gives (fewer conditions for a slow base codec)."""
    study = _study(config)
    override = (study.get("overrides") or {}).get(base, {})
    seeds = override.get("seeds", study.get("seeds", [0]))
    p_flips = override.get("p_flip", config["study_a"]["channels"]["bsc"]["p_flip"])
    return [ChannelSpec("clean")] + [ChannelSpec("bsc", float(p), int(s)) for p in p_flips for s in seeds]


def sweep_channels(config: Config) -> list[ChannelSpec]:
    """Clean plus the rate sweep's P_flip x seeds (empty without a sweep)."""
    sweep = _study(config).get("rate_sweep")
    if not sweep:
        return []
    return [ChannelSpec("clean")] + [
        ChannelSpec("bsc", float(p), int(s)) for p in sweep["p_flip"] for s in sweep.get("seeds", [0])
    ]


def channels_of(config: Config, swap: SwapCodec) -> list[ChannelSpec]:
    """The conditions one codec of the study runs: main channels at a main budget, the sweep's at a
    sweep budget (both where it is in both)."""
    main, sweep = budgets(config, swap.base)
    specs: list[ChannelSpec] = []
    if swap.bits in main:
        specs += main_channels(config, swap.base)
    if swap.bits in sweep:
        specs += sweep_channels(config)
    return list(dict.fromkeys(specs))


def error_streams(config: Config) -> dict[str, str]:
    """codec -> the name its channel errors are drawn under, for the study's codecs (any other codec
    draws under its own name)."""
    return {s.name: s.error_stream for s in swap_codecs(config)}


def derived_codecs(config: Config, quantizer_path: Any) -> dict[str, dict[str, Any]]:
    """The codec entries the study adds to ``codecs`` (its base codecs are there already).
    ``quantizer_path(name)`` gives the fitted quantizer's artifact path."""
    return {
        s.name: codec_options(config, s, quantizer_path(s.name))
        for s in swap_codecs(config)
        if s.name != s.base
    }


def with_derived_codecs(config: Config) -> dict[str, Any]:
    """``config`` with the study's derived codecs added under ``codecs`` (a copy; the workflow and the
    start-up checks both see them, so a derived codec can be named in any study like a configured one)."""
    from nacbench.artifacts import quantizer

    results = config["results"]
    derived = derived_codecs(config, lambda name: quantizer(results, name))
    return {**config, "codecs": {**config["codecs"], **derived}}


def in_sample(config: Config) -> bool:
    """True when the fit set is drawn from the evaluation dataset (allowed only when asked)."""
    return str(config["fit"]["dataset"]) == str(config["study_a"]["dataset"])


def study_rows(config: Config) -> list[dict[str, Any]]:
    """One row per codec of the study for the report: codec, base, quantizer, bits, whether the budget
    is a main one and a sweep one, and the channels the study ran it on (a base codec also has the
    conditions other studies ran: the report compares the quantizers on the study's own)."""
    rows = []
    for s in swap_codecs(config):
        main, sweep = budgets(config, s.base)
        rows.append(
            {
                "codec": s.name,
                "base": s.base,
                "quantizer": s.quantizer,
                "bits": s.bits,
                "main": s.bits in main,
                "sweep": s.bits in sweep,
                "channels": [spec.name for spec in channels_of(config, s)],
            }
        )
    return rows
