"""One function per workflow stage: read the stage's inputs, call the logic, write its artifacts.

Rule scripts in ``workflow/scripts/`` are one call into this module, so every stage can also be run and
tested without Snakemake. Heavy imports (torch, codec packages) happen inside the functions that need
them, so light stages (channel, tables) start in a fraction of a second.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nacbench.artifacts import (
    CodeShard,
    decoded_wav,
    download_root,
    listen_flac,
    load_codewords,
    load_shard,
    save_channel_shard,
    save_codewords,
    save_shard,
    write_csv,
    write_json,
    write_parquet,
)
from nacbench.audio import SCORING_RATE, read_audio, resample, write_audio, write_decoded
from nacbench.channel import transmit
from nacbench.codecs.base import CodecAdapter, CodecInfo
from nacbench.conditions import ChannelSpec
from nacbench.data.manifest import read_manifest, select_shard, write_manifest, write_skips
from nacbench.logs import progress
from nacbench.seeds import channel_rng

log = logging.getLogger("nacbench")

#: utterances handed to an adapter at once (it batches further inside); also the granularity of progress
#: and of error attribution in the logs
CHUNK = 16
#: fewest utterances per scoring worker process (spawning one costs ~1-3 s)
UTTERANCES_PER_WORKER = 8


# ------------------------------------------------------------------------------------------------ data


def download_dataset(name: str, data: Mapping[str, Any], downloads: str, record_out: str) -> None:
    """Fetch the official archives of a dataset (resumable, checksummed) and record what was fetched.

    The archives are those of the dataset's reader; the unpacked root is ``downloads/<name>``.
    """
    from nacbench.data.download import fetch_dataset

    parts = data["speakers"] if data["reader"] == "cmu_arctic" else [data.get("subset", "test-clean")]
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
    name: str, data: Mapping[str, Any], downloads: str, seed: int, manifest_out: str, skipped_out: str
) -> None:
    """Read a dataset (local copy or unpacked download) and write its manifest and skip list."""
    from nacbench.data.arctic import read_arctic
    from nacbench.data.librispeech import read_librispeech

    root = data["root"] or download_root(downloads, name)
    log.info("dataset %s: reading %s", name, root)
    if data["reader"] == "librispeech":
        utts, skips = read_librispeech(root, data.get("subset", "test-clean"), data["on_error"])
    else:
        utts, skips, notes = read_arctic(
            root, data["speakers"], data.get("utterances_per_speaker", 100), seed, data["on_error"]
        )
        for note in notes:
            log.warning("%s", note)
    if data.get("max_utterances"):
        utts = utts[: int(data["max_utterances"])]
    for skip in skips:
        log.warning("skipped %s (%s): %s", skip.utt_id, skip.path, skip.reason)
    write_manifest(utts, manifest_out)
    write_skips(skips, skipped_out)
    log.info("dataset %s: %d utterances, %d skipped", name, len(utts), len(skips))


def shard_rows(manifest_path: str, shard: str, n_shards: int) -> pd.DataFrame:
    return select_shard(read_manifest(manifest_path), int(shard), int(n_shards))


# ---------------------------------------------------------------------------------------------- codecs


def load_codec(name: str, options: Mapping[str, Any], device: str) -> CodecAdapter:
    from nacbench.codecs import build_codec

    opts = {k: v for k, v in options.items() if k != "conda_env"}
    codec = build_codec(name, opts, device=device)
    if codec.info.random_weights:
        log.warning("codec %s has RANDOM WEIGHTS: nothing computed from it is a result", name)
    return codec


def write_codec_info(name: str, options: Mapping[str, Any], device: str, out: str) -> None:
    load_codec(name, options, device).info.write(out)


def _in_chunks(rows: pd.DataFrame, what: str) -> list[pd.DataFrame]:
    chunks = [rows.iloc[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]
    return list(progress(chunks, desc=what, total=len(chunks)))


def encode_shard(name: str, options: Mapping[str, Any], device: str, rows: pd.DataFrame, out: str) -> None:
    """Resample each utterance to the codec's input rate (the one resampler) and encode it."""
    codec = load_codec(name, options, device)
    rate = codec.info.input_sample_rate
    codes: list[np.ndarray] = []
    for chunk in _in_chunks(rows, f"encode {name}"):
        log.info("encoding %s", ", ".join(chunk.utt_id))
        wavs = [resample(read_audio(p), SCORING_RATE, rate) for p in chunk.path]
        for utt, c in zip(chunk.utt_id, codec.encode(wavs), strict=True):
            try:
                codec.check_codes(c)
            except ValueError as exc:
                raise ValueError(f"utterance {utt}: {exc}") from exc
            codes.append(c.astype(np.int64))
    save_shard(out, CodeShard(list(rows.utt_id), codes, codec.info.random_weights), codec.info.n_codebooks)


# --------------------------------------------------------------------------------------------- channel


def transmit_shard(
    codes_path: str,
    info_path: str,
    channel: str,
    codec: str,
    dataset: str,
    shard: str,
    out: str,
    out_of_range: str = "error",
    labelling_path: str | None = None,
) -> None:
    """Send one shard of codes through the channel named by ``channel`` and record what it did.

    The error pattern is drawn from :func:`nacbench.seeds.channel_rng` (seed, codec, dataset, shard,
    channel model, P_flip, burst) -- *not* the labelling: every labelling of a condition sees the same
    bit errors (common random numbers), so labelling differences are not masked by channel noise.
    """
    from nacbench.labelling import Labelling

    spec = ChannelSpec.parse(channel)
    info = CodecInfo.read(info_path)
    shard_in = load_shard(codes_path)
    labelling = Labelling.from_npz(labelling_path) if labelling_path else None
    rng = channel_rng(spec.seed, codec, dataset, shard, spec.model, spec.p_flip, spec.burst_length)
    result = transmit(
        shard_in.codes,
        info.codebook_sizes,
        spec,
        rng,
        labelling,
        out_of_range,
        codec=codec,  # type: ignore[arg-type]
    )
    sent, flipped = int(result.bits_sent.sum()), int(result.bits_flipped.sum())
    log.info("%s %s: %d bits sent, %d flipped (%.4g)", codec, channel, sent, flipped, flipped / max(sent, 1))
    extras = {
        "bits_sent": result.bits_sent,
        "bits_flipped": result.bits_flipped,
        "out_of_range": result.out_of_range,
        "out_of_range_policy": np.array(out_of_range),
        "channel": np.array(channel),
    }
    save_channel_shard(
        out, CodeShard(shard_in.utt_ids, result.codes, shard_in.random_weights, extras), info.n_codebooks
    )


# ---------------------------------------------------------------------------------------------- decode


def decode_shard(
    name: str,
    options: Mapping[str, Any],
    device: str,
    codes_path: str,
    audio_dir: str,
    listen_dir: str,
    listen_ids: Sequence[str],
) -> None:
    """Decode a shard to ``audio_dir/<utt>.wav`` (float, codec output rate); keep listening copies as FLAC."""
    codec = load_codec(name, options, device)
    shard = load_shard(codes_path)
    rate = codec.info.output_sample_rate
    Path(audio_dir).mkdir(parents=True, exist_ok=True)
    Path(listen_dir).mkdir(parents=True, exist_ok=True)
    keep = set(listen_ids)
    index = list(range(len(shard.utt_ids)))
    for start in progress(range(0, len(index), CHUNK), desc=f"decode {name}"):
        ids = shard.utt_ids[start : start + CHUNK]
        log.info("decoding %s", ", ".join(ids))
        for utt, wav in zip(ids, codec.decode(shard.codes[start : start + CHUNK]), strict=True):
            write_decoded(decoded_wav(audio_dir, utt), wav, rate)
            if utt in keep:
                write_audio(listen_flac(listen_dir, utt), wav, rate)


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
) -> None:
    """Score every utterance of a shard at 16 kHz against its original input; one parquet row each."""
    from nacbench.metrics.scoring import failed_row, score_many

    info = CodecInfo.read(info_path)
    shard = load_shard(codes_path)
    params = {k: dict(v) for k, v in metric_params.items()}
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
    scores = score_many(pairs, params, processes=workers, progress=tick)
    if missing:
        gone = pd.DataFrame([{"utt_id": u, **failed_row(params, "no decoded audio")} for u in missing])
        scores = pd.concat([scores, gone], ignore_index=True)
    counts = pd.DataFrame(
        {
            "utt_id": shard.utt_ids,
            "bits_sent": shard.extras.get("bits_sent", np.zeros(len(shard.utt_ids), np.int64)),
            "bits_flipped": shard.extras.get("bits_flipped", np.zeros(len(shard.utt_ids), np.int64)),
        }
    )
    table = rows[["utt_id", "duration_s"]].merge(scores, on="utt_id", how="left").merge(counts, on="utt_id")
    for key, value in reversed(list(condition.items())):
        table.insert(0, key, value)
    table["random_weights"] = info.random_weights
    write_parquet(table, out)


def tidy_scores(paths: Sequence[str], parquet_out: str, csv_out: str) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in paths]
    tidy = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    write_parquet(tidy, parquet_out)
    write_csv(tidy, csv_out)
    return tidy


# -------------------------------------------------------------------------------------------- labelling


def write_codewords(
    name: str, options: Mapping[str, Any], device: str, code_paths: Sequence[str], out: str
) -> None:
    """Cache what the labelling study needs from a codec: codeword vectors (if any) and clean usage."""
    from nacbench.labelling import usage_counts

    codec = load_codec(name, options, device)
    codes = [c for path in code_paths for c in load_shard(path).codes]
    usage = usage_counts(codes, codec.info.codebook_sizes)
    vectors = codec.codeword_vectors()
    log.info("%s: usage from %d utterances; codeword vectors: %s", name, len(codes), vectors is not None)
    save_codewords(out, codec.info.n_codebooks, usage, vectors)


def build_labelling(name: str, codec: str, info_path: str, codewords_path: str, seed: int, out: str) -> None:
    from nacbench.labelling import make_labelling

    info = CodecInfo.read(info_path)
    vectors, usage = load_codewords(codewords_path)
    labelling = make_labelling(
        name,
        info.codebook_sizes,
        info.fsq_levels,
        seed=seed,
        vectors=vectors if name == "distortion-aware" else None,
        usage=usage,
        codec=codec,
    )
    labelling.meta["random_weights"] = info.random_weights
    labelling.to_npz(out)


def expected_distortion_table(
    codec: str, info_path: str, codewords_path: str, labelling_paths: Sequence[str], out: str
) -> pd.DataFrame:
    """Expected squared decoder-input jump per flipped bit, per labelling (overall and per bit position)."""
    from nacbench.labelling import Labelling, expected_distortion

    info = CodecInfo.read(info_path)
    vectors, usage = load_codewords(codewords_path)
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
                    "note": "",
                }
            rows.append(row | {"random_weights": info.random_weights})
    table = pd.DataFrame(rows)
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
) -> None:
    """Transcribe the original audio (``audio_dir`` None) or a decoded shard; keep per-utterance rows."""
    from nacbench.asr.backends import make_transcriber

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
    result = encoder_rtf(codec, wavs, repeats=int(rtf["repeats"]))
    result |= {"codec": name, "utterances": len(wavs), "random_weights": codec.info.random_weights}
    log.info("%s: encRTF %.4g on %s", name, result["enc_rtf"], result["device"])
    write_json(result, out)
