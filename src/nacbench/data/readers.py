"""Dataset reader registry: ``data.<name>.reader`` in config names an entry of :data:`READERS`.

Each entry says what it needs from its config section (its own options, which of them are required),
how to read a local copy into manifest records, whether it can download the corpus (and which archive
parts a config asks for), and whether it can provide transcripts at all. The data stage, the download
stage and config validation read these entries; nothing else branches on a reader's name, so adding a
reader is one module plus one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacbench.data.arctic import read_arctic
from nacbench.data.audio_folder import read_audio_folder
from nacbench.data.librispeech import read_librispeech
from nacbench.data.manifest import Skip, Utterance

#: keys every dataset section has, whatever its reader (the schema's ``$defs/dataset``)
COMMON_OPTIONS = ("reader", "root", "shards", "on_error", "max_utterances")

DatasetOptions = Mapping[str, Any]


@dataclass(frozen=True)
class ReadResult:
    """What a reader found: utterances (sorted by id), files left out, and lines worth logging."""

    utterances: list[Utterance]
    skips: list[Skip]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PublishedSize:
    """A corpus's size as its authors published it, for planning a run whose data is not at hand."""

    utterances: int
    seconds: float
    source: str


#: LibriSpeech subsets by name: 2620 utterances (the test-clean distribution on openslr.org/12) and
#: 5.40 hours (Panayotov et al. 2015, "LibriSpeech: an ASR corpus based on public domain audio books",
#: ICASSP, Table 1); 19,452 s is the sum of the utterance durations (5.40 h rounded to two decimals).
LIBRISPEECH_SIZES: dict[str, PublishedSize] = {
    "test-clean": PublishedSize(
        2620,
        19452.0,
        "published size: 2620 utterances (openslr.org/12 test-clean), 5.40 h = 19,452 s "
        "(Panayotov et al. 2015, LibriSpeech, Table 1)",
    ),
}

#: ``read(root, options, seed) -> ReadResult``; ``options`` is the dataset's config section
ReadFn = Callable[[Path, DatasetOptions, int], ReadResult]


@dataclass(frozen=True)
class Reader:
    """One dataset reader: its config options, how to read, and what it can provide."""

    name: str
    read: ReadFn
    #: config keys this reader takes beyond :data:`COMMON_OPTIONS`, with their defaults (None = required)
    options: Mapping[str, Any] = field(default_factory=dict)
    #: archive parts to download for a config section (see nacbench.data.download.DATASETS); None = the
    #: reader only reads a local copy (``root`` must be set)
    download_parts: Callable[[DatasetOptions], list[str]] | None = None
    #: whether this reader can give utterances a transcript at all (some may still lack one)
    provides_transcripts: bool = True
    #: the most utterances a config section can ever yield, known before reading (None = unknown until
    #: the folder is read); config validation checks a fit set against it
    capacity: Callable[[DatasetOptions], int | None] = lambda options: None
    #: the published size of what a config section selects, when known (cost estimates before download)
    published_size: Callable[[DatasetOptions], PublishedSize | None] = lambda options: None

    @property
    def can_download(self) -> bool:
        return self.download_parts is not None

    def option(self, options: DatasetOptions, key: str) -> Any:
        """The configured value of one of this reader's options, or its default."""
        value = options.get(key)
        return self.options[key] if value is None else value

    def config_errors(self, options: DatasetOptions, field_prefix: str) -> list[str]:
        """Problems with a dataset's config section for this reader, each starting with the field."""
        errors = [
            f"{field_prefix}.{key}: not an option of reader {self.name!r}; its options: {sorted(self.options)}"
            for key in options
            if key not in COMMON_OPTIONS and key not in self.options
        ]
        errors += [
            f"{field_prefix}.{key}: required for the {self.name} reader"
            for key, default in self.options.items()
            if default is None and not options.get(key)
        ]
        if not self.can_download and not options.get("root"):
            errors.append(
                f"{field_prefix}.root: the {self.name} reader cannot download; set root to a local folder"
            )
        return errors


def _read_librispeech(root: Path, options: DatasetOptions, seed: int) -> ReadResult:
    del seed  # the whole subset is read, nothing is drawn
    subset = READERS["librispeech"].option(options, "subset")
    utts, skips = read_librispeech(root, subset, options["on_error"])
    return ReadResult(utts, skips)


def _read_arctic(root: Path, options: DatasetOptions, seed: int) -> ReadResult:
    per_speaker = READERS["cmu_arctic"].option(options, "utterances_per_speaker")
    utts, skips, notes = read_arctic(root, options["speakers"], per_speaker, seed, options["on_error"])
    return ReadResult(utts, skips, notes)


def _read_audio_folder(root: Path, options: DatasetOptions, seed: int) -> ReadResult:
    del seed
    utts, skips = read_audio_folder(root, options["on_error"])
    return ReadResult(utts, skips)


#: reader name -> entry; the one list of readers
READERS: dict[str, Reader] = {
    "librispeech": Reader(
        "librispeech",
        _read_librispeech,
        options={"subset": "test-clean"},
        download_parts=lambda options: [READERS["librispeech"].option(options, "subset")],
        published_size=lambda options: LIBRISPEECH_SIZES.get(
            READERS["librispeech"].option(options, "subset")
        ),
    ),
    "cmu_arctic": Reader(
        "cmu_arctic",
        _read_arctic,
        options={"speakers": None, "utterances_per_speaker": 100},
        download_parts=lambda options: list(options["speakers"]),
        capacity=lambda options: (
            len(options["speakers"]) * int(READERS["cmu_arctic"].option(options, "utterances_per_speaker"))
            if options.get("speakers")
            else None
        ),
    ),
    "audio_folder": Reader("audio_folder", _read_audio_folder),
}


def get_reader(name: str) -> Reader:
    """The reader called ``name``; KeyError listing the known readers otherwise."""
    try:
        return READERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset reader {name!r}; known: {sorted(READERS)}") from None


__all__ = [
    "COMMON_OPTIONS",
    "LIBRISPEECH_SIZES",
    "READERS",
    "PublishedSize",
    "ReadResult",
    "Reader",
    "get_reader",
]
