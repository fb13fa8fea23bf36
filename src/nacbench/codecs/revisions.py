"""Pinned commits of every model loaded from the Hugging Face hub, and the checks around them.

A reproduction must not follow a hub repository as it changes: ``neuphonic/neucodec`` was rewritten when
Transformers gained NeuCodec, and a ``main`` download made after that would no longer be the checkpoint
the paper measured. Every hub-loaded model therefore runs at a fixed commit:

- ``revision: <40 hex digits>`` in the config: that commit (the shipped ``config.yaml`` names one for
  every hub model whose commit could be found; :data:`PINNED` holds the same commits as the default for
  the default repositories, so an entry without ``revision`` is pinned too).
- ``revision: locked`` (or no ``revision`` for a repository :data:`PINNED` does not know): the commit
  recorded in the project's lock file (:func:`lock_path`: ``NACBENCH_HUB_LOCK``, which the workflow sets
  to ``hub-revisions.lock.yaml`` beside the Snakefile, else that name in the working directory). When the
  file has no entry yet, the first successful download (of ``main``) writes the commit it got there;
  every later run loads that commit and refuses any other. Commit the file to make the pin part of the
  reproduction. Offline, a cache that already holds ``main`` (``refs/main``) counts as that first
  download.
- a branch or tag name (``main``, ``v1.0``): only with ``revision_floating: true`` beside it (the run
  then follows the repository; the commit it got is still recorded in ``weights_id``).

Before loading, a pinned commit missing from the cache is an error when offline (HF_HUB_OFFLINE): a
:class:`HubRevisionMismatchError` when the cache holds other commits of the repository (it names them
and how to fix it: download the pinned commit, or ask for a cached one in the config), else a
:class:`HubRevisionMissingError` with the ``huggingface-cli download <id> --revision <commit>`` command.
Online, the pinned commit is downloaded (other cached commits are never used). After loading, the files'
commit (their ``snapshots/<commit>/`` folder) must be the pinned one, and the ``weights_id`` of the
codec (and the ASR ``model_id``) records it.

Torch-free: config validation and the ASR backends import it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nacbench.codecs.base import WeightsUnavailableError
from nacbench.codecs.weights import hf_cache_dir, hub_offline

#: a full commit hash, the only revision accepted without ``revision_floating``
COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
#: ``revision`` value that asks for the commit recorded in the lock file
LOCKED = "locked"
#: environment variable naming the lock file (default :data:`LOCK_FILE` in the working directory)
LOCK_ENV = "NACBENCH_HUB_LOCK"
LOCK_FILE = "hub-revisions.lock.yaml"

#: Default commits of the hub repositories the pipeline loads by default. Each was found in stored public
#: sources that pin the repository to it (found through the search tool's index of public code, Dec 2026;
#: no stored source gave the hub's own commit page), never guessed. Repositories with no commit found
#: (stabilityai/stable-codec-speech-16k, a gated repository) are pinned through the lock file instead.
PINNED: dict[str, str] = {
    # an installer script pinning .../neuphonic/neucodec/resolve/<commit>/pytorch_model.bin (with the
    # file's sha256 30c3ea13...): the pre-Transformers layout this adapter reads
    "neuphonic/neucodec": "30c1fdd19e68aee65d542cf043750d4c0165893e",
    # a model-store staging script pinning pytorch_model.bin (sha256 adace21f...) and meta.yaml at this
    # commit; another stored script loads daee7fd9989a62594084fd8e1a99e61beb5b0e85 (also a commit of the
    # repository, order unknown): this one is taken because its files come with checksums
    "neuphonic/distill-neucodec": "6f2b93b3fa2bc74740ba1bd10622e1ee37dbbe46",
    # NeuCodec's semantic encoder; the same commit pinned by two unrelated stored sources (an IndexTTS
    # pin list and a speech-enhancement asset list resolving preprocessor_config.json at it)
    "facebook/w2v-bert-2.0": "da985ba0987f70aaeb84a80f2851cfac8c697a7b",
    # Distill-NeuCodec's semantic encoder; the staging script above, with config.json, model.safetensors
    # and preprocessor_config.json checksummed at this commit
    "ntu-spml/distilhubert": "fa87d96265d6b7af66e112faff6ff44df419cec9",
    # a Dia2 sidecar pinning model.safetensors, config.json and preprocessor_config.json (the
    # Transformers layout) at this commit, each with its sha256
    "kyutai/mimi": "89091b3e466eb6a9d11e537bf26b144f194978f7",
    # an artifact resolver pinning the official Transformers conversion (XCODEC2_HF_REVISION)
    "HKUSTAudio/xcodec2-hf": "64bd034d12d441299cdd535b15c33efd6ccdf252",
    # faster-whisper's large-v3 (CTranslate2): an installer script and a download table, both resolving
    # model.bin and config.json at this commit
    "Systran/faster-whisper-large-v3": "edaa852ec7e145841d8ffdb056a99866b5f0a478",
}


class HubRevisionError(WeightsUnavailableError):
    """A hub model cannot be had at the revision the configuration pins."""


class HubRevisionMismatchError(HubRevisionError):
    """The cache (or a download) holds the repository at a commit other than the pinned one."""


class HubRevisionMissingError(HubRevisionError):
    """Offline, and the cache holds nothing of the repository at the pinned revision."""


def check_revision(value: Any, floating: Any = False, option: str = "revision") -> None:
    """ValueError unless ``value`` is None, a commit, :data:`LOCKED`, or (``floating`` true) any name."""
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{option}: expected a 40-hex commit or {LOCKED!r}, got {value!r}")
    if not isinstance(floating, bool):
        raise ValueError(f"{option}_floating: expected true or false, got {floating!r}")
    if COMMIT_PATTERN.match(value) or value == LOCKED or floating:
        return
    raise ValueError(
        f"{option}: {value!r} is not a commit (40 lower-case hex digits) nor {LOCKED!r}; a branch or tag "
        f"follows the repository as it changes, so it needs `{option.rsplit('.', 1)[-1]}_floating: true` "
        "beside it"
    )


def download_command(repo_id: str, revision: str | None) -> str:
    """The shell command that puts ``repo_id`` at ``revision`` into the cache."""
    return f"huggingface-cli download {repo_id}" + (f" --revision {revision}" if revision else "")


# --- the lock file -------------------------------------------------------------------------------------


def lock_path() -> Path:
    """The lock file: ``$NACBENCH_HUB_LOCK``, else ``hub-revisions.lock.yaml`` in the working directory."""
    return Path(os.environ.get(LOCK_ENV) or LOCK_FILE).expanduser()


_LOCK_HEADER = (
    "# Hub commits recorded at first download (nacbench.codecs.revisions): repository: commit.\n"
    "# Later runs load exactly these commits. Commit this file; delete an entry to re-pin it to main.\n"
)


def _parse_lock(text: str, path: Path) -> dict[str, str]:
    import yaml

    data = yaml.safe_load(text) if text.strip() else {}
    if data is None:
        data = {}
    bad = (
        not isinstance(data, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
        or not all(COMMIT_PATTERN.match(v) for v in data.values())
    )
    if bad:
        raise HubRevisionError(f"{path}: expected 'repository: <40-hex commit>' lines, got {data!r}")
    return dict(data)


@contextlib.contextmanager
def _locked(path: Path, mode: str, exclusive: bool) -> Iterator[IO[str]]:
    with open(path, mode, encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield handle
        finally:
            # what was written must be on disk before another job may read it: unlock only after a flush
            handle.flush()
            os.fsync(handle.fileno())
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_lock(path: Path | None = None) -> dict[str, str]:
    """The recorded commits (empty when the file does not exist)."""
    path = path or lock_path()
    if not path.is_file():
        return {}
    with _locked(path, "r", exclusive=False) as handle:
        return _parse_lock(handle.read(), path)


def record_revision(repo_id: str, commit: str, path: Path | None = None) -> None:
    """Write ``repo_id: commit`` into the lock file (created if need be), under an exclusive lock, so
    parallel jobs recording at once keep each other's entries. A different commit already recorded for
    ``repo_id`` is a :class:`HubRevisionMismatchError` (two jobs downloaded across a hub update)."""
    if not COMMIT_PATTERN.match(commit):
        raise ValueError(f"not a commit: {commit!r}")
    path = path or lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path, "a+", exclusive=True) as handle:
        handle.seek(0)
        entries = _parse_lock(handle.read(), path)
        if entries.get(repo_id) == commit:
            return
        if repo_id in entries:
            raise HubRevisionMismatchError(
                f"{path}: {repo_id} is recorded at {entries[repo_id]}, but this run got {commit}; the "
                "repository changed between downloads. Keep the recorded commit (download it: "
                f"`{download_command(repo_id, entries[repo_id])}`) or delete the entry to re-pin"
            )
        entries[repo_id] = commit
        handle.seek(0)
        handle.truncate()
        handle.write(_LOCK_HEADER + "".join(f'{k}: "{v}"\n' for k, v in sorted(entries.items())))


# --- the cache -----------------------------------------------------------------------------------------


def repo_cache_folder(repo_id: str, cache: Path | None = None) -> Path:
    """``<cache>/models--org--name``: where huggingface_hub keeps a model repository."""
    return (cache or hf_cache_dir()) / ("models--" + repo_id.replace("/", "--"))


def cached_commits(repo_id: str, cache: Path | None = None) -> list[str]:
    """Commits of ``repo_id`` with a snapshot folder in the cache, sorted."""
    snapshots = repo_cache_folder(repo_id, cache) / "snapshots"
    if not snapshots.is_dir():
        return []
    return sorted(p.name for p in snapshots.iterdir() if p.is_dir())


def cached_ref(repo_id: str, ref: str, cache: Path | None = None) -> str | None:
    """The commit the cache's ``refs/<ref>`` names (what the last download of ``ref`` got), else None."""
    path = repo_cache_folder(repo_id, cache) / "refs" / ref
    if not path.is_file():
        return None
    commit = path.read_text(encoding="utf-8").strip()
    return commit if COMMIT_PATTERN.match(commit) else None


def commit_of(path: Path | str) -> str:
    """Commit of a file or folder inside the hub cache (``.../snapshots/<commit>[/...]``), else ``""``."""
    parts = Path(path).parts
    if "snapshots" not in parts[:-1]:
        return ""
    commit = parts[parts.index("snapshots") + 1]
    return commit if COMMIT_PATTERN.match(commit) else ""


# --- a pin ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubPin:
    """What a hub model is loaded at.

    ``revision``: what the hub is asked for (a commit; ``main`` for a lock entry not recorded yet; a
    branch or tag when floating). ``commit``: the commit the loaded files must come from (None: not
    known before the download). ``record``: write the commit got into the lock file. ``option``: the
    config field, for messages.
    """

    repo_id: str
    revision: str
    commit: str | None
    record: bool
    option: str

    @property
    def label(self) -> str:
        """``repo@commit`` (the revision asked for while the commit is not known)."""
        return f"{self.repo_id}@{self.commit or self.revision}"

    def settled(self, commit: str) -> HubPin:
        """This pin once its files came from ``commit``: later files of the same build must match it
        (a lock entry is recorded once, by the first file)."""
        if not commit or self.commit is not None:
            return self
        return HubPin(self.repo_id, commit, commit, False, self.option)


def hub_pin(
    repo_id: str,
    revision: str | None = None,
    *,
    floating: bool = False,
    option: str = "revision",
    lock: Path | None = None,
    offline: bool | None = None,
    cache: Path | None = None,
) -> HubPin:
    """The pin of ``repo_id`` for a config's ``revision`` (see the module doc for the values); ``offline``
    (default HF_HUB_OFFLINE) and ``cache`` (default the Hugging Face cache) for a loader with switches of
    its own (faster-whisper's ``local_files_only`` and ``download_root``)."""
    check_revision(revision, floating, option)
    if revision is not None and revision != LOCKED:
        commit = revision if COMMIT_PATTERN.match(revision) else None
        return HubPin(repo_id, revision, commit, False, option)
    if revision is None and repo_id in PINNED:
        return HubPin(repo_id, PINNED[repo_id], PINNED[repo_id], False, option)
    recorded = read_lock(lock).get(repo_id)
    if recorded is not None:
        return HubPin(repo_id, recorded, recorded, False, option)
    if hub_offline() if offline is None else offline:
        # offline, a cache that already holds main counts as the first download
        main = cached_ref(repo_id, "main", cache)
        if main is not None:
            return HubPin(repo_id, main, main, True, option)
    return HubPin(repo_id, "main", None, True, option)


def _how_to_get(pin: HubPin) -> str:
    if pin.commit is None and pin.record:
        return (
            f"`{download_command(pin.repo_id, None)}` on a machine with network (same HF_HOME); its commit is "
            f"then recorded in {lock_path()}"
        )
    return f"`{download_command(pin.repo_id, pin.revision)}` on a machine with network (same HF_HOME)"


def check_cached(pin: HubPin, cache: Path | None = None, offline: bool | None = None) -> None:
    """Offline only (``offline``, default HF_HUB_OFFLINE): the cache must hold the pinned revision (see
    the module doc for the errors)."""
    if not (hub_offline() if offline is None else offline):
        return
    cache = cache or hf_cache_dir()
    present = cached_commits(pin.repo_id, cache)
    if pin.commit is not None:
        if pin.commit in present:
            return
        if present:
            raise HubRevisionMismatchError(
                f"{pin.option}: {pin.repo_id} is pinned to {pin.commit}, but the Hugging Face cache "
                f"{cache} holds it only at {', '.join(present)}, and downloading is off (HF_HUB_OFFLINE). "
                f"Download the pinned commit ({_how_to_get(pin)}), or set {pin.option}: <one of those "
                "commits> to run the cached one"
            )
    elif cached_ref(pin.repo_id, pin.revision, cache) is not None:
        return  # floating: the cache's refs/<branch> resolves it
    raise HubRevisionMissingError(
        f"{pin.option}: {pin.label} is not in the Hugging Face cache {cache} and downloading is off "
        f"(HF_HUB_OFFLINE). Download it: {_how_to_get(pin)}"
    )


def confirm(pin: HubPin, got: str) -> str:
    """After loading: ``got`` (the loaded files' commit) must be the pinned one; a lock-file pin not
    recorded yet records it. Returns the commit (``""`` when the files are outside the cache's layout)."""
    if pin.commit is not None and got != pin.commit:
        raise HubRevisionMismatchError(
            f"{pin.option}: {pin.repo_id} is pinned to {pin.commit}, but the files loaded come from "
            f"{got or 'outside the hub cache layout'}; refusing them. Download the pinned commit "
            f"({_how_to_get(pin)})"
        )
    if pin.record and got:
        record_revision(pin.repo_id, got)
    return got


def hub_file(pin: HubPin, filename: str, *, hint: str = "") -> Path:
    """``filename`` of the pinned repository: the cache's, else downloaded (unless offline); checked
    against the pin (and recorded for a new lock entry). Hub failures become a
    :class:`WeightsUnavailableError` with the download command (and ``hint``, e.g. the option that
    takes a local copy instead)."""
    from huggingface_hub import hf_hub_download

    try:
        check_cached(pin)
    except HubRevisionError as exc:
        if not hint:
            raise
        raise type(exc)(f"{exc}; {hint}") from None
    cache = hf_cache_dir()
    try:
        path = Path(
            hf_hub_download(
                pin.repo_id,
                filename,
                revision=pin.revision,
                cache_dir=str(cache),
                local_files_only=hub_offline(),
            )
        )
    except Exception as exc:  # hub errors come in many types (HTTP, offline, gated, missing entry)
        raise WeightsUnavailableError(
            f"{pin.option}: cannot get {filename!r} of {pin.label} ({type(exc).__name__}: {exc}). Expected "
            f"in the Hugging Face cache {cache}: {_how_to_get(pin)}{'; ' + hint if hint else ''}"
        ) from exc
    confirm(pin, commit_of(path))
    return path
