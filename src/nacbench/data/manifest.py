"""Manifest records, their TSV files, sharding, and the audio probe every dataset reader shares.

The manifest (``results/data/{dataset}/manifest.tsv``) is the contract between the data stage and
everything after it, so it is written atomically (a crashed job never leaves half a manifest that a
later run would trust) and read back with every column typed as text first: pandas would otherwise
turn speaker ``61`` into an integer and a transcript ``NA`` into a missing value.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Literal, cast

import pandas as pd
import soundfile as sf

from nacbench.artifacts import atomic_path
from nacbench.audio import SCORING_RATE

#: column order of ``manifest.tsv`` (README, "results/ layout")
MANIFEST_COLUMNS = ("utt_id", "speaker", "path", "duration_s", "sample_rate", "transcript")
#: column order of ``skipped.tsv``, written beside the manifest when ``on_error: skip``
SKIP_COLUMNS = ("utt_id", "path", "reason")

OnError = Literal["error", "skip"]
AudioCheck = Literal["full", "tail"]

#: how many problems an error message lists before summarising the rest
_MAX_LISTED = 20
_TAIL_FRAMES = 4096


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; the message names the files and what is wrong."""


class NoUsableUtterances(DatasetError):
    """Every file was left out (or none was found): the message lists them with their reasons, and
    ``skips`` carries them so the data stage can still write ``skipped.tsv``."""

    def __init__(self, dataset: str, skips: Sequence[Skip]) -> None:
        self.skips = list(skips)
        if self.skips:
            detail = f" ({len(self.skips)} skipped):\n{describe_problems(self.skips)}"
        else:
            detail = " (no audio files found)"
        super().__init__(f"{dataset}: no usable utterances{detail}")


@dataclass(frozen=True)
class Utterance:
    """One row of a manifest: where the audio is and what is said in it."""

    utt_id: str
    speaker: str
    path: str
    duration_s: float
    sample_rate: int
    transcript: str


@dataclass(frozen=True)
class Skip:
    """A file left out under ``on_error: skip``; recorded so that no utterance disappears silently."""

    utt_id: str
    path: str
    reason: str


def check_on_error(on_error: str) -> OnError:
    """Refuse a misspelt policy early rather than treating it as one of the two."""
    if on_error not in ("error", "skip"):
        raise ValueError(f"on_error must be 'error' or 'skip', got {on_error!r}")
    return cast(OnError, on_error)  # checked just above


def resolve_problems(problems: Sequence[Skip], on_error: OnError, dataset: str) -> list[Skip]:
    """Raise one error listing every problem, or hand them back to be recorded as skips.

    All problems are collected before raising so a user fixes a broken copy in one pass, not one file
    per run.
    """
    if not problems or on_error == "skip":
        return list(problems)
    raise DatasetError(
        f"{dataset}: {len(problems)} problem(s) in the input (set on_error: skip to leave these files "
        f"out and record them):\n{describe_problems(problems)}"
    )


def describe_problems(problems: Sequence[Skip]) -> str:
    """One indented ``path: reason`` line per problem, the first :data:`_MAX_LISTED` of them."""
    listed = "\n".join(f"  {p.path}: {p.reason}" for p in problems[:_MAX_LISTED])
    more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
    return listed + more


def probe_audio(
    path: str | Path, expected_rate: int = SCORING_RATE, check: AudioCheck = "full"
) -> tuple[int, int]:
    """Return ``(frames, sample_rate)`` of a mono file, or raise :class:`DatasetError` naming it.

    Headers alone do not reveal damage: a truncated FLAC still reports its full length in STREAMINFO,
    and libsndfile silently shortens a truncated WAV to the bytes present. So the samples are decoded
    (``check="full"``, about 2 ms per 10 s of FLAC, i.e. seconds for all of test-clean, and it also
    catches corruption inside the file through FLAC's frame checks), or at least the last block
    (``check="tail"``); WAV data chunks are compared against the file size as well.
    """
    path = Path(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for unreadable files
        raise DatasetError(f"{path}: cannot read audio header ({exc})") from exc
    if info.samplerate != expected_rate:
        raise DatasetError(f"{path}: sample rate {info.samplerate} Hz, expected {expected_rate} Hz")
    if info.channels != 1:
        raise DatasetError(f"{path}: {info.channels} channels, expected mono")
    if info.frames <= 0:
        raise DatasetError(f"{path}: no audio samples")
    if info.format == "WAV":
        _check_wav_data_chunk(path)
    decoded = _decoded_frames(path, info.frames, check)
    if decoded != info.frames:
        raise DatasetError(f"{path}: truncated audio (header says {info.frames} frames, decoded {decoded})")
    return info.frames, info.samplerate


def probe_utterance(
    utt_id: str, speaker: str, path: str | Path, transcript: str, check: AudioCheck
) -> Utterance | Skip:
    """The manifest row of one audio file, or the :class:`Skip` that says why it cannot be used.

    Every dataset reader checks its files this way (:func:`probe_audio` at :data:`SCORING_RATE`, the
    rate every dataset is stored at), so a damaged or wrong-rate file is recorded the same whatever the
    reader; the caller hands each Skip to :func:`resolve_problems`.
    """
    try:
        frames, rate = probe_audio(path, SCORING_RATE, check)
    except DatasetError as exc:
        return Skip(utt_id, str(path), str(exc).removeprefix(f"{path}: "))
    return Utterance(utt_id, speaker, os.path.abspath(path), frames / rate, rate, transcript)


def _decoded_frames(path: Path, frames: int, check: AudioCheck) -> int:
    """Decode the whole file (or its last block) and count the frames actually present."""
    try:
        with sf.SoundFile(str(path)) as handle:
            if check == "full":
                return sum(len(block) for block in handle.blocks(blocksize=1 << 16, dtype="int16"))
            start = max(0, frames - _TAIL_FRAMES)
            handle.seek(start)
            return start + len(handle.read(frames - start, dtype="int16"))
    except Exception as exc:  # a truncated FLAC fails to seek or loses sync
        raise DatasetError(f"{path}: truncated or corrupt audio ({exc})") from exc


def _check_wav_data_chunk(path: Path) -> None:
    """Compare the RIFF ``data`` chunk's declared size with the bytes really in the file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return  # RF64/W64 and friends: leave them to the decoder check
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk = handle.read(8)
            chunk_size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if chunk_size != 0xFFFFFFFF and offset + 8 + chunk_size > size:
                    raise DatasetError(
                        f"{path}: truncated audio (data chunk declares {chunk_size} bytes, "
                        f"{size - offset - 8} present)"
                    )
                return
            offset += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes


def _check_field(value: str, what: str, utt_id: str) -> None:
    if re.search(r"[\t\r\n]", value):
        raise ValueError(f"utterance {utt_id!r}: {what} contains a tab or line break: {value!r}")


def _atomic_write_tsv(rows: Iterable[Sequence[object]], header: Sequence[str], path: str | Path) -> None:
    """Write a TSV through :func:`nacbench.artifacts.atomic_path` (temporary name, then rename)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_manifest(utts: Sequence[Utterance], path: str | Path) -> None:
    """Write utterances in the given order; duplicate ids and tab/newline characters are errors."""
    dupes = sorted(uid for uid, n in Counter(u.utt_id for u in utts).items() if n > 1)
    if dupes:
        raise ValueError(f"{path}: duplicate utt_id(s) {dupes[:10]}")
    for utt in utts:
        for field in ("utt_id", "speaker", "path", "transcript"):
            _check_field(getattr(utt, field), field, utt.utt_id)
    rows = (
        (u.utt_id, u.speaker, u.path, repr(float(u.duration_s)), int(u.sample_rate), u.transcript)
        for u in utts
    )
    _atomic_write_tsv(rows, MANIFEST_COLUMNS, path)


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest, checking its columns and ids; errors name the file."""
    path = Path(path)
    try:
        df = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE, encoding="utf-8"
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"{path}: cannot read manifest ({exc})") from exc
    if tuple(df.columns) != MANIFEST_COLUMNS:
        missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
        extra = [c for c in df.columns if c not in MANIFEST_COLUMNS]
        raise DatasetError(
            f"{path}: manifest columns {list(df.columns)}, expected {list(MANIFEST_COLUMNS)} "
            f"(missing {missing}, unexpected {extra})"
        )
    dupes = df.loc[df["utt_id"].duplicated(), "utt_id"].tolist()
    if dupes:
        raise DatasetError(f"{path}: duplicate utt_id(s) {dupes[:10]}")
    try:
        df["duration_s"] = df["duration_s"].astype(float)
        df["sample_rate"] = df["sample_rate"].astype(int)
    except ValueError as exc:
        raise DatasetError(f"{path}: non-numeric duration_s or sample_rate ({exc})") from exc
    return df


def select_shard(df: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """Rows at positions ``p`` with ``p % n_shards == shard``, in manifest order.

    Striding (rather than cutting contiguous blocks) spreads long and short utterances and all
    speakers over the shards, so shard jobs take similar time. The original index is kept.
    """
    if n_shards < 1:
        raise ValueError(f"n_shards must be >= 1, got {n_shards}")
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} out of range for {n_shards} shard(s) (0..{n_shards - 1})")
    return df.iloc[shard::n_shards]


def write_skips(skips: Sequence[Skip], path: str | Path) -> None:
    """Record skipped files (header only when none) so a skip is never silent."""
    rows = (tuple(re.sub(r"\s+", " ", str(v)) for v in astuple(s)) for s in skips)
    _atomic_write_tsv(rows, SKIP_COLUMNS, path)
