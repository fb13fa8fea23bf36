"""Resumable, checksum-verified downloads and safe archive extraction for the official datasets.

A dataset download is the one step that touches the network, and it is also where reproducibility
is quietly lost: a half file taken as done, an archive whose extraction was interrupted, or a server
that serves different bytes. So a file only gets its final name after its checksum has been verified
(``dest.part`` until then), a ``dest.sha256`` record beside it says what was verified, an extraction
only gets its final name with a marker inside, and an unreachable network fails within seconds with
a message saying how to point the pipeline at a local copy.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import socket
import ssl
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nacbench.data.arctic import ARCTIC_SPEAKERS

#: progress(bytes so far, total bytes or None when the server does not say)
Progress = Callable[[int, int | None], None]

#: how long establishing a connection may take; reads use the longer ``timeout``
CONNECT_TIMEOUT_S = 10.0
_USER_AGENT = "nacbench-download/1"
_HASH_BLOCK = 1 << 20


class DownloadError(RuntimeError):
    """A download or extraction that failed; the message names the URL or file and what to do."""


# --------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Archive:
    """One official archive: where it lives, what it must hash to, and which folder inside it we keep."""

    url: str
    member_root: str
    md5: str | None = None
    sha256: str | None = None

    @property
    def filename(self) -> str:
        return PurePosixPath(self.url).name


@dataclass(frozen=True)
class DatasetSource:
    """A dataset as a set of archives keyed by part (a LibriSpeech subset, an Arctic speaker)."""

    name: str
    archives: Mapping[str, Archive]
    hint: str
    licence: str = ""
    default_parts: tuple[str, ...] = field(default=())


# Checksums: the LibriSpeech md5 is the one openslr.org publishes; festvox publishes none, so the
# sha256 values are those pinned by torchaudio (torchaudio/datasets/cmuarctic.py and librispeech.py,
# 2.11) for the same URLs. A server that starts serving other bytes is then an error, not a new result.
_ARCTIC_SHA256 = {
    "aew": "645cb33c0f0b2ce41384fdd8d3db2c3f5fc15c1e688baeb74d2e08cab18ab406",
    "ahw": "024664adeb892809d646a3efd043625b46b5bfa3e6189b3500b2d0d59dfab06c",
    "aup": "2c55bc3050caa996758869126ad10cf42e1441212111db034b3a45189c18b6fc",
    "awb": "d74a950c9739a65f7bfc4dfa6187f2730fa03de5b8eb3f2da97a51b74df64d3c",
    "axb": "dd65c3d2907d1ee52f86e44f578319159e60f4bf722a9142be01161d84e330ff",
    "bdl": "26b91aaf48b2799b2956792b4632c2f926cd0542f402b5452d5adecb60942904",
    "clb": "3f16dc3f3b97955ea22623efb33b444341013fc660677b2e170efdcc959fa7c6",
    "eey": "8a0ee4e5acbd4b2f61a4fb947c1730ab3adcc9dc50b195981d99391d29928e8a",
    "fem": "3fcff629412b57233589cdb058f730594a62c4f3a75c20de14afe06621ef45e2",
    "gka": "dc82e7967cbd5eddbed33074b0699128dbd4482b41711916d58103707e38c67f",
    "jmk": "3a37c0e1dfc91e734fdbc88b562d9e2ebca621772402cdc693bbc9b09b211d73",
    "ksp": "8029cafce8296f9bed3022c44ef1e7953332b6bf6943c14b929f468122532717",
    "ljm": "b23993765cbf2b9e7bbc3c85b6c56eaf292ac81ee4bb887b638a24d104f921a0",
    "lnh": "4faf34d71aa7112813252fb20c5433e2fdd9a9de55a00701ffcbf05f24a5991a",
    "rms": "c6dc11235629c58441c071a7ba8a2d067903dfefbaabc4056d87da35b72ecda4",
    "rxr": "1fa4271c393e5998d200e56c102ff46fcfea169aaa2148ad9e9469616fbfdd9b",
    "slp": "54345ed55e45c23d419e9a823eef427f1cc93c83a710735ec667d068c916abf1",
    "slt": "7c173297916acf3cc7fcab2713be4c60b27312316765a90934651d367226b4ea",
}

DATASETS: dict[str, DatasetSource] = {
    "librispeech": DatasetSource(
        name="librispeech",
        archives={
            "test-clean": Archive(
                url="https://www.openslr.org/resources/12/test-clean.tar.gz",
                member_root="LibriSpeech/test-clean",
                md5="32fa31d27d2e1cad72775fee3f4849a9",
                sha256="39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
            )
        },
        hint="or set data.librispeech.root to a folder holding LibriSpeech/test-clean",
        licence="CC BY 4.0",
        default_parts=("test-clean",),
    ),
    "cmu_arctic": DatasetSource(
        name="cmu_arctic",
        archives={
            spk: Archive(
                url=f"http://festvox.org/cmu_arctic/packed/cmu_us_{spk}_arctic.tar.bz2",
                member_root=f"cmu_us_{spk}_arctic",
                sha256=_ARCTIC_SHA256[spk],
            )
            for spk in ARCTIC_SPEAKERS
        },
        hint="or set data.cmu_arctic.root to a folder holding cmu_us_<speaker>_arctic/ folders",
        licence="CMU ARCTIC free-use licence (BSD-style)",
        default_parts=ARCTIC_SPEAKERS,
    ),
}


# --------------------------------------------------------------------------------------- checksums


def file_digests(path: Path) -> tuple[str, str]:
    """``(md5, sha256)`` of a file in one pass."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _sidecar(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _read_sidecar(dest: Path) -> str | None:
    try:
        return _sidecar(dest).read_text(encoding="ascii").split()[0].lower()
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def _write_sidecar(dest: Path, sha256: str) -> None:
    """``sha256sum -c`` compatible record of the verified file, written atomically."""
    tmp = _sidecar(dest).with_name(_sidecar(dest).name + ".tmp")
    tmp.write_text(f"{sha256}  {dest.name}\n", encoding="ascii")
    os.replace(tmp, _sidecar(dest))


def _mismatch(got_md5: str, got_sha: str, md5: str | None, sha256: str | None) -> str | None:
    """Describe the first checksum that does not match, or None when all given ones match."""
    if sha256 is not None and got_sha != sha256.lower():
        return f"sha256 expected {sha256.lower()}, got {got_sha}"
    if md5 is not None and got_md5 != md5.lower():
        return f"md5 expected {md5.lower()}, got {got_md5}"
    return None


def is_verified(dest: Path, md5: str | None = None, sha256: str | None = None) -> bool:
    """True when ``dest`` matches every pinned checksum and its ``.sha256`` record.

    A file without a record (placed by hand, or the run stopped just before writing it) is accepted
    only when a pinned checksum vouches for it, and then gets its record.
    """
    if not dest.is_file():
        return False
    got_md5, got_sha = file_digests(dest)
    if _mismatch(got_md5, got_sha, md5, sha256) is not None:
        return False
    recorded = _read_sidecar(dest)
    if recorded is None and (md5 is not None or sha256 is not None):
        _write_sidecar(dest, got_sha)
        return True
    return recorded == got_sha


# --------------------------------------------------------------------------------------- HTTP


class _FastConnectMixin:
    """Connect under a short timeout, then read under the longer one.

    urllib has a single timeout for both; a long one makes an unreachable host hang, a short one makes
    a slow server fail mid-archive.
    """

    timeout: float | None
    sock: socket.socket | None

    def __init__(self, *args: object, connect_timeout: float = CONNECT_TIMEOUT_S, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout

    def connect(self) -> None:
        read_timeout, self.timeout = self.timeout, self.connect_timeout
        try:
            super().connect()  # type: ignore[misc]  # a mixin: super() is HTTP(S)Connection where it is used
        finally:
            self.timeout = read_timeout
        if self.sock is not None:
            self.sock.settimeout(read_timeout)


class _HTTPConnection(_FastConnectMixin, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_FastConnectMixin, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, connect_timeout: float) -> None:
        super().__init__()
        self.connect_timeout = connect_timeout

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req, connect_timeout=self.connect_timeout)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connect_timeout: float) -> None:
        self.tls_context = ssl.create_default_context()
        super().__init__(context=self.tls_context)
        self.connect_timeout = connect_timeout

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            _HTTPSConnection, req, context=self.tls_context, connect_timeout=self.connect_timeout
        )


def _opener(connect_timeout: float) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_HTTPHandler(connect_timeout), _HTTPSHandler(connect_timeout))


_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(first byte, total size)`` from a Content-Range header (None where absent or ``*``)."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        return None, None
    first = int(match[1]) if match[1] is not None else None
    total = int(match[3]) if match[3] != "*" else None
    return first, total


class _Interrupted(Exception):
    """The connection ended before the announced length; what arrived stays in ``.part``."""


def _fetch_once(
    opener: urllib.request.OpenerDirector,
    url: str,
    part: Path,
    timeout: float,
    chunk: int,
    progress: Progress | None,
) -> None:
    """One HTTP request that appends to ``part`` (or restarts it); raises _Interrupted when cut short."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # The range starts at or past the end: the previous run got everything, or .part is junk.
            _, total = _parse_content_range(exc.headers.get("Content-Range"))
            if total == have:
                return
            part.unlink()
            raise _Interrupted(f"server refused resuming at byte {have}; restarting") from exc
        raise
    with response:
        if response.status == 206:
            first, total = _parse_content_range(response.headers.get("Content-Range"))
            if first != have:
                part.unlink()
                raise _Interrupted(f"server resumed at byte {first}, not {have}; restarting")
            mode = "ab"
        else:  # 200: the server ignored the Range header, so the body is the whole file
            have, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
        done = have
        with part.open(mode) as handle:
            try:
                while block := response.read(chunk):
                    handle.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
            except (OSError, http.client.HTTPException) as exc:  # reset, read timeout, IncompleteRead
                raise _Interrupted(f"connection lost after {done} bytes ({exc})") from exc
    if total is not None and done != total:
        raise _Interrupted(f"connection closed after {done} of {total} bytes")


def download(
    url: str,
    dest: Path,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 30,
    chunk: int = 1 << 20,
    progress: Progress | None = None,
    hint: str = "",
    retries: int = 3,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> Path:
    """Download ``url`` to ``dest`` unless a verified copy is already there; return ``dest``.

    Bytes go to ``dest.part`` and resume from it with an HTTP Range request (restarting when the
    server ignores Range); ``dest`` appears only after the pinned checksums (if any) match, together
    with ``dest.sha256``. A dropped connection is resumed up to ``retries`` times within the call and
    otherwise left in ``.part`` for the next call. ``timeout`` bounds each read, ``connect_timeout``
    each connection attempt; ``hint`` is appended to network errors (how to use a local copy instead).
    """
    dest = Path(dest)
    if is_verified(dest, md5, sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)  # present but unverified: never trusted
    part = dest.with_name(dest.name + ".part")
    opener = _opener(connect_timeout)
    hint_text = f" ({hint})" if hint else ""
    for attempt in range(retries + 1):
        try:
            _fetch_once(opener, url, part, timeout, chunk, progress)
            break
        except _Interrupted as exc:
            if attempt == retries:
                raise DownloadError(
                    f"download of {url} interrupted: {exc}; run again to resume from {part}{hint_text}"
                ) from exc
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}{hint_text}") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            kept = f" The partial {part} is kept and resumed next time." if part.exists() else ""
            raise DownloadError(
                f"cannot reach {url} ({reason}); check the network{hint_text}.{kept}"
            ) from exc
    got_md5, got_sha = file_digests(part)
    problem = _mismatch(got_md5, got_sha, md5, sha256)
    if problem is not None:
        part.unlink()
        raise DownloadError(f"checksum mismatch for {url}: {problem}; removed {part}")
    _write_sidecar(dest, got_sha)
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------- extraction


def _safe_members(tar: tarfile.TarFile, archive: Path, dest: Path) -> Iterable[tarfile.TarInfo]:
    """Refuse absolute paths, ``..`` and links (only used where tarfile has no ``filter="data"``)."""
    for member in tar.getmembers():
        target = (dest / member.name).resolve()
        if member.islnk() or member.issym() or not target.is_relative_to(dest.resolve()):
            raise DownloadError(f"{archive}: refusing member {member.name!r} (outside the target or a link)")
        yield member


def _extract_all(archive: Path, into: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, filter="data")
            else:  # Python without PEP 706 backport
                tar.extractall(into, members=_safe_members(tar, archive, into))
    except getattr(tarfile, "FilterError", ()) as exc:
        raise DownloadError(f"{archive}: refusing unsafe member ({exc})") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DownloadError(f"{archive}: cannot extract ({exc}); delete it to download again") from exc


def extract_archive(archive: Path, dest_dir: Path, marker_name: str, member_root: str | None = None) -> Path:
    """Extract ``archive`` (tar.gz / tar.bz2) so that ``dest_dir`` exists only when complete.

    Extraction goes to a temporary sibling folder; ``marker_name`` is written inside it and the folder
    is renamed to ``dest_dir``. A ``dest_dir`` without the marker (an interrupted earlier run, a stray
    copy) is removed and redone. ``member_root`` selects the folder inside the archive that becomes
    ``dest_dir`` (e.g. ``LibriSpeech/test-clean``); without it the whole archive does.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    if (dest_dir / marker_name).is_file():
        return dest_dir
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest_dir.parent.glob(f".{dest_dir.name}.extracting-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.extracting-", dir=dest_dir.parent))
    try:
        _extract_all(archive, tmp)
        tree = tmp / member_root if member_root else tmp
        if not tree.is_dir():
            raise DownloadError(f"{archive}: has no folder {member_root!r}")
        (tree / marker_name).write_text(f"extracted from {archive.name}\n", encoding="utf-8")
        if dest_dir.exists():
            shutil.rmtree(dest_dir)
        os.replace(tree, dest_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir


# --------------------------------------------------------------------------------------- datasets


def fetch_dataset(
    name: str,
    download_dir: Path,
    parts: Iterable[str] | None = None,
    progress: Progress | None = None,
    timeout: float = 30,
    keep_archives: bool = True,
) -> Path:
    """Download and extract the official archives of a dataset; return the root the readers take.

    The root holds ``LibriSpeech/<subset>`` or ``cmu_us_<spk>_arctic/`` folders. ``parts`` picks
    subsets/speakers (default: all the pipeline uses). Archives live in ``download_dir/archives``.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    source = DATASETS[name]
    wanted = list(parts) if parts is not None else list(source.default_parts)
    unknown = sorted(set(wanted) - set(source.archives))
    if unknown:
        raise KeyError(f"{name}: unknown part(s) {unknown}; known: {sorted(source.archives)}")
    download_dir = Path(download_dir)
    root = download_dir / name
    for part in wanted:
        archive = source.archives[part]
        dest_dir = root / archive.member_root
        marker = f".extracted-{archive.filename}"
        if (dest_dir / marker).is_file():
            continue
        path = download(
            archive.url,
            download_dir / "archives" / archive.filename,
            md5=archive.md5,
            sha256=archive.sha256,
            timeout=timeout,
            progress=progress,
            hint=source.hint,
        )
        extract_archive(path, dest_dir, marker, member_root=archive.member_root)
        if not keep_archives:
            path.unlink()
            _sidecar(path).unlink(missing_ok=True)
    return root
