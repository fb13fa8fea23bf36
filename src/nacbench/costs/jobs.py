"""A configuration's job list, planned from the config alone, and the audio each job will process.

The job list follows the rule files through :mod:`nacbench.plan` (the functions the Snakefile asks for
its targets); tests/test_costs.py compares its counts per rule with ``snakemake -n`` for the shipped
configurations, so a rule added to or removed from the workflow without a change here fails a test.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nacbench import packet_loss, plan, swap
from nacbench.config import external_codecs
from nacbench.data.manifest import select_shard
from nacbench.data.readers import READERS
from nacbench.plan import Config


@dataclass(frozen=True)
class DatasetAudio:
    """How much audio a configuration's dataset holds, and where that number comes from."""

    name: str
    n_utterances: int
    total_s: float
    source: str

    def shard_seconds(self, shard: int, n_shards: int) -> float:
        """Audio of one shard at the dataset's mean duration (its utterances chosen by ``select_shard``)."""
        count = len(select_shard(pd.DataFrame(index=range(self.n_utterances)), shard, n_shards))
        return count * self.total_s / self.n_utterances if self.n_utterances else 0.0


@dataclass(frozen=True)
class PlannedJob:
    """One job of a configuration's DAG, by rule and wildcards, with the audio it will process."""

    rule: str
    codec: str | None = None
    dataset: str | None = None
    channel: str | None = None
    shard: str | None = None
    audio_s: float | None = None


def with_seeds(config: Config, n_seeds: int) -> Config:
    """``config`` with every Study A channel run under seeds ``0 .. n_seeds - 1`` (the paper's figures
    average over seeds; ``config.yaml`` ships one, the full estimate asks for three)."""
    if n_seeds < 1:
        raise ValueError(f"seeds: need at least one, got {n_seeds}")
    out = copy.deepcopy(config)
    for channel in out["study_a"]["channels"].values():
        if channel is not None:
            channel["seeds"] = list(range(n_seeds))
    return out


def used_datasets(config: Config) -> list[str]:
    """Datasets the configuration's targets reach (their manifests are built)."""
    names = set(plan.scored_datasets(config))
    if _has_study_b(config):
        names.add(config["study_b"]["dataset"])
    if config["study_labelling"]["codecs"]:
        names.add(plan.fit_set(config)[0])
    return sorted(names)


def _has_study_b(config: Config) -> bool:
    return bool(plan.study_b_codecs(config) or config["study_b"]["rows"])


def used_codecs(config: Config) -> list[str]:
    """Codecs with at least one condition (each gets one codec_info job)."""
    return sorted({c.codec for c in plan.conditions(config)} | set(plan.study_b_codecs(config)))


def plan_jobs(config: Config, audio: Mapping[str, DatasetAudio] | None = None) -> list[PlannedJob]:
    """Every job ``snakemake`` (target ``all``) would run for ``config``, except the target rule itself.

    Follows the rule files: one encode per codec x dataset x shard, one decode (which transmits) and
    one score per condition x shard (``plan.conditions``; external codecs: a channel job too), ASR on
    the Study B dataset, the labelling rules per labelling codec, the quantizer swap's fits, and the
    one-off report rules. ``audio`` gives shard durations; without it every
    ``audio_s`` is None (job counts only). Codecs with ``adapter: external`` run their own rule files:
    their jobs are counted under the generic rule names.
    """
    audio = audio or {}

    def seconds(dataset: str, shard: int | None) -> float | None:
        if dataset not in audio:
            return None
        if shard is None:
            return audio[dataset].total_s
        return audio[dataset].shard_seconds(shard, int(config["data"][dataset]["shards"]))

    def sharded(
        rule: str, dataset: str, codec: str | None = None, channel: str | None = None
    ) -> list[PlannedJob]:
        return [
            PlannedJob(rule, codec, dataset, channel, name, seconds(dataset, int(name)))
            for name in plan.shard_names(config, dataset)
        ]

    jobs = [PlannedJob("save_config"), PlannedJob("report_page")]  # the config and the report's first page
    for ds in used_datasets(config):
        if not config["data"][ds].get("root"):
            jobs.append(PlannedJob("download_dataset", dataset=ds))
        jobs.append(PlannedJob("manifest", dataset=ds, audio_s=seconds(ds, None)))
    jobs += [PlannedJob("codec_info", codec=c) for c in used_codecs(config)]
    conditions = plan.conditions(config)
    encoded = {(c.codec, c.dataset) for c in conditions}
    # the labelling study counts code usage on the fit set, which may be a dataset nothing else encodes
    encoded |= {(codec, plan.fit_set(config)[0]) for codec in config["study_labelling"]["codecs"]}
    for codec, ds in sorted(encoded):
        jobs += sharded("encode", ds, codec)
    external = set(external_codecs(config))
    for c in conditions:
        # an adapter codec's decode job transmits its codes itself; an external codec's rules decode
        for rule in ("channel", "decode", "score") if c.codec in external else ("decode", "score"):
            jobs += sharded(rule, c.dataset, c.codec, c.channel)
    studies_a = config["study_a"]["codecs"] or config["study_labelling"]["codecs"] or swap.swap_codecs(config)
    if studies_a or packet_loss.codecs(config):
        ds_a = config["study_a"]["dataset"]  # reads every condition's metrics of the whole dataset
        jobs.append(PlannedJob("tidy_scores", dataset=ds_a, audio_s=seconds(ds_a, None)))
    if config["study_a"]["codecs"]:
        jobs += [PlannedJob("figure3"), PlannedJob("table3")]
    sb = config["study_b"]
    if _has_study_b(config):
        jobs += sharded("asr_reference", sb["dataset"])
        for codec in plan.study_b_codecs(config):
            jobs += sharded("asr_decoded", sb["dataset"], codec, "clean")
        jobs += [PlannedJob("enc_rtf", codec=codec) for codec in plan.study_b_codecs(config)]
        jobs.append(PlannedJob("table2"))
        if sb["reference_codec"] and sb["distilled_codec"]:
            jobs.append(PlannedJob("code_analysis"))
    labellings = [n for n in config["study_labelling"]["labellings"] if n != "natural"]
    for codec in config["study_labelling"]["codecs"]:
        jobs += [PlannedJob("codewords", codec=codec), PlannedJob("expected_distortion", codec=codec)]
        jobs += [PlannedJob("labelling", codec=codec) for _ in labellings]
    if config["study_labelling"]["codecs"]:
        jobs.append(PlannedJob("labelling_report"))
    swapped = swap.swap_codecs(config)
    posthoc = [s for s in swapped if s.posthoc]  # the quantizer swap's fits
    jobs += [PlannedJob("fit_latents", codec=base) for base in dict.fromkeys(s.base for s in posthoc)]
    jobs += [PlannedJob("fit_quantizer", codec=s.name) for s in posthoc]
    if swapped:
        jobs.append(PlannedJob("quantizer_swap"))
    if packet_loss.codecs(config):
        jobs.append(PlannedJob("packet_loss"))
    return jobs


def job_counts(config: Config) -> Counter[str]:
    """Jobs per rule for ``config``: what ``snakemake -n`` lists, without the target rule ``all``.

    The comparison with the dry run is :func:`nacbench.costs.workflow.dry_run_job_counts`.
    """
    return Counter(job.rule for job in plan_jobs(config))


def dataset_audio_from_manifest(name: str, durations: np.ndarray, source: str) -> DatasetAudio:
    """A dataset's size from the durations column of a manifest."""
    d = np.asarray(durations, dtype=float)
    return DatasetAudio(name, int(d.size), float(d.sum()), source)


def full_dataset_audio(
    name: str, full: Config, measured: Config, durations: Mapping[str, np.ndarray]
) -> DatasetAudio | None:
    """Audio of dataset ``name`` under the full configuration, from the best source at hand.

    In order: the measured manifest when the measured run selected the same data (same reader,
    subset, speakers and utterances per speaker); the corpus size its reader publishes
    (``Reader.published_size``); the most utterances its reader can select (``Reader.capacity``, e.g.
    speakers x utterances per speaker) times the mean duration of the measured manifest.
    None when none applies.
    """
    spec = full["data"][name]
    ignore = {"shards", "on_error"}  # root stays: a local copy may hold a subset
    same = name in measured["data"] and {k: v for k, v in spec.items() if k not in ignore} == {
        k: v for k, v in measured["data"][name].items() if k not in ignore
    }
    if same and name in durations:
        return dataset_audio_from_manifest(
            name, durations[name], "the measured run's manifest (same selection)"
        )
    reader = READERS.get(str(spec.get("reader")))
    if reader is None:
        return None
    published = reader.published_size(spec)
    if published:
        return DatasetAudio(name, published.utterances, published.seconds, published.source)
    n = reader.capacity(spec)
    if n and name in durations:
        d = np.asarray(durations[name], dtype=float)
        if d.size == 0:
            return None
        return DatasetAudio(
            name,
            n,
            n * float(d.mean()),
            f"{n} utterances (the most the {reader.name} reader can select for data.{name}) at the mean "
            f"duration {d.mean():.2f} s of the measured manifest ({d.size} utterances)",
        )
    return None
