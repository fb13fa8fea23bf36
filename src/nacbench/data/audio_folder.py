"""Generic reader for your own recordings: any folder of WAV/FLAC files, searched recursively.

Utterance ids come from the path relative to the root, without the extension, with folder separators
turned into ``-`` and every character outside ``[A-Za-z0-9._-]`` into ``_`` (ids become file names of
decoded audio and keys of every table, so they must be plain). Ids that still collide (``a b.wav`` and
``a_b.wav``, or ``x.wav`` next to ``x.flac``) get ``-2``, ``-3``, ... in sorted path order, so the same
files always give the same ids. The speaker is the first folder under the root (one folder per speaker
is the usual layout), or ``""`` for files directly in the root.

Transcripts are optional, because Study A compares decoded audio with the original and needs no text.
Where there is text it comes from, in this order:

1. ``transcripts.tsv`` in the root: one ``<key><TAB><text>`` line per utterance, the key being the
   utt_id or the relative path without extension (``speaker1/take 2``), so the file can be written
   before the ids are known;
2. a ``<stem>.txt`` sidecar beside the audio file (``take 2.txt`` for ``take 2.wav``), whole file = text.

An utterance with neither gets an empty transcript in the manifest; the stages that need text (ASR,
Study B) refuse such utterances by name. Audio is checked like the corpus readers check theirs
(:func:`nacbench.data.manifest.probe_audio`: 16 kHz mono, decodable to the end).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from nacbench.data.manifest import (
    AudioCheck,
    DatasetError,
    NoUsableUtterances,
    Skip,
    Utterance,
    check_on_error,
    probe_utterance,
    resolve_problems,
)

AUDIO_SUFFIXES = (".wav", ".flac")
TRANSCRIPTS_FILE = "transcripts.tsv"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def utterance_key(relative: PurePosixPath) -> str:
    """The relative path without its extension, ``/``-separated: how ``transcripts.tsv`` may name a file."""
    return str(relative.with_suffix(""))


def sanitise_id(key: str) -> str:
    """A file-name-safe id: folder separators become ``-``, anything else outside ``[A-Za-z0-9._-]`` ``_``."""
    return _UNSAFE.sub("_", key.replace("/", "-")).lstrip(".") or "_"


def unique_ids(keys: list[str]) -> dict[str, str]:
    """``key -> utt_id`` for keys in sorted order; a repeated sanitised id gets ``-2``, ``-3``, ..."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for key in sorted(keys):
        base = candidate = sanitise_id(key)
        n = 1
        while candidate in used:
            n += 1
            candidate = f"{base}-{n}"
        used.add(candidate)
        ids[key] = candidate
    return ids


def find_audio(root: Path) -> list[PurePosixPath]:
    """Every WAV/FLAC file under ``root`` (any depth, suffix in any case), as sorted relative paths."""
    found = [
        PurePosixPath(path.relative_to(root).as_posix())
        for path in root.rglob("*")
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()
    ]
    return sorted(found)


def parse_transcripts_tsv(path: Path) -> tuple[dict[str, str], list[Skip]]:
    """``key -> text`` from ``transcripts.tsv``; malformed or repeated lines are problems naming the line."""
    texts: dict[str, str] = {}
    problems: list[Skip] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        key, tab, text = line.partition("\t")
        where = f"{path}:{number}"
        if not tab or not key.strip():
            problems.append(Skip(key.strip(), where, "expected '<utt_id or relative path><TAB><text>'"))
        elif key.strip() in texts:
            problems.append(Skip(key.strip(), where, f"listed twice in {TRANSCRIPTS_FILE}"))
        else:
            texts[key.strip()] = " ".join(text.split())
    return texts, problems


def read_audio_folder(
    root: str | Path, on_error: str = "error", check: AudioCheck = "full"
) -> tuple[list[Utterance], list[Skip]]:
    """Read every WAV/FLAC file under ``root`` into utterances sorted by utt_id (see the module docstring).

    ``on_error="error"`` raises one :class:`DatasetError` listing every problem (unreadable or truncated
    audio, wrong rate, not mono, a ``transcripts.tsv`` line that is malformed, repeated or names no
    audio file); ``"skip"`` leaves those out and returns them as :class:`Skip` records. An empty result
    is always an error.
    """
    policy = check_on_error(on_error)
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"audio folder {root} not found (data.<name>.root must be a folder of WAV/FLAC files)"
        )
    relatives = find_audio(root)
    keys = [utterance_key(r) for r in relatives]
    ids = unique_ids(keys)
    tsv = root / TRANSCRIPTS_FILE
    texts, problems = parse_transcripts_tsv(tsv) if tsv.is_file() else ({}, [])
    by_id = {ids[k]: k for k in keys}
    known = set(keys) | set(by_id)
    for key in sorted(set(texts) - known):
        problems.append(
            Skip(key, str(tsv), f"{key!r} is listed but there is no such audio file under {root}")
        )
    utts: list[Utterance] = []
    for relative, key in zip(relatives, keys, strict=True):
        utt_id, path = ids[key], root / relative
        text = texts.get(key, texts.get(utt_id))
        sidecar = path.with_suffix(".txt")
        if text is None and sidecar.is_file():
            text = " ".join(sidecar.read_text(encoding="utf-8").split())
        speaker = relative.parts[0] if len(relative.parts) > 1 else ""
        probed = probe_utterance(utt_id, speaker, path, text or "", check)
        if isinstance(probed, Skip):
            problems.append(probed)
        else:
            utts.append(probed)
    skips = resolve_problems(problems, policy, f"audio folder {root}")
    if not utts:
        where = f"audio folder {root} (looked for {', '.join(AUDIO_SUFFIXES)} files at any depth)"
        raise NoUsableUtterances(where, skips)
    return sorted(utts, key=lambda u: u.utt_id), skips
