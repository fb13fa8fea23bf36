"""What the workflow has to compute, derived from the config alone (no file system access).

The Snakefile asks these functions for its targets, so the planning logic is plain Python that tests
can check, and the DAG never depends on files that do not exist yet (shards are fixed by config, not by
the manifest's length).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nacbench.conditions import ChannelSpec, shard_name

Config = Mapping[str, Any]

#: the entry of a score job's metric settings that asks for WER under errors (:func:`score_metrics`;
#: read by :func:`nacbench.stages.score_shard`): not a signal metric
WER_KEY = "wer"


@dataclass(frozen=True, order=True)
class Condition:
    """One (codec, dataset, channel) combination that is decoded and scored shard by shard."""

    codec: str
    dataset: str
    channel: str


def shard_names(config: Config, dataset: str) -> list[str]:
    n = int(config["data"][dataset]["shards"])
    return [shard_name(i) for i in range(n)]


def bsc_channels(
    config: Config, labelling: str = "natural", override: Mapping[str, Any] | None = None
) -> list[ChannelSpec]:
    """The BSC conditions of ``study_a.channels.bsc`` (``override`` replaces its p_flip or seeds)."""
    bsc = {**config["study_a"]["channels"]["bsc"], **(override or {})}
    return [
        ChannelSpec(model="bsc", p_flip=float(p), seed=int(s), labelling=labelling)
        for p in bsc["p_flip"]
        for s in bsc["seeds"]
    ]


def study_a_channels(config: Config, codec: str | None = None) -> list[ChannelSpec]:
    """The paper's conditions: clean plus every BSC P_flip x seed, plus the bursty channel when set;
    for ``codec``, with its ``study_a.overrides`` (fewer P_flip or seeds for a slow codec)."""
    override = (config["study_a"].get("overrides") or {}).get(codec) if codec else None
    specs = [ChannelSpec(model="clean")] + bsc_channels(config, override=override)
    ge = config["study_a"]["channels"].get("ge")
    if ge:
        specs += [
            ChannelSpec(model="ge", p_flip=float(p), seed=int(s), burst_length=float(ge["burst_length"]))
            for p in ge["p_flip"]
            for s in ge["seeds"]
        ]
    return specs


def study_a_conditions(config: Config) -> dict[str, list[str]]:
    """Per Study A codec, the channel names it runs (its overrides applied)."""
    return {codec: [s.name for s in study_a_channels(config, codec)] for codec in config["study_a"]["codecs"]}


def labelling_channels(config: Config) -> list[ChannelSpec]:
    """Clean plus every BSC condition under every labelling of the labelling study."""
    specs = [ChannelSpec(model="clean")]
    for labelling in config["study_labelling"]["labellings"]:
        specs += bsc_channels(config, labelling)
    return specs


def asks_random_weights(options: Mapping[str, Any]) -> bool:
    """Whether a codec entry asks for its architecture with random weights (``random_weights: true``,
    the offline overlay's stand-ins) rather than published weights or a classical codec."""
    return bool(options.get("random_weights", False))


def random_weights_asked(config: Config, codecs: list[str]) -> dict[str, bool]:
    """Per codec, what the config asks (see :func:`asks_random_weights`): the stages compare it with
    what each artifact they read records, so another configuration's artifacts are never mixed in."""
    return {codec: asks_random_weights(config["codecs"][codec]) for codec in codecs}


def study_b_codecs(config: Config) -> list[str]:
    sb = config["study_b"]
    names = [row["codec"] for row in sb["rows"] if row["codec"]]
    names += [sb["reference_codec"], sb["distilled_codec"], *sb["extra_codecs"]]
    return list(dict.fromkeys(n for n in names if n))


def fit_set(config: Config) -> tuple[str, int]:
    """(dataset, number of utterances) of the fit set: the clean codes usage-fitted artifacts come from."""
    return str(config["fit"]["dataset"]), int(config["fit"]["utterances"])


def fit_in_sample(config: Config) -> bool:
    """True when the fit set is drawn from the evaluation dataset: fitted artifacts then say "in-sample"."""
    return fit_set(config)[0] == config["study_a"]["dataset"]


def conditions(config: Config) -> list[Condition]:
    """Every condition any study needs, without duplicates, in a stable order."""
    out: set[Condition] = set()
    ds_a = config["study_a"]["dataset"]
    for codec, channels in study_a_conditions(config).items():
        out.update(Condition(codec, ds_a, channel) for channel in channels)
    for codec in config["study_labelling"]["codecs"]:
        out.update(Condition(codec, ds_a, spec.name) for spec in labelling_channels(config))
    for codec, specs in swap_conditions(config).items():
        out.update(Condition(codec, ds_a, spec.name) for spec in specs)
    for codec, channels in packet_loss_conditions(config).items():
        out.update(Condition(codec, ds_a, channel) for channel in channels)
    ds_b = config["study_b"]["dataset"]
    out.update(Condition(codec, ds_b, "clean") for codec in study_b_codecs(config))
    return sorted(out)


def conceals_itself(config: Config, codec: str) -> bool:
    """Whether ``codec`` conceals lost frames in its own decoder (:attr:`Capability.CONCEAL`: Opus)."""
    from nacbench.codecs import ADAPTERS, Capability, static_layout

    options = config["codecs"][codec]
    if options["adapter"] not in ADAPTERS:
        return False
    return Capability.CONCEAL in static_layout(options["adapter"], options).capabilities


def packet_loss_conditions(config: Config) -> dict[str, list[str]]:
    """Per codec of the packet-loss study, the channels it runs on Study A's dataset."""
    from nacbench import packet_loss

    return {
        codec: packet_loss.channels_of(config, codec, conceals_itself(config, codec))
        for codec in packet_loss.codecs(config)
    }


def wer_scope(config: Config) -> dict[str, int]:
    """Per study with WER under errors, the utterances transcribed per condition (0 = none):
    ``study_a`` (its codecs x its channels) and ``study_packet_loss`` (its codecs x its channels)."""
    from nacbench import packet_loss

    return {
        "study_a": int(config["study_a"].get("wer_utterances", 0)),
        "study_packet_loss": int(packet_loss.study(config).get("wer_utterances", 0)),
    }


def score_metrics(config: Config, codec: str, dataset: str, channel: str) -> dict[str, Any]:
    """The metric settings a score job uses for one condition: ``metrics``, plus the packet-loss study's
    own metrics on its conditions (clean included: the reference point of its curves), plus a ``wer``
    entry (:data:`nacbench.stages.WER_KEY`) where a study asks for WER under errors.

    Conditions no study adds anything to get exactly ``metrics``: adding a study to a config does not
    make Snakemake rescore what is already scored.
    """
    from nacbench import packet_loss

    metrics = dict(config["metrics"])
    ds_a = config["study_a"]["dataset"]
    if dataset != ds_a:
        return metrics
    scope = wer_scope(config)
    in_loss = channel in packet_loss_conditions(config).get(codec, [])
    if in_loss:
        for name, params in (packet_loss.study(config).get("metrics") or {}).items():
            metrics.setdefault(name, params)
    utterances = scope["study_packet_loss"] if in_loss else 0
    if channel in study_a_conditions(config).get(codec, []):
        utterances = max(utterances, scope["study_a"])
    if utterances:
        metrics[WER_KEY] = {
            "asr": dict(config["study_b"]["asr"]),
            "device": config["device"],
            "utterances": utterances,
        }
    return metrics


def swap_conditions(config: Config) -> dict[str, list[ChannelSpec]]:
    """Per codec of the quantizer swap (native rows included), the channels it runs on Study A's dataset."""
    from nacbench import swap

    return {s.name: swap.channels_of(config, s) for s in swap.swap_codecs(config)}


def conditions_for(config: Config, dataset: str) -> list[Condition]:
    return [c for c in conditions(config) if c.dataset == dataset]


def scored_datasets(config: Config) -> list[str]:
    return sorted({c.dataset for c in conditions(config)})


def breakdown_margins(config: Config) -> dict[str, float]:
    """``study_labelling.breakdown_margin`` without the metrics set to null: a configuration overlay can
    only add or change keys of the base config's mappings, so null is how it drops one (the base lists
    ``wer``, which an overlay with ``wer_utterances: 0`` does not score)."""
    return {name: m for name, m in config["study_labelling"]["breakdown_margin"].items() if m is not None}
