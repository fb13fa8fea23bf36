"""Weight files on disk: a user-given folder, or a download cache verified by sha256.

Codec adapters get their weights in one of two ways: the config names a folder that already holds the
files (offline runs, ``../shared`` in tests), or the files are downloaded once into a cache and pinned
by checksum. Both paths end in :class:`~nacbench.codecs.base.WeightsUnavailableError` with a message
that names the missing file and where to put it, because "file not found" deep inside a model loader
is the error users otherwise see.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from nacbench.codecs.base import WeightsUnavailableError

#: environment variable that moves the download cache (e.g. onto a cluster's scratch space)
CACHE_ENV = "NACBENCH_CACHE"

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$NACBENCH_CACHE`` if set, else ``~/.cache/nacbench`` (not created here)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else Path.home() / ".cache" / "nacbench"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks so large checkpoints do not load into memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def require_local_files(directory: str | Path, filenames: Iterable[str], *, option: str) -> dict[str, Path]:
    """Paths of ``filenames`` inside ``directory``; raise naming every missing one and the option to fix.

    ``option`` is the config key that set the folder (e.g. ``codecs.lyra.model_dir``), so the message
    tells the user which setting to change rather than only which file is absent.
    """
    directory = Path(directory).expanduser()
    paths = {name: directory / name for name in filenames}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise WeightsUnavailableError(
            f"{option}={str(directory)!r}: missing {', '.join(missing)}; put the files there or point "
            f"{option} at a folder that holds {', '.join(paths)}"
        )
    return paths


def cached_file(
    url: str,
    sha256: str,
    cache_dir: str | Path,
    filename: str,
    *,
    timeout: float = 60.0,
    hint: str = "",
) -> Path:
    """``cache_dir/filename``, downloading it from ``url`` first unless a copy with ``sha256`` is there.

    The download goes to a temporary file in the same folder and is renamed into place only after its
    checksum matches, so an interrupted or corrupted download never looks like a valid cache entry (and
    parallel jobs racing on the same file each rename a complete copy). A cached file with the wrong
    checksum is treated as corrupt and fetched again. ``hint`` is appended to the error message, for
    the caller's alternative (e.g. "or set codecs.x.model_dir").
    """
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / filename
    if target.is_file() and sha256_file(target) == sha256:
        return target
    suffix = f"; {hint}" if hint else ""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        actual = _download_verified(url, target, sha256, timeout)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise WeightsUnavailableError(
            f"cannot download {url} ({exc}); no verified copy at {target} "
            f"(put the file there with sha256 {sha256}){suffix}"
        ) from exc
    if actual != sha256:
        raise WeightsUnavailableError(
            f"{url}: downloaded file has sha256 {actual}, expected {sha256}; not cached at {target}{suffix}"
        )
    return target


def _download_verified(url: str, target: Path, sha256: str, timeout: float) -> str:
    """Stream ``url`` into ``target`` atomically when its sha256 matches; return the sha256 seen."""
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual == sha256:
            os.replace(tmp, target)
        return actual
    finally:
        tmp.unlink(missing_ok=True)


# --- the Hugging Face hub's settings -------------------------------------------------------------------
#
# huggingface_hub reads HF_HUB_OFFLINE and HF_HOME once, at import time. These helpers read them at call
# time and pass them explicitly, so an offline run (or a test that points HF_HOME at an empty folder)
# behaves the same whatever was imported first. They import nothing heavy: config validation reads the
# hub cache through them (nacbench.codecs.hf_layout), and it must not import torch.


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """True when the user asked for no network (``HF_HUB_OFFLINE=1``); also honoured for torch hub / DAC."""
    return _env_flag("HF_HUB_OFFLINE")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment says now (HF_HUB_CACHE, else HF_HOME/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or str(
        Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "huggingface"
    )
    return Path(home).expanduser() / "hub"
