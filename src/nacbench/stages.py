"""One function per workflow stage: read the stage's inputs, call the logic, write its artifacts.

Rule scripts in ``workflow/scripts/`` are one call into this module, so every stage can also be run and
tested without Snakemake. Heavy imports (torch, codec packages) happen inside the functions that need
them, so light stages (channel, tables) start in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nacbench import startup
from nacbench.artifacts import (
    INPUT_GAIN_KEY,
    MEAN_LATENT_KEY,
    ArtifactError,
    CodeShard,
    atomic_path,
    codec_info,
    decoded_wav,
    download_root,
    listen_flac,
    load_codewords,
    load_fit_set,
    load_shard,
    load_utterance_ids,
    open_npz,
    read_parquet,
    save_channel_shard,
    save_codewords,
    save_npz,
    save_shard,
    write_csv,
    write_json,
    write_parquet,
)
from nacbench.audio import SCORING_RATE, apply_gain_db, read_audio, resample, write_audio, write_decoded
from nacbench.channel import OutOfRangePolicy, transmit
from nacbench.codecs.base import Capability, CodecAdapter, CodecInfo, MissingCapabilityError
from nacbench.conditions import ChannelSpec, is_erasure
from nacbench.data.manifest import (
    DatasetError,
    NoUsableUtterances,
    read_manifest,
    select_shard,
    write_manifest,
    write_skips,
)
from nacbench.logs import progress
from nacbench.packet_loss import PACKET_EXTRAS
from nacbench.plan import WER_KEY
from nacbench.seeds import channel_rng
from nacbench.startup import phase

log = logging.getLogger("nacbench")

#: utterances handed to an adapter at once (it batches further inside); also the granularity of progress
#: and of error attribution in the logs
CHUNK = 16
#: fewest utterances per scoring worker process (spawning one costs ~1-3 s)
UTTERANCES_PER_WORKER = 8
#: ``out_of_range_policy`` of a score row whose codes never went through the channel stage
NO_CHANNEL_POLICY = "n/a"


# ------------------------------------------------------------------------------------ weights identity


class WeightsMismatch(ValueError):
    """An artifact built on other weights than the config asks for: another configuration's results."""


def check_random_weights(path: str | Path, recorded: bool, codec: str, asked: bool) -> None:
    """Refuse an artifact whose ``random_weights`` disagrees with what the config asks for ``codec``.

    The offline overlay builds the paper's codecs with random weights; its artifacts in a folder a
    real-weights run reads (a copied results folder, a checkout without ``.snakemake/``) would
    otherwise pass for results. The message names the file and both ways out.
    """
    if bool(recorded) == bool(asked):
        return
    found = "RANDOM weights" if recorded else "real (published) weights"
    wanted = "random weights (random_weights: true)" if asked else "real weights"
    raise WeightsMismatch(
        f"{path}: built on {found}, but this configuration asks for {wanted} for codec {codec!r}, so it "
        "belongs to another configuration's run. Delete it (and what was built from it, e.g. the "
        f"codec's folders under codes/, channel/, metrics/) and rerun, or point `results:` at this "
        "configuration's own results folder (configs/offline.yaml writes to results/offline)."
    )


def check_scores_weights(path: str | Path, tidy: pd.DataFrame, asked: Mapping[str, bool]) -> None:
    """:func:`check_random_weights` for every codec of a score table (its ``random_weights`` column)."""
    if "random_weights" not in tidy.columns or tidy.empty:
        return
    flags = tidy["random_weights"].astype("boolean").fillna(False).astype(bool)
    for codec, recorded in flags.groupby(tidy["codec"].astype(str)):
        if codec in asked and (recorded != asked[codec]).any():
            check_random_weights(path, not asked[codec], codec, asked[codec])


def check_results_folder(results: str | Path, codecs: Mapping[str, Mapping[str, Any]]) -> None:
    """At start-up: every ``codes/<codec>/codec.json`` already in ``results`` matches what the config
    asks. Snakemake alone would take a copied folder of random-weight artifacts as done."""
    from nacbench.plan import asks_random_weights

    for codec, options in codecs.items():
        path = Path(codec_info(results, codec))
        if not path.is_file():
            continue
        try:
            recorded = CodecInfo.read(path).random_weights
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: unreadable codec.json ({exc}); delete it and rerun") from exc
        check_random_weights(path, recorded, codec, asks_random_weights(options))


# ------------------------------------------------------------------------------------------------ data


def download_dataset(name: str, data: Mapping[str, Any], downloads: str, record_out: str) -> None:
    """Fetch the official archives of a dataset (resumable, checksummed) and record what was fetched.

    The archives are those of the dataset's reader; the unpacked root is ``downloads/<name>``.
    """
    from nacbench.data.download import fetch_dataset
    from nacbench.data.readers import get_reader

    reader = get_reader(data["reader"])
    if reader.download_parts is None:
        raise ValueError(f"data.{name}: the {reader.name} reader cannot download; set data.{name}.root")
    parts = reader.download_parts(data)
    root = fetch_dataset(data["reader"], Path(downloads), parts=parts, progress=None)
    target = Path(download_root(downloads, name))
    if root.resolve() != target.resolve():
        raise ValueError(
            f"data.{name}: the download landed in {root}, expected {target}; name the dataset "
            f"after its reader ({data['reader']}) or set data.{name}.root"
        )
    write_json(
        {"dataset": name, "reader": data["reader"], "parts": list(parts), "root": str(root)}, record_out
    )


def build_manifest(
    name: str,
    data: Mapping[str, Any],
    downloads: str,
    seed: int,
    manifest_out: str,
    skipped_out: str,
    kept_skips_out: str | None = None,
) -> None:
    """Read a dataset (local copy or unpacked download) and write its manifest and skip list.

    Utterances without text keep an empty transcript (Study A needs none); the count is logged, and
    the stages that need text refuse them by name (:func:`require_transcripts`). When every file is
    left out, the skip list is still written (to ``skipped_out`` and, since a failed job's outputs are
    removed, to ``kept_skips_out``, a log file that stays) and the error lists the files and why.
    """
    with phase("imports"):
        from nacbench.data.readers import get_reader

    root = data["root"] or download_root(downloads, name)
    log.info("dataset %s: reading %s with the %s reader", name, root, data["reader"])
    try:
        with phase("work"):  # walking the corpus and reading every file's header
            result = get_reader(data["reader"]).read(Path(root), data, seed)
    except NoUsableUtterances as exc:
        kept = [p for p in (skipped_out, kept_skips_out) if p]
        for path in kept:
            write_skips(exc.skips, path)
        raise DatasetError(f"data.{name}: {exc}\nthe full skip list is in {' and '.join(kept)}") from exc
    utts, skips = result.utterances, result.skips
    for note in result.notes:
        log.warning("%s", note)
    if data.get("max_utterances"):
        utts = utts[: int(data["max_utterances"])]
    for skip in skips:
        log.warning("skipped %s (%s): %s", skip.utt_id, skip.path, skip.reason)
    write_manifest(utts, manifest_out)
    write_skips(skips, skipped_out)
    untranscribed = sum(not u.transcript for u in utts)
    log.info(
        "dataset %s: %d utterances (%d without transcript), %d skipped",
        name,
        len(utts),
        untranscribed,
        len(skips),
    )


def require_transcripts(rows: pd.DataFrame, dataset: str, purpose: str) -> None:
    """Raise naming the dataset and the utterances of ``rows`` that have no transcript."""
    missing = rows.loc[rows["transcript"].astype(str).str.strip() == "", "utt_id"].tolist()
    if missing:
        listed = ", ".join(missing[:20]) + (f" ... and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise DatasetError(
            f"dataset {dataset!r}: {purpose} needs a transcript for every utterance, but {len(missing)} "
            f"have none: {listed} (give them text, or leave them out of this dataset)"
        )


def shard_rows(manifest_path: str, shard: str, n_shards: int) -> pd.DataFrame:
    return select_shard(read_manifest(manifest_path), int(shard), int(n_shards))


# ---------------------------------------------------------------------------------------------- codecs


def load_codec(name: str, options: Mapping[str, Any], device: str, decode_only: bool = False) -> CodecAdapter:
    from nacbench.codecs import PIPELINE_OPTIONS, build_codec

    opts = {k: v for k, v in options.items() if k not in PIPELINE_OPTIONS}
    codec = build_codec(name, opts, device=device, decode_only=decode_only)
    if codec.info.random_weights:
        log.warning("codec %s has RANDOM WEIGHTS: nothing computed from it is a result", name)
    return codec


def device_of(codec: CodecAdapter) -> str:
    """Where the codec runs (``auto`` resolved): a torch adapter's device, else the CPU (TFLite,
    libcodec2). Recorded in the job's startup record, so GPU and CPU timings are never mixed up."""
    return str(getattr(codec, "device", "cpu"))


def write_codec_info(name: str, options: Mapping[str, Any], device: str, out: str) -> None:
    load_codec(name, options, device).info.write(out)


def encode_shard(name: str, options: Mapping[str, Any], device: str, rows: pd.DataFrame, out: str) -> None:
    """Resample each utterance to the codec's input rate (the one resampler) and encode it.

    Utterances are encoded in order of length, so exact batching (equal lengths only) finds its batch
    partners across the whole shard; the shard keeps the manifest's order. The gain the adapter applies
    before encoding (:meth:`CodecAdapter.input_gain_db`, 0 for most) is recorded per utterance, so the
    decode stage can bring the output back to the input's level.
    """
    codec = load_codec(name, options, device)
    rate = codec.info.input_sample_rate
    ids = list(rows.utt_id)
    wavs = []
    for utt, path in zip(ids, rows.path, strict=True):
        try:
            wavs.append(resample(read_audio(path), SCORING_RATE, rate))
        except ValueError as exc:
            raise ValueError(f"utterance {utt}: {exc}") from exc
    codes: list[np.ndarray] = [np.empty((0, 0), np.int64)] * len(ids)
    order = by_length([len(w) for w in wavs])
    startup.note(codec=name, device=device_of(codec), utterances=len(ids))
    for start in progress(range(0, len(order), CHUNK), desc=f"encode {name}"):
        chunk = order[start : start + CHUNK]
        log.info("encoding %s", ", ".join(ids[i] for i in chunk))
        with phase("work"):
            encoded = codec.encode([wavs[i] for i in chunk])
        for i, c in zip(chunk, encoded, strict=True):
            try:
                codec.check_codes(c)
            except ValueError as exc:
                raise ValueError(f"utterance {ids[i]}: {exc}") from exc
            codes[i] = c.astype(np.int64)
    gains = np.asarray([codec.input_gain_db(w) for w in wavs], dtype=np.float64)
    shard = CodeShard(ids, codes, codec.info.random_weights, {INPUT_GAIN_KEY: gains})
    save_shard(out, shard, codec.info.n_codebooks)


# --------------------------------------------------------------------------------------------- channel


def transmit_codes(
    shard_in: CodeShard,
    info: CodecInfo,
    channel: str,
    codec: str,
    dataset: str,
    shard: str,
    out_of_range: OutOfRangePolicy = "error",
    labelling_path: str | None = None,
    error_stream: str | None = None,
    pattern_path: str | None = None,
    durations: Sequence[float] | None = None,
) -> CodeShard:
    """Send one shard of codes through the channel named by ``channel``; the received codes with what
    the channel did (bits sent and flipped, out-of-range indices, the policy) as extras.

    A packet-loss channel (``erasure-...``) goes to :func:`nacbench.packet_loss.erase_codes`: a loss
    pattern needs its file (``pattern_path``) and the utterances' durations in the manifest.

    The error pattern is drawn from :func:`nacbench.seeds.channel_rng` (seed, codec, dataset, shard,
    channel model, P_flip, burst) -- *not* the labelling: every labelling of a condition sees the same
    bit errors (common random numbers), so labelling differences are not masked by channel noise.
    ``error_stream`` replaces the codec in that stream's name: the quantizer swap's codecs at one budget
    share one (:func:`nacbench.swap.error_streams`), so they see the same errors at the same positions.
    """
    from nacbench.labelling import Labelling

    if is_erasure(channel):
        return _erase_shard(shard_in, info, channel, codec, dataset, pattern_path, durations)
    spec = ChannelSpec.parse(channel)
    labelling = Labelling.from_npz(labelling_path) if labelling_path else None
    stream = error_stream or codec
    rng = channel_rng(spec.seed, stream, dataset, shard, spec.model, spec.p_flip, spec.burst_length)
    result = transmit(
        shard_in.codes,
        info.codebook_sizes,
        spec,
        rng,
        labelling,
        out_of_range,
        codec=codec,
    )
    sent, flipped = int(result.bits_sent.sum()), int(result.bits_flipped.sum())
    log.info("%s %s: %d bits sent, %d flipped (%.4g)", codec, channel, sent, flipped, flipped / max(sent, 1))
    extras = {
        "bits_sent": result.bits_sent,
        "bits_flipped": result.bits_flipped,
        "out_of_range": result.out_of_range,
        "out_of_range_policy": np.array(out_of_range),
        "channel": np.array(channel),
        "error_stream": np.array(stream),
    }
    if INPUT_GAIN_KEY in shard_in.extras:  # travels with the codes to the decode stage
        extras[INPUT_GAIN_KEY] = shard_in.extras[INPUT_GAIN_KEY]
    return CodeShard(shard_in.utt_ids, result.codes, shard_in.random_weights, extras)


def _erase_shard(
    shard_in: CodeShard,
    info: CodecInfo,
    channel: str,
    codec: str,
    dataset: str,
    pattern_path: str | None,
    durations: Sequence[float] | None,
) -> CodeShard:
    """:func:`transmit_codes` for a packet-loss channel (see :mod:`nacbench.packet_loss`)."""
    from nacbench.erasure import ErasureSpec, read_pattern
    from nacbench.packet_loss import erase_codes

    spec = ErasureSpec.parse(channel)
    pattern = None
    if spec.model == "pattern":
        if not pattern_path:
            raise ValueError(f"channel {channel!r} replays pattern {spec.pattern!r}, but no file was given")
        pattern = read_pattern(pattern_path)
    codes, extras = erase_codes(
        shard_in.codes, shard_in.utt_ids, info.frame_rate, spec, dataset, pattern, durations
    )
    frames = np.asarray([c.shape[1] for c in codes], dtype=np.int64)
    n = len(codes)
    lost, sent = int(extras["packets_lost"].sum()), int(extras["packets_sent"].sum())
    log.info("%s %s: %d of %d packets lost (%.4g)", codec, channel, lost, sent, lost / max(sent, 1))
    extras |= {
        "bits_sent": frames * info.bits_per_frame,
        "bits_flipped": np.zeros(n, np.int64),
        "out_of_range": np.zeros(n, np.int64),
        "out_of_range_policy": np.array(NO_CHANNEL_POLICY),
        "channel": np.array(channel),
    }
    if INPUT_GAIN_KEY in shard_in.extras:
        extras[INPUT_GAIN_KEY] = shard_in.extras[INPUT_GAIN_KEY]
    return CodeShard(shard_in.utt_ids, codes, shard_in.random_weights, extras)


def transmit_shard(
    codes_path: str,
    info_path: str,
    channel: str,
    codec: str,
    dataset: str,
    shard: str,
    out: str,
    out_of_range: OutOfRangePolicy = "error",
    labelling_path: str | None = None,
    error_stream: str | None = None,
    pattern_path: str | None = None,
    durations: Sequence[float] | None = None,
) -> CodeShard:
    """:func:`transmit_codes` from and to files: the channel stage on its own (external codecs, whose
    rule files decode; the adapters' decode jobs transmit and decode in one process)."""
    info = CodecInfo.read(info_path)
    with phase("work"):
        received = transmit_codes(
            load_shard(codes_path),
            info,
            channel,
            codec,
            dataset,
            shard,
            out_of_range,
            labelling_path,
            error_stream,
            pattern_path,
            durations,
        )
    save_channel_shard(out, received, info.n_codebooks)
    return received


# ---------------------------------------------------------------------------------------------- decode


def transmit_and_decode(
    name: str,
    options: Mapping[str, Any],
    device: str,
    codes_path: str,
    info_path: str,
    channel: str,
    dataset: str,
    shard: str,
    channel_out: str,
    audio_dir: str,
    listen_dir: str,
    listen_ids: Sequence[str],
    out_of_range: OutOfRangePolicy = "error",
    labelling_path: str | None = None,
    error_stream: str | None = None,
    pattern_path: str | None = None,
    durations: Sequence[float] | None = None,
    latents_path: str | None = None,
) -> None:
    """One channel condition of one shard in one process: transmit the clean codes, keep the received
    codes (``channel_out``, the channel stage's artifact), decode them with a decode-only build.

    The channel's work takes milliseconds; as a job of its own it paid a process start and the
    package's imports (about 2 s) per condition, so the decode job does it, writing the same artifact
    as :func:`transmit_shard`. ``latents_path``: the fit-set latents whose mean a ``mean-latent``
    condition decodes in place of lost frames.
    """
    received = transmit_shard(
        codes_path,
        info_path,
        channel,
        name,
        dataset,
        shard,
        channel_out,
        out_of_range,
        labelling_path,
        error_stream,
        pattern_path,
        durations,
    )
    decode_shard(name, options, device, received, audio_dir, listen_dir, listen_ids, codes_path, latents_path)


def decode_shard(
    name: str,
    options: Mapping[str, Any],
    device: str,
    codes: CodeShard | str,
    audio_dir: str,
    listen_dir: str,
    listen_ids: Sequence[str],
    codes_path: str = "",
    latents_path: str | None = None,
) -> None:
    """Decode a shard (received codes, or their file) to ``audio_dir/<utt>.wav`` (float, codec output
    rate); keep listening copies as FLAC. ``codes_path`` names the codes in errors.

    The codec is built decode-only (no encoder: :func:`nacbench.codecs.build_codec`). Utterances are
    decoded in order of length, so exact batching (equal lengths only) finds its batch partners across
    the whole shard, not only within a chunk of the manifest order.

    The gain the adapter applied before encoding (``input_gain_db``, recorded by the encode stage) is
    undone here, once: the decoded audio on disk, its listening copy, the scores and the ASR all see the
    codec's output at the input's level (StableCodec would otherwise come back at -20 LUFS and mel-MSE
    would charge it the loudness offset).
    """
    if isinstance(codes, str):
        shard, codes_path = load_shard(codes), codes
    else:
        shard = codes
    codec = load_codec(name, options, device, decode_only=True)
    check_random_weights(
        codes_path or "received codes", shard.random_weights, name, codec.info.random_weights
    )
    gains = shard.extras.get(INPUT_GAIN_KEY, np.zeros(len(shard.utt_ids)))
    rate = codec.info.output_sample_rate
    Path(audio_dir).mkdir(parents=True, exist_ok=True)
    Path(listen_dir).mkdir(parents=True, exist_ok=True)
    keep = set(listen_ids)
    order = by_length([c.shape[1] for c in shard.codes])
    startup.note(codec=name, device=device_of(codec), utterances=len(order))
    losses = received_losses(shard, codec, latents_path)
    for start in progress(range(0, len(order), CHUNK), desc=f"decode {name}"):
        chunk = order[start : start + CHUNK]
        log.info("decoding %s", ", ".join(shard.utt_ids[i] for i in chunk))
        with phase("work"):
            decoded = (
                losses.decode(codec, shard.codes, chunk)
                if losses is not None
                else codec.decode([shard.codes[i] for i in chunk])
            )
        for i, out in zip(chunk, decoded, strict=True):
            utt, gain = shard.utt_ids[i], float(gains[i])
            if losses is not None and losses.silenced[i].any():
                out = losses.silence(out, i, codec.info)
            wav = apply_gain_db(out, -gain) if gain else out
            write_decoded(decoded_wav(audio_dir, utt), wav, rate)
            if utt in keep:
                write_audio(listen_flac(listen_dir, utt), wav, rate)


@dataclass(frozen=True)
class ReceivedLosses:
    """What a packet-loss channel left for the decoder: per utterance the lost and the silenced frames,
    whether the codec conceals the lost ones itself (``plc``), and the mean latent a ``mean-latent``
    condition decodes in their place (None otherwise)."""

    lost: list[np.ndarray]
    silenced: list[np.ndarray]
    own: bool
    mean_latent: np.ndarray | None = None

    def decode(
        self, codec: CodecAdapter, codes: Sequence[np.ndarray], chunk: Sequence[int]
    ) -> list[np.ndarray]:
        """Audio of utterances ``chunk`` of ``codes``, their lost frames concealed by the condition's
        method: the codec's own, the mean latent, or (``repeat``, ``silence``) nothing more than the
        codes already say."""
        from nacbench.erasure import conceal_latent

        if self.own:
            return codec.decode_lost([codes[i] for i in chunk], [self.lost[i] for i in chunk])
        if self.mean_latent is not None:
            latents = [
                conceal_latent(codec.dequantize(codes[i]), self.lost[i], self.mean_latent) for i in chunk
            ]
            return codec.decode_latent(latents)
        return codec.decode([codes[i] for i in chunk])

    def silence(self, wav: np.ndarray, index: int, info: CodecInfo) -> np.ndarray:
        """``wav`` with utterance ``index``'s silenced frames zeroed, on the output's frame grid shifted
        by the codec's delay (frame ``t`` of the codes is heard ``delay_samples`` later)."""
        from nacbench.erasure import silence_audio

        out = np.array(wav, copy=True)
        delay = info.delay_samples
        out[delay:] = silence_audio(
            out[delay:], self.silenced[index], info.frame_rate, info.output_sample_rate
        )
        return out


def received_losses(
    shard: CodeShard, codec: CodecAdapter, latents_path: str | None = None
) -> ReceivedLosses | None:
    """The losses a received shard carries (None for a bit-error or clean channel). A ``plc`` shard is
    refused for a codec without its own concealment, a ``mean-latent`` one for a codec without latent
    access or without the fit-set latents (``latents_path``), naming what is missing."""
    from nacbench.codecs.base import conceals_in_latent
    from nacbench.erasure import LATENT_CONCEALMENT
    from nacbench.packet_loss import (
        CODEC_CONCEALMENT,
        CONCEALMENT,
        LOST_FRAMES,
        SILENCED_FRAMES,
        split_frames,
    )

    if LOST_FRAMES not in shard.extras:
        return None
    concealment = str(shard.extras[CONCEALMENT])
    own = concealment == CODEC_CONCEALMENT
    if own:
        codec.require(Capability.CONCEAL, f"concealment {CODEC_CONCEALMENT!r}")
    mean = None
    if concealment == LATENT_CONCEALMENT:
        if not conceals_in_latent(codec.capabilities, decode_only=True):
            raise MissingCapabilityError(
                f"codec {codec.info.name!r}: concealment {LATENT_CONCEALMENT!r} needs the decoder on "
                f"latents and the latent of codes (quantizer_output or codeword_vectors); it has "
                f"{sorted(c.value for c in codec.capabilities) or 'none'}"
            )
        if not latents_path:
            raise ValueError(
                f"concealment {LATENT_CONCEALMENT!r}: no fit-set latents given to take the mean of"
            )
        mean = read_mean_latent(latents_path)
    return ReceivedLosses(
        split_frames(shard.extras[LOST_FRAMES], shard.codes),
        split_frames(shard.extras[SILENCED_FRAMES], shard.codes),
        own,
        mean,
    )


def by_length(lengths: Sequence[int]) -> list[int]:
    """Indices in order of length (stable): chunks of this order put equal lengths together, so exact
    batching forms the largest batches it can."""
    return [int(i) for i in np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")]


def shard_durations(manifest_path: str, codes_path: str) -> list[float]:
    """The manifest's duration (s) of each utterance of a code shard, in the shard's order."""
    durations = read_manifest(manifest_path).set_index("utt_id")["duration_s"]
    ids = load_utterance_ids(codes_path)
    missing = [u for u in ids if u not in durations.index]
    if missing:
        raise ValueError(f"{codes_path}: utterances {missing[:5]} are not in {manifest_path}")
    return [float(durations[u]) for u in ids]


def listening_ids(manifest_path: str, n: int) -> list[str]:
    """The first ``n`` utterances of the dataset (sorted ids): the same ones under every condition."""
    return list(read_manifest(manifest_path).utt_id[:n]) if n else []


# ----------------------------------------------------------------------------------------------- score


def _decoded_16k(path: Path, info: CodecInfo) -> np.ndarray:
    wav = read_audio(path, expected_rate=info.output_sample_rate)
    return resample(wav[info.delay_samples :], info.output_sample_rate, SCORING_RATE)


def score_shard(
    audio_dir: str,
    codes_path: str,
    info_path: str,
    rows: pd.DataFrame,
    metric_params: Mapping[str, Mapping[str, Any]],
    processes: int,
    condition: Mapping[str, Any],
    out: str,
    random_weights: bool = False,
    manifest_path: str = "",
) -> None:
    """Score every utterance of a shard at 16 kHz against its original input; one parquet row each.

    ``random_weights`` is what the config asks for this codec: codec.json and the received codes must
    record the same (:func:`check_random_weights`), so no other configuration's artifact is scored.

    A ``wer`` entry in ``metric_params`` (:data:`WER_KEY`: ``{"asr": settings, "device": ...,
    "utterances": N}``) also transcribes the decoded audio of the dataset's first N utterances (those
    of this shard; ``manifest_path`` lists them) and adds their :data:`WER_COLUMNS`, NaN elsewhere:
    intelligibility under channel errors, in the job that already holds the audio, with no process or
    decode of its own.
    """
    with phase("imports"):  # the metric libraries (PESQ, STOI, scipy)
        from nacbench.metrics.scoring import failed_row, score_many

    info = CodecInfo.read(info_path)
    shard = load_shard(codes_path)
    check_random_weights(info_path, info.random_weights, info.name, random_weights)
    check_random_weights(codes_path, shard.random_weights, info.name, random_weights)
    params = {k: dict(v) for k, v in metric_params.items() if k != WER_KEY}
    wer = metric_params.get(WER_KEY)
    pairs, missing = [], []
    for utt, path in zip(rows.utt_id, rows.path, strict=True):
        decoded = decoded_wav(audio_dir, utt)
        if not decoded.exists():
            missing.append(utt)
            continue
        pairs.append((utt, read_audio(path), _decoded_16k(decoded, info)))
    done = {"n": 0}

    def tick(n_done: int, total: int) -> None:
        if n_done - done["n"] >= max(1, total // 10) or n_done == total:
            log.info("scored %d/%d", n_done, total)
            done["n"] = n_done

    # a worker pool costs seconds to start: only worth it when every worker gets several utterances
    workers = max(1, min(processes, len(pairs) // UTTERANCES_PER_WORKER))
    with phase("work"):
        scores = score_many(pairs, params, processes=workers, progress=tick)
    startup.note(codec=info.name, utterances=len(pairs), workers=workers)
    if missing:
        gone = pd.DataFrame([{"utt_id": u, **failed_row(params, "no decoded audio")} for u in missing])
        scores = pd.concat([scores, gone], ignore_index=True)
    zeros = np.zeros(len(shard.utt_ids), np.int64)
    policy = shard.extras.get("out_of_range_policy")
    counts = pd.DataFrame(
        {
            "utt_id": shard.utt_ids,
            "bits_sent": shard.extras.get("bits_sent", zeros),
            "bits_flipped": shard.extras.get("bits_flipped", zeros),
            # received indices outside their codebook (a codebook that is not a power of two), and what
            # the channel did with them: the scores of such utterances depend on that policy
            "out_of_range": shard.extras.get("out_of_range", zeros),
            "out_of_range_policy": NO_CHANNEL_POLICY if policy is None else str(policy),
        }
    )
    for key in PACKET_EXTRAS:  # a packet-loss channel's realised losses, per utterance
        if key in shard.extras:
            counts[key] = np.asarray(shard.extras[key], dtype=np.int64)
    table = rows[["utt_id", "duration_s"]].merge(scores, on="utt_id", how="left").merge(counts, on="utt_id")
    if wer is not None:
        ids = listening_ids(manifest_path, int(wer["utterances"])) if manifest_path else []
        transcribed = _transcribe_pairs(pairs, rows, wer, ids, str(condition.get("dataset", "")))
        table = table.merge(transcribed, on="utt_id", how="left")
    for key, value in reversed(list(condition.items())):
        table.insert(0, key, value)
    table["random_weights"] = info.random_weights
    write_parquet(table, out)


#: per-utterance columns a score table gains where the decoded audio was transcribed (``wer`` in
#: :func:`score_shard`): the corpus WER of a condition is ``sum(word_errors) / sum(ref_words)``
WER_COLUMNS: tuple[str, ...] = (
    "hypothesis",
    "wer",
    "cer",
    "word_errors",
    "ref_words",
    "char_errors",
    "ref_chars",
    "asr_model",
)


def _transcribe_pairs(
    pairs: Sequence[tuple[str, np.ndarray, np.ndarray]],
    rows: pd.DataFrame,
    wer: Mapping[str, Any],
    utterances: Sequence[str],
    dataset: str,
) -> pd.DataFrame:
    """:data:`WER_COLUMNS` of the decoded audio of ``utterances`` among ``pairs``."""
    from nacbench.asr.backends import make_transcriber
    from nacbench.asr.wer import per_utterance

    wanted = set(utterances)
    chosen = [(utt, deg) for utt, _, deg in pairs if utt in wanted]
    if not chosen:
        return pd.DataFrame(columns=["utt_id", *WER_COLUMNS])
    refs = rows.set_index("utt_id").loc[[u for u, _ in chosen]]
    require_transcripts(refs.reset_index(), dataset, "WER under channel errors")
    with phase("weights"):
        transcriber = make_transcriber({**wer["asr"], "device": wer["device"]})
    with phase("work"):
        hyps = transcriber.transcribe([deg for _, deg in chosen])
    per = per_utterance(list(refs.transcript), hyps, [u for u, _ in chosen])
    return pd.DataFrame(
        {
            "utt_id": per.utt_id,
            "hypothesis": hyps,
            "wer": per.wer,
            "cer": per.cer,
            "word_errors": per.substitutions + per.deletions + per.insertions,
            "ref_words": per.n_words,
            "char_errors": per.char_errors,
            "ref_chars": per.n_chars,
            "asr_model": transcriber.model_id,
        }
    )


def tidy_scores(paths: Sequence[str], parquet_out: str, csv_out: str) -> pd.DataFrame:
    """Every score shard in one table. A shard written before a condition column existed (``fer``,
    ``concealment``) gets it from its channel name, so old and new shards pool alike."""
    from nacbench.conditions import CONDITION_COLUMNS, condition_columns

    frames = [read_parquet(p) for p in paths]  # a damaged shard is named, not a bare arrow error
    for i, frame in enumerate(frames):
        missing = [c for c in CONDITION_COLUMNS if c not in frame.columns]
        if missing and len(frame):
            first = frame.iloc[0]
            known = condition_columns(first.codec, first.dataset, first.channel, first.shard)
            frames[i] = frame.assign(**{c: known[c] for c in missing})
    tidy = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    write_parquet(tidy, parquet_out)
    write_csv(tidy, csv_out)
    return tidy


# --------------------------------------------------------------------------------------- quantizer swap


def fit_set_rows(manifest_path: str, dataset: str, n_utterances: int) -> pd.DataFrame:
    """The fit set: the first ``n_utterances`` rows of the dataset's manifest (config ``fit``)."""
    rows = read_manifest(manifest_path).iloc[: int(n_utterances)]
    if len(rows) < int(n_utterances):
        raise ValueError(
            f"fit.utterances: {n_utterances} asked for, but the manifest of dataset {dataset!r} "
            f"({manifest_path}) lists {len(rows)}"
        )
    return rows


def write_fit_latents(
    name: str,
    options: Mapping[str, Any],
    device: str,
    manifest_path: str,
    fit: tuple[str, int],
    in_sample: bool,
    out: str,
) -> None:
    """The base codec's latents (``encode_latent``) of the fit set, for every quantizer fitted on them.

    One job per base codec: its post-hoc FSQ and RVQ at every budget are fitted on the same frames.
    Stored: all frames ``[frames, dim]`` float32, frames per utterance, their mean ``[dim]`` (float64
    sum; what ``mean-latent`` concealment decodes, read without the frames: :func:`read_mean_latent`),
    and the fit set's provenance.
    """
    dataset, n_utterances = fit
    rows = fit_set_rows(manifest_path, dataset, n_utterances)
    codec = load_codec(name, options, device).require(Capability.ENCODE_LATENT, "the quantizer swap")
    rate = codec.info.input_sample_rate
    ids = list(rows.utt_id)
    wavs = [resample(read_audio(path), SCORING_RATE, rate) for path in rows.path]
    latents: list[np.ndarray] = [np.empty((0, 0), np.float32)] * len(ids)
    order = by_length([len(w) for w in wavs])
    startup.note(codec=name, device=device_of(codec), utterances=len(ids))
    for start in progress(range(0, len(order), CHUNK), desc=f"latents {name}"):
        chunk = order[start : start + CHUNK]
        with phase("work"):
            for i, latent in zip(chunk, codec.encode_latent([wavs[i] for i in chunk]), strict=True):
                latents[i] = np.asarray(latent, dtype=np.float32)
    frames = np.asarray([x.shape[1] for x in latents], dtype=np.int64)
    provenance = {
        "codec": name,
        "weights_id": codec.info.weights_id,
        "dataset": dataset,
        "utterances": len(ids),
        "ids_sha256": ids_sha256(ids),
        "frames": int(frames.sum()),
        "in_sample": bool(in_sample),
    }
    log.info(
        "%s: %d latent frames of %d utterances of %s%s",
        name,
        frames.sum(),
        len(ids),
        dataset,
        " (IN-SAMPLE: the evaluation dataset)" if in_sample else "",
    )
    stacked = np.concatenate([x.T for x in latents], axis=0)
    save_npz(
        out,
        {
            "latents": stacked,
            MEAN_LATENT_KEY: stacked.mean(axis=0, dtype=np.float64).astype(np.float32),
            "frames": frames,
            "random_weights": np.array(codec.info.random_weights),
            "provenance": np.array(json.dumps(provenance)),
        },
    )


def read_mean_latent(path: str) -> np.ndarray:
    """The fit set's mean latent ``[dim]`` from :func:`write_fit_latents`'s file (computed from its
    frames for a file written before the mean was stored: nothing needs recomputing)."""
    with open_npz(path, "fit-set latents", ("latents",)) as data:
        if MEAN_LATENT_KEY in data.files:
            return np.asarray(data[MEAN_LATENT_KEY], dtype=np.float32)
        latents = np.asarray(data["latents"])
    if latents.ndim != 2 or latents.shape[0] == 0:
        raise ArtifactError(
            f"{path}: fit-set latents of shape {latents.shape} have no mean; delete it and rerun"
        )
    return latents.mean(axis=0, dtype=np.float64).astype(np.float32)


def fit_posthoc_quantizer(latents_path: str, settings: Mapping[str, Any], name: str, out: str) -> None:
    """Fit one swapped codec's quantizer on its base's fit-set latents (:func:`write_fit_latents`);
    its file carries the fit settings and the fit set's provenance (base, dataset, ids, in-sample)."""
    from nacbench.posthoc import fit_quantizer

    with open_npz(latents_path, "fit-set latents", ("latents", "frames", "provenance")) as data:
        frames, provenance = np.asarray(data["frames"]), json.loads(str(data["provenance"]))
        pieces = np.split(np.asarray(data["latents"], dtype=np.float64), np.cumsum(frames)[:-1])
    n_frames = int(frames.sum())
    if settings["kind"] == "rvq" and n_frames < 2 ** int(settings["bits"]):
        raise ValueError(
            f"codec {name!r}: the fit set gives {n_frames} latent frames, fewer than the "
            f"{2 ** int(settings['bits'])} entries of each k-means stage; raise fit.utterances "
            f"({provenance['utterances']} now) or lower study_swap.rvq.bits_per_stage"
        )
    with phase("work"):
        quantizer = fit_quantizer([p.T for p in pieces], dict(settings), name)
    quantizer.meta.update({**dict(settings), "fit_set": provenance})
    log.info("%s: %s fitted on %d frames (%s)", name, settings["kind"], n_frames, quantizer.codebook_sizes)
    with atomic_path(out) as tmp:
        quantizer.to_npz(tmp)


# -------------------------------------------------------------------------------------------- labelling


def fit_set_codes(
    code_paths: Sequence[str], manifest_path: str, dataset: str, n_utterances: int
) -> tuple[list[str], list[np.ndarray]]:
    """The fit set's utterance ids and clean codes: the first ``n_utterances`` of the dataset's manifest,
    gathered from the encode stage's shards (utterance *i* sits in shard *i* mod *n*)."""
    ids = list(fit_set_rows(manifest_path, dataset, n_utterances).utt_id)
    by_id: dict[str, np.ndarray] = {}
    for path in code_paths:
        shard = load_shard(path)
        by_id.update(zip(shard.utt_ids, shard.codes, strict=True))
    missing = [u for u in ids if u not in by_id]
    if missing:
        raise ValueError(
            f"fit set of dataset {dataset!r}: {len(missing)} utterances (first {missing[0]}) are in no codes "
            f"shard among {list(code_paths)}"
        )
    return ids, [by_id[u] for u in ids]


def ids_sha256(ids: Sequence[str]) -> str:
    """SHA-256 of utterance ids, one per line: names a fit set compactly and exactly."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def write_codewords(
    name: str,
    options: Mapping[str, Any],
    device: str,
    code_paths: Sequence[str],
    out: str,
    fit_manifest: str,
    fit: tuple[str, int],
    in_sample: bool,
) -> None:
    """Cache what the labelling study needs from a codec: codeword vectors (if any) and clean usage.

    Usage is counted on the fit set (config ``fit``: the first N utterances of a dataset, encoded by the
    codec), so the distortion-aware labelling is not fitted on the utterances it is scored on. Which fit
    set it was (dataset, utterances, SHA-256 of their ids) and whether it is the evaluation dataset
    (``in_sample``) are stored with the counts and travel into every artifact built from them.
    """
    from nacbench.labelling import usage_counts

    codec = load_codec(name, options, device)
    dataset, n_utterances = fit
    ids, codes = fit_set_codes(code_paths, fit_manifest, dataset, n_utterances)
    usage = usage_counts(codes, codec.info.codebook_sizes)
    vectors = codec.codeword_vectors() if codec.has(Capability.CODEWORD_VECTORS) else None
    provenance = {
        "dataset": dataset,
        "utterances": len(ids),
        "ids_sha256": ids_sha256(ids),
        "frames": int(sum(c.shape[1] for c in codes)),
        "in_sample": bool(in_sample),
    }
    log.info(
        "%s: usage from %d utterances of %s%s; codeword vectors: %s",
        name,
        len(ids),
        dataset,
        " (IN-SAMPLE: the evaluation dataset)" if in_sample else "",
        vectors is not None,
    )
    save_codewords(out, codec.info.n_codebooks, usage, vectors, provenance)


#: what the labelling artifacts and the expected-distortion table say when usage was counted on the
#: evaluation dataset itself
IN_SAMPLE_NOTE = "in-sample: usage counted on the evaluation dataset"


def build_labelling(
    name: str,
    codec: str,
    info_path: str,
    codewords_path: str,
    seed: int,
    out: str,
    iterations: int | None = None,
) -> None:
    """One labelling artifact; ``iterations`` is ``study_labelling.switching_iterations`` (the switching
    search's budget in sweeps, used by ``distortion-aware`` only and recorded in its meta)."""
    from nacbench.labelling import FITTED_LABELLINGS, make_labelling

    info = CodecInfo.read(info_path)
    vectors, usage = load_codewords(codewords_path)
    with phase("work"):  # the switching search, for distortion-aware
        labelling = make_labelling(
            name,
            info.codebook_sizes,
            info.fsq_levels,
            seed=seed,
            vectors=vectors if name in FITTED_LABELLINGS else None,
            usage=usage,
            codec=codec,
            max_sweeps=iterations,
        )
    labelling.meta["random_weights"] = info.random_weights
    if name in FITTED_LABELLINGS:  # fitted to usage: say on what
        fit = load_fit_set(codewords_path)
        labelling.meta["fit_set"] = fit
        labelling.meta["usage_provenance"] = (
            IN_SAMPLE_NOTE if fit["in_sample"] else f"out-of-sample: usage counted on {fit['dataset']}"
        )
    labelling.to_npz(out)


def expected_distortion_table(
    codec: str, info_path: str, codewords_path: str, labelling_paths: Sequence[str], out: str
) -> pd.DataFrame:
    """Expected squared decoder-input jump per flipped bit, per labelling (overall and per bit position).

    Codewords are weighted by their usage on the fit set, so the table shows whichever labelling is
    cheaper under the codec's real usage: natural binary is optimal for a uniform scalar grid only when
    its levels are used uniformly, and under FSQ's middle-heavy usage Gray can cost less. ``cheapest``
    marks the lowest cost per codebook; ``fit_set`` and ``in_sample`` say where the usage came from
    (an in-sample fit is also spelled out in ``note``).
    """
    from nacbench.labelling import Labelling, expected_distortion

    info = CodecInfo.read(info_path)
    vectors, usage = load_codewords(codewords_path)
    fit = load_fit_set(codewords_path)
    fit_columns = {
        "fit_set": f"{fit['dataset']} ({fit['utterances']} utterances)",
        "in_sample": fit["in_sample"],
    }
    labellings = [("natural", None)] + [
        (Labelling.from_npz(p).name, Labelling.from_npz(p)) for p in labelling_paths
    ]
    rows = []
    for lab_name, lab in labellings:
        for k, (size, bits) in enumerate(zip(info.codebook_sizes, info.bits_per_codebook, strict=True)):
            row: dict[str, Any] = {"codec": codec, "labelling": lab_name, "codebook": k, "bits": bits}
            if vectors is None:
                row |= {
                    "expected_sq_jump": np.nan,
                    "per_bit": "",
                    "note": "codec exposes no codeword vectors",
                }
            else:
                forward = np.arange(size) if lab is None else lab.forward[k]
                overall, per_bit = expected_distortion(vectors[k], forward, usage[k], bits)
                row |= {
                    "expected_sq_jump": overall,
                    "per_bit": " ".join(f"{v:.4g}" for v in per_bit),
                    "note": IN_SAMPLE_NOTE if fit["in_sample"] else "",
                }
            rows.append(row | fit_columns | {"random_weights": info.random_weights})
    table = pd.DataFrame(rows)
    best = table.groupby("codebook")["expected_sq_jump"].transform("min")
    table.insert(table.columns.get_loc("per_bit"), "cheapest", table["expected_sq_jump"].eq(best))
    write_csv(table, out)
    return table


# ------------------------------------------------------------------------------------------------- ASR


def transcribe_shard(
    asr: Mapping[str, Any],
    device: str,
    rows: pd.DataFrame,
    out: str,
    audio_dir: str | None = None,
    info_path: str | None = None,
    dataset: str = "",
) -> None:
    """Transcribe the original audio (``audio_dir`` None) or a decoded shard; keep per-utterance rows.

    Every utterance needs its reference text (WER is scored against it): checked before the ASR model
    is loaded.
    """
    with phase("imports"):
        from nacbench.asr.backends import make_transcriber

    require_transcripts(rows, dataset, "ASR (WER/CER against the reference text)")
    with phase("weights"):  # the ASR model is read from disk (or the hub cache), nothing is built
        transcriber = make_transcriber({**asr, "device": device})
    info = CodecInfo.read(info_path) if info_path else None
    ids, wavs = [], []
    for utt, path in zip(rows.utt_id, rows.path, strict=True):
        wav = read_audio(path) if info is None else _decoded_16k(decoded_wav(audio_dir or "", utt), info)
        ids.append(utt)
        wavs.append(wav)
    hyps: list[str] = []
    for start in progress(range(0, len(wavs), CHUNK), desc="transcribe"):
        log.info("transcribing %s", ", ".join(ids[start : start + CHUNK]))
        with phase("work"):
            hyps += transcriber.transcribe(wavs[start : start + CHUNK])
    table = pd.DataFrame(
        {
            "utt_id": ids,
            "reference": list(rows.transcript),
            "hypothesis": hyps,
            "asr_model": transcriber.model_id,
            "random_weights": bool(info and info.random_weights),
        }
    )
    write_parquet(table, out)


def measure_enc_rtf(
    name: str, options: Mapping[str, Any], device: str, manifest_path: str, rtf: Mapping[str, Any], out: str
) -> None:
    """Encoder real-time factor on the first utterances of the Study B dataset."""
    from nacbench.timing import encoder_rtf

    codec = load_codec(name, options, device)
    rows = read_manifest(manifest_path).iloc[: int(rtf["utterances"])]
    wavs = [resample(read_audio(p), SCORING_RATE, codec.info.input_sample_rate) for p in rows.path]
    with phase("work"):
        result = encoder_rtf(codec, wavs, repeats=int(rtf["repeats"]))
    result |= {"codec": name, "utterances": len(wavs), "random_weights": codec.info.random_weights}
    log.info("%s: encRTF %.4g on %s", name, result["enc_rtf"], result["device"])
    write_json(result, out)
