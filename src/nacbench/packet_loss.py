"""The packet-loss study: its conditions from config, and a shard of codes sent through a lossy network.

Real networks mostly lose packets rather than flip bits. The building blocks (packets, loss models,
patterns, concealment, names) are in :mod:`nacbench.erasure`; this module turns ``study_packet_loss`` in
config into channel conditions (:func:`channels_of`) and sends a shard of codes through one
(:func:`erase_codes`), so that the decode job can conceal and decode it like any other channel.

Conditions. Every codec of the study runs clean, and each random loss model (``iid``; ``gilbert`` at
each mean burst length) at each FER and seed, and each configured pattern, under each concealment it
can do: a codec with its own decoder concealment (:attr:`Capability.CONCEAL`, Opus) uses that
(``plc``) and nothing else; the others take the study's ``concealments`` (``repeat``, ``silence``, and
``mean-latent`` for codecs with latent access: :func:`nacbench.codecs.base.conceals_in_latent`).

Common losses. An utterance's loss mask comes from a stream named by the utterance, not the codec
(:func:`nacbench.seeds.erasure_rng`), over packets on one time grid, and the loss models' draws are
prefix-stable: every codec and every concealment of a condition loses the same stretches of audio.
A pattern is replayed across the shard's utterances one after another, each taking as many packets as
its duration in the manifest spans, so that alignment does not depend on the codec either.

What a received shard records (beside the bit-error channel's counts, which are 0 here): per utterance
``packets_sent``, ``packets_lost`` and ``loss_bursts`` (maximal runs of lost packets); per frame (flat over the shard, like the codes) ``lost_frames``
and ``silenced_frames``; the condition's ``concealment``, the realised :func:`nacbench.erasure.loss_stats`
of the shard's whole mask as JSON (``loss_stats``) and, for a pattern, whether it wrapped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from nacbench.conditions import ChannelSpec, ErasureSpec
from nacbench.erasure import (
    DEFAULT_PACKET_MS,
    OWN_CONCEALMENT,
    conceal_codes,
    frame_losses,
    loss_stats,
    packet_count,
    packet_losses,
    pattern_losses,
)
from nacbench.seeds import erasure_rng

Config = Mapping[str, Any]

#: the concealment of a codec that conceals in its own decoder (:attr:`Capability.CONCEAL`)
CODEC_CONCEALMENT = OWN_CONCEALMENT
#: the metric the study's break-down FER and its figure lead with: PLCMOS rates concealment
HEADLINE_METRIC = "plcmos"
#: per-utterance counts of a received shard that went through an erasure channel
PACKET_EXTRAS: tuple[str, ...] = ("packets_sent", "packets_lost", "loss_bursts")
#: the received shard's per-frame flags (flat over its utterances, like the codes) and its concealment
LOST_FRAMES, SILENCED_FRAMES, CONCEALMENT = "lost_frames", "silenced_frames", "concealment"


def study(config: Config) -> Mapping[str, Any]:
    """The ``study_packet_loss`` section (empty codec list when absent)."""
    return config.get("study_packet_loss") or {"codecs": []}


def codecs(config: Config) -> list[str]:
    return list(study(config).get("codecs", []))


def settings_of(config: Config, codec: str | None = None) -> Mapping[str, Any]:
    """The study's settings for ``codec``: ``overrides.<codec>`` (fer, bursts, seeds, concealments)
    over the study's own, so a slow or random-weight codec can run fewer conditions."""
    s = study(config)
    override = (s.get("overrides") or {}).get(codec, {}) if codec else {}
    return {**s, **override}


def concealments_of(config: Config, codec_conceals: bool, codec: str | None = None) -> list[str]:
    """The concealments a codec runs: its own (``plc``) when it has one, else the study's list."""
    if codec_conceals:
        return [CODEC_CONCEALMENT]
    return list(settings_of(config, codec).get("concealments", ["repeat"]))


def loss_specs(config: Config, concealment: str, codec: str | None = None) -> list[ErasureSpec]:
    """Every erasure condition of the study (for ``codec``: with its overrides) under one concealment,
    in table order (model, FER, seed)."""
    s = settings_of(config, codec)
    packet_ms = float(s.get("packet_ms", DEFAULT_PACKET_MS))
    seeds = [int(x) for x in s.get("seeds", [0])]
    fers = [float(f) for f in s.get("fer", [])]
    specs = [
        ErasureSpec("iid", fer=f, seed=seed, packet_ms=packet_ms, concealment=concealment)
        for f in fers
        for seed in seeds
    ]
    specs += [
        ErasureSpec("gilbert", fer=f, burst=float(b), seed=seed, packet_ms=packet_ms, concealment=concealment)
        for b in s.get("bursts", [])
        for f in fers
        for seed in seeds
    ]
    specs += [
        ErasureSpec("pattern", pattern=name, packet_ms=packet_ms, concealment=concealment)
        for name in s.get("patterns", {}) or {}
    ]
    return specs


def channels_of(config: Config, codec: str, codec_conceals: bool) -> list[str]:
    """The channel names ``codec`` runs in the study: clean, then each loss condition x concealment."""
    names = [ChannelSpec("clean").name]
    for concealment in concealments_of(config, codec_conceals, codec):
        names += [spec.name for spec in loss_specs(config, concealment, codec)]
    return names


def pattern_path(config: Config, name: str) -> str:
    """The file of the configured loss pattern ``name`` (``study_packet_loss.patterns``)."""
    return str((study(config).get("patterns") or {})[name])


# ------------------------------------------------------------------------------------------- transmission


def pattern_offsets(durations: Sequence[float], packet_s: Fraction, start: int) -> list[int]:
    """The packet of a pattern each utterance starts at: ``start``, then after as many packets as each
    earlier utterance's duration spans (``ceil(duration / packet_s)``, exact for the manifest's
    durations up to float rounding of the last digit)."""
    offsets, at = [], int(start)
    for d in durations:
        offsets.append(at)
        at += math.ceil(Fraction(float(d)).limit_denominator(10**9) / packet_s)
    return offsets


def erase_codes(
    codes: Sequence[np.ndarray],
    utt_ids: Sequence[str],
    frame_rate: float,
    spec: ErasureSpec,
    dataset: str,
    pattern: np.ndarray | None = None,
    durations: Sequence[float] | None = None,
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Send one shard's codes (``[n_codebooks, frames]`` per utterance) through ``spec``.

    Returns the codes to decode (lost frames concealed on codes: ``repeat`` codes, also under ``silence``,
    ``plc`` and ``mean-latent``, where the decode stage zeroes the audio, the codec conceals, or the mean
    latent is decoded instead) and the extras
    listed in the module docstring. A pattern condition needs the pattern's mask and the utterances'
    durations (seconds, the manifest's) for its offsets.
    """
    packet_s = spec.packet_s
    if spec.model == "pattern":
        if pattern is None or durations is None:
            raise ValueError(f"condition {spec.name!r} replays a pattern: pass its mask and the durations")
        starts = pattern_offsets(durations, packet_s, spec.pattern_offset)
    # the codec's own concealment ignores the lost frames' codes: repeat codes stand in for them
    conceal = "repeat" if spec.concealment == OWN_CONCEALMENT else spec.concealment
    out, masks, lost_frames, silenced = [], [], [], []
    sent = np.zeros(len(codes), np.int64)
    lost = np.zeros(len(codes), np.int64)
    bursts = np.zeros(len(codes), np.int64)
    wrapped = False
    for i, (utt, c) in enumerate(zip(utt_ids, codes, strict=True)):
        n_packets = packet_count(c.shape[1], frame_rate, packet_s)
        if spec.model == "pattern":
            assert pattern is not None
            mask, wrap = pattern_losses(pattern, n_packets, starts[i])
            wrapped |= wrap
        else:
            rng = erasure_rng(
                int(spec.seed or 0), dataset, utt, spec.model, spec.fer or 0.0, spec.burst, spec.packet_ms
            )
            mask, _ = packet_losses(spec, n_packets, rng)
        frames_lost = frame_losses(mask, c.shape[1], frame_rate, packet_s)
        concealed = conceal_codes(c, frames_lost, conceal)
        out.append(concealed.codes.astype(np.int64))
        masks.append(mask)
        lost_frames.append(frames_lost)
        silenced.append(concealed.silenced if conceal == spec.concealment else np.zeros_like(frames_lost))
        sent[i], lost[i], bursts[i] = n_packets, int(mask.sum()), loss_stats(mask)["bursts"]
    whole = np.concatenate(masks) if masks else np.zeros(0, bool)
    extras: dict[str, np.ndarray] = {
        "packets_sent": sent,
        "packets_lost": lost,
        "loss_bursts": bursts,
        LOST_FRAMES: _flat(lost_frames),
        SILENCED_FRAMES: _flat(silenced),
        CONCEALMENT: np.array(spec.concealment),
        "loss_stats": np.array(json.dumps(loss_stats(whole))),
        "pattern_wrapped": np.array(wrapped),
    }
    return out, extras


def _flat(flags: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate(flags).astype(bool) if flags else np.zeros(0, bool)


def split_frames(flat: np.ndarray, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """A flat per-frame array of a shard (``lost_frames``) split per utterance, as the codes are."""
    bounds = np.cumsum([c.shape[1] for c in codes])[:-1]
    parts = np.split(np.asarray(flat), bounds)
    if sum(p.size for p in parts) != sum(c.shape[1] for c in codes):
        raise ValueError(f"{np.asarray(flat).size} frame flags for {sum(c.shape[1] for c in codes)} frames")
    return parts


# ------------------------------------------------------------------------------------------- results


def realised_losses(rows: Any) -> dict[str, float]:
    """Pooled over a condition's score rows (a DataFrame with :data:`PACKET_EXTRAS`): the realised loss
    rate (lost / sent packets) and mean burst length (lost packets / bursts), NaN where nothing was sent
    or lost."""
    sent, lost, bursts = (float(rows[c].sum()) for c in PACKET_EXTRAS)
    return {
        "realised_fer": lost / sent if sent else math.nan,
        "realised_burst": lost / bursts if bursts else math.nan,
    }


def figure_metrics(config: Config) -> list[str]:
    """The metrics the study's figure and tables show, headline first: the study's own metrics, then
    the scored signal metrics, then WER when transcribed (absent ones are dropped when drawing)."""
    s = study(config)
    names = [HEADLINE_METRIC, *(s.get("metrics") or {}), *config["metrics"]]
    if int(s.get("wer_utterances", 0)):
        names.append("wer")
    return list(dict.fromkeys(names))


def margins(config: Config) -> dict[str, float]:
    """Break-down margins per metric: the labelling study's, overridden by the study's own; null in
    either drops one, as :func:`nacbench.plan.breakdown_margins` does (plan imports this module, so
    this one reads the config itself)."""
    merged = {
        **config["study_labelling"]["breakdown_margin"],
        **(study(config).get("breakdown_margin") or {}),
    }
    return {name: m for name, m in merged.items() if m is not None}
