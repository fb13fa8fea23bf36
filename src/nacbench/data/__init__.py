"""Data stage: dataset readers, manifests, shards and verified downloads.

The `download` function is not re-exported here: the name would hide the `download` submodule.
Import it as `from nacbench.data.download import download`.

Readers return plain :class:`Utterance` records plus :class:`Skip` records for files left out under
``on_error: skip``; rule scripts write them with :func:`write_manifest` and :func:`write_skips`.
"""

from __future__ import annotations

from nacbench.data.arctic import ARCTIC_SPEAKERS, read_arctic
from nacbench.data.audio_folder import read_audio_folder
from nacbench.data.download import DATASETS, DownloadError, extract_archive, fetch_dataset
from nacbench.data.librispeech import read_librispeech
from nacbench.data.manifest import (
    MANIFEST_COLUMNS,
    DatasetError,
    Skip,
    Utterance,
    probe_audio,
    read_manifest,
    select_shard,
    write_manifest,
    write_skips,
)
from nacbench.data.readers import READERS, Reader, get_reader

__all__ = [
    "ARCTIC_SPEAKERS",
    "DATASETS",
    "MANIFEST_COLUMNS",
    "READERS",
    "DatasetError",
    "DownloadError",
    "Reader",
    "Skip",
    "Utterance",
    "extract_archive",
    "fetch_dataset",
    "get_reader",
    "probe_audio",
    "read_arctic",
    "read_audio_folder",
    "read_librispeech",
    "read_manifest",
    "select_shard",
    "write_manifest",
    "write_skips",
]
