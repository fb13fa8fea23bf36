"""ITU-T G.711 mu-law at 8 kHz: an example codec that lives OUTSIDE nacbench.

Why this file exists: it shows that a codec needs no Python adapter to take part in the benchmark. It
imports only numpy, scipy, soundfile and the standard library (never ``nacbench``), so it could as well
be a C program or live in its own conda environment; ``workflow/rules/examples/g711.smk`` calls it with
``shell:`` and the generic channel, score and report rules pick up what it writes by path.

Why G.711: it is the telephony codec, a non-neural baseline in which a flipped bit is a plain sample
error (64 kbps, one 8-bit code per sample), so its curve in Figure 3 shows what "no redundancy, no
decoder context" looks like.

Subcommands (artifact layouts as in README "results/ layout"):

``info --name NAME --out codec.json``
    the codec's CodecInfo JSON (same keys as ``CodecInfo.to_json``): codes ``[1, T]`` with one 256-entry
    codebook, frame rate 8000 Hz (one code per sample), input/output rate 8000 Hz, delay 0.
``encode --manifest M --shard S --n-shards N --out X.npz``
    the utterances of shard S -> ``utt_ids``, ``frames``, ``codes [1, sum(frames)]``, ``random_weights``.
``decode --codes C.npz --manifest M --audio-dir D --listen-dir L --listen K``
    received codes -> ``D/<utt_id>.wav`` (32-bit float WAV at 8 kHz, unclipped) and, for the first K
    utterances of the manifest, ``L/<utt_id>.flac`` (24-bit, clipped) for listening.

Sharding: utterance i of the manifest (0-based data row, manifest order) belongs to shard i mod N, as in
the pipeline's ``select_shard``; a shard lists its utterances in manifest order.

Code convention: the code index is the TRANSMITTED G.711 octet, i.e. after the all-bit inversion G.711
applies to mu-law characters (so silence, 0, is sent as 0xFF and a positive full-scale sample as 0x80).
The channel stage flips bits of the code index, so the index must be what is on the line for a bit
error to hit the same bit a real link would hit. The compander is the standard 8-bit segment/mantissa
table of G.711 (as in the ITU-T G.191 reference ``ulaw_compress``/``ulaw_expand``), not the continuous
mu = 255 law: it works on 14-bit linear samples (the 16-bit input's two least significant bits dropped)
and expands to 16-bit values up to +-32124.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

#: the pipeline stores and scores every dataset at 16 kHz; G.711 runs at 8 kHz
DATASET_RATE = 16_000
CODEC_RATE = 8_000
N_CODES = 256
#: largest magnitude the mu-law table can represent (14-bit 8158 * 4 = 32632; the table's top level)
MAX_EXPANDED = 32_124

#: (absolute 14-bit value + 33) >> 6 has bit length = segment number - 1; these are its thresholds
_BIT_THRESHOLDS = np.array([1, 2, 4, 8, 16, 32, 64], dtype=np.int32)


# ---------------------------------------------------------------------------------------- companding


def float_to_pcm16(wav: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] -> 16-bit linear PCM (rounded, saturated), as an A/D converter would."""
    return np.clip(np.round(np.asarray(wav, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int32)


def ulaw_compress(pcm16: np.ndarray) -> np.ndarray:
    """16-bit linear PCM -> transmitted G.711 mu-law octets (uint8), vectorised G.191 ``ulaw_compress``.

    The magnitude is taken on the 14-bit scale with one's complement for negatives (``~x >> 2``), biased
    by 33 so that the segment boundaries fall on powers of two; the segment is its bit length above 6
    bits and the mantissa the next 4 bits. Both nibbles are sent inverted, the sign bit set for x >= 0.
    """
    x = np.asarray(pcm16, dtype=np.int32)
    if x.size and (x.min() < -32768 or x.max() > 32767):
        raise ValueError("ulaw_compress: input must be 16-bit linear PCM in [-32768, 32767]")
    magnitude = np.minimum(np.where(x < 0, (~x) >> 2, x >> 2) + 33, 0x1FFF)
    segment = 1 + np.searchsorted(_BIT_THRESHOLDS, magnitude >> 6, side="right")
    mantissa = 0x0F - ((magnitude >> segment) & 0x0F)
    octet = ((8 - segment) << 4) | mantissa
    return (octet | np.where(x >= 0, 0x80, 0)).astype(np.uint8)


def ulaw_expand(octets: np.ndarray) -> np.ndarray:
    """Transmitted G.711 mu-law octets -> 16-bit linear PCM (int32), vectorised G.191 ``ulaw_expand``.

    Every one of the 256 octets is valid, so any received bit pattern decodes to some sample: a bit
    error never makes the decoder fail, it only moves one sample (by up to the full range for the sign
    and segment bits).
    """
    c = np.asarray(octets)
    if c.size and (c.min() < 0 or c.max() >= N_CODES):
        raise ValueError(f"ulaw_expand: codes must lie in [0, {N_CODES - 1}]")
    inverted = (~c.astype(np.int32)) & 0xFF
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    step = 4 << (exponent + 1)
    magnitude = (0x80 << exponent) + step * mantissa + step // 2 - 4 * 33
    return np.where(c >= 0x80, magnitude, -magnitude).astype(np.int32)


# ------------------------------------------------------------------------------------------ the codec


def encode_wave(wav16k: np.ndarray) -> np.ndarray:
    """One 16 kHz utterance -> codes ``[1, T]`` (int64, T = ceil(len / 2)) at 8 kHz.

    An external codec owns its input resampling: this one halves the rate itself with
    ``scipy.signal.resample_poly(x, 1, 2)`` (Kaiser window, scipy defaults - the same filter as the
    pipeline's resampler, but nothing guarantees that for an arbitrary external codec). The OUTPUT, by
    contrast, is brought back to 16 kHz by the pipeline's scorer with the pipeline's one resampler, so
    every codec is scored through the same filter.
    """
    wav8k = resample_poly(np.asarray(wav16k, dtype=np.float64), 1, 2)
    return ulaw_compress(float_to_pcm16(wav8k)).astype(np.int64)[None, :]


def decode_codes(codes: np.ndarray) -> np.ndarray:
    """Codes ``[1, T]`` -> float32 samples at 8 kHz (16-bit scale / 32768; never clipped)."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != 1:
        raise ValueError(f"G.711 codes must be [1, frames], got shape {codes.shape}")
    return (ulaw_expand(codes[0]) / 32768.0).astype(np.float32)


def codec_info(name: str) -> dict[str, Any]:
    """The CodecInfo JSON of this codec (the keys ``CodecInfo.to_json`` writes, derived ones included)."""
    bits = int(np.ceil(np.log2(N_CODES)))
    return {
        "name": name,
        "display_name": "G.711 mu-law",
        "input_sample_rate": CODEC_RATE,
        "output_sample_rate": CODEC_RATE,
        "frame_rate": float(CODEC_RATE),
        "codebook_sizes": [N_CODES],
        "quantizer": "other",
        "fsq_levels": None,
        "fsq_index_order": None,
        "delay_samples": 0,
        "weights_id": "itu-t-g711-mu-law (no trained weights)",
        "random_weights": False,
        "parameters": {},
        "extra": {
            "standard": "ITU-T G.711 (11/88) mu-law, segment/mantissa table as in ITU-T G.191 g711.c",
            "code": "transmitted octet (after G.711's all-bit inversion); 0 is sent as 0xFF",
            "input_resampling": "16 kHz -> 8 kHz by scipy.signal.resample_poly(x, 1, 2) inside the codec",
        },
        "bits_per_codebook": [bits],
        "bits_per_frame": bits,
        "bitrate_bps": float(bits * CODEC_RATE),
    }


# ----------------------------------------------------------------------------------- manifest, shards


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """Rows of ``manifest.tsv`` as text (tab-separated, no quoting), in file order."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    for column in ("utt_id", "path"):
        if rows and column not in rows[0]:
            raise ValueError(f"{path}: manifest has no {column!r} column")
    return rows


def shard_rows(rows: Sequence[dict[str, str]], shard: int, n_shards: int) -> list[dict[str, str]]:
    """Utterance i (0-based, manifest order) goes to shard i mod n_shards, as the pipeline's select_shard."""
    if n_shards < 1 or not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} out of range for {n_shards} shard(s)")
    return list(rows[shard::n_shards])


def read_utterance(path: str) -> np.ndarray:
    wav, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != DATASET_RATE or wav.shape[1] != 1:
        raise ValueError(f"{path}: expected mono {DATASET_RATE} Hz audio, got {wav.shape[1]} ch at {rate} Hz")
    return wav[:, 0]


# ------------------------------------------------------------------------------------- atomic writers


def _tmp_name(path: Path, suffix: str = "") -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")


def write_json(data: dict[str, Any], out: str | Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(out)
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(out)


def write_codes(out: str | Path, utt_ids: Sequence[str], codes: Sequence[np.ndarray]) -> None:
    """The pipeline's code-shard layout, written by hand: utt_ids, frames, codes [1, sum], random_weights."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    flat = np.concatenate(codes, axis=1) if codes else np.zeros((1, 0), np.int64)
    tmp = _tmp_name(out, ".npz")  # np.savez appends .npz to names that lack it
    np.savez_compressed(
        tmp,
        utt_ids=np.array(list(utt_ids), dtype=str),
        frames=np.array([c.shape[1] for c in codes], dtype=np.int64),
        codes=flat.astype(np.int64),
        random_weights=np.array(False),
    )
    tmp.replace(out)


def read_codes(path: str | Path) -> tuple[list[str], list[np.ndarray]]:
    """Per-utterance codes of a (received) shard; the extras the channel stage adds are ignored."""
    with np.load(path, allow_pickle=False) as data:
        utt_ids = [str(u) for u in data["utt_ids"]]
        frames, flat = data["frames"], data["codes"]
    if flat.ndim != 2 or flat.shape[0] != 1 or flat.shape[1] != int(frames.sum()):
        raise ValueError(f"{path}: codes of shape {flat.shape} do not fit G.711's [1, {int(frames.sum())}]")
    bounds = np.concatenate([[0], np.cumsum(frames)])
    return utt_ids, [flat[:, bounds[i] : bounds[i + 1]] for i in range(len(utt_ids))]


def write_wav(out: Path, wav: np.ndarray, listen: bool = False) -> None:
    """Float WAV for scoring (lossless, unclipped), or 24-bit FLAC clipped as playback would be."""
    tmp = _tmp_name(out)
    if listen:
        sf.write(str(tmp), np.clip(wav, -1.0, 1.0), CODEC_RATE, format="FLAC", subtype="PCM_24")
    else:
        sf.write(str(tmp), wav.astype(np.float32), CODEC_RATE, format="WAV", subtype="FLOAT")
    tmp.replace(out)


# ------------------------------------------------------------------------------------------ commands


def cmd_info(args: argparse.Namespace) -> None:
    write_json(codec_info(args.name), args.out)


def cmd_encode(args: argparse.Namespace) -> None:
    rows = shard_rows(read_manifest(args.manifest), int(args.shard), args.n_shards)
    codes = []
    for row in rows:
        codes.append(encode_wave(read_utterance(row["path"])))
        print(f"encoded {row['utt_id']}: {codes[-1].shape[1]} samples", flush=True)
    write_codes(args.out, [r["utt_id"] for r in rows], codes)
    print(f"{args.out}: {len(rows)} utterances of shard {args.shard}/{args.n_shards}", flush=True)


def cmd_decode(args: argparse.Namespace) -> None:
    utt_ids, codes = read_codes(args.codes)
    keep = {r["utt_id"] for r in read_manifest(args.manifest)[: args.listen]}
    audio_dir, listen_dir = Path(args.audio_dir), Path(args.listen_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    listen_dir.mkdir(parents=True, exist_ok=True)
    for utt, c in zip(utt_ids, codes, strict=True):
        try:
            wav = decode_codes(c)
        except ValueError as exc:
            raise ValueError(f"{args.codes}: utterance {utt}: {exc}") from exc
        write_wav(audio_dir / f"{utt}.wav", wav)
        if utt in keep:
            write_wav(listen_dir / f"{utt}.flac", wav, listen=True)
    print(f"decoded {len(utt_ids)} utterances of {args.codes}", flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="write codec.json")
    info.add_argument("--name", required=True, help="the codec's name in the pipeline config")
    info.add_argument("--out", required=True)
    info.set_defaults(run=cmd_info)
    enc = sub.add_parser("encode", help="encode one shard of a manifest")
    enc.add_argument("--manifest", required=True)
    enc.add_argument("--shard", required=True, help="shard number (e.g. 003)")
    enc.add_argument("--n-shards", type=int, required=True)
    enc.add_argument("--out", required=True)
    enc.set_defaults(run=cmd_encode)
    dec = sub.add_parser("decode", help="decode one received shard")
    dec.add_argument("--codes", required=True)
    dec.add_argument("--manifest", required=True)
    dec.add_argument("--audio-dir", required=True)
    dec.add_argument("--listen-dir", required=True)
    dec.add_argument("--listen", type=int, default=0, help="keep FLACs of the first N manifest utterances")
    dec.set_defaults(run=cmd_decode)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
