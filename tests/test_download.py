"""Downloads against a local HTTP server (Range support, dropped connections) and safe extraction."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nacbench.data import download as dl
from nacbench.data.download import (
    Archive,
    DatasetSource,
    DownloadError,
    download,
    extract_archive,
    fetch_dataset,
)
from nacbench.data.librispeech import read_librispeech

HINT = "set data.librispeech.root to a local copy"


@dataclass
class ServerState:
    """What the test server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    drop_after: int | None = None  # cut the next response after this many body bytes
    ignore_range: bool = False


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]  # the test server's own state, set by the fixture below
        range_header = self.headers.get("Range")
        state.requests.append((self.path, range_header))
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and not state.ignore_range:
            start = int(match[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.drop_after is not None:
            body, state.drop_after = body[: state.drop_after], None
            self.close_connection = True
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = ServerState()  # type: ignore[attr-defined]  # the test server's own state, read by the handler
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.state  # type: ignore[attr-defined]  # the test server's own state, set above
    finally:
        httpd.shutdown()
        httpd.server_close()


def make_tar(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def payload(n: int = 200_000) -> bytes:
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------ download


def test_download_verifies_and_records(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    data = payload()
    state.files["/a.bin"] = data
    seen: list[tuple[int, int | None]] = []
    dest = download(
        f"{base}/a.bin",
        tmp_path / "a.bin",
        md5=hashlib.md5(data).hexdigest(),
        chunk=65536,
        progress=lambda *a: seen.append(a),
    )
    assert dest.read_bytes() == data
    assert (tmp_path / "a.bin.sha256").read_text() == f"{sha256(data)}  a.bin\n"
    assert not (tmp_path / "a.bin.part").exists()
    assert seen[-1] == (len(data), len(data))

    # a second run downloads nothing
    download(f"{base}/a.bin", dest, sha256=sha256(data))
    assert len(state.requests) == 1


def test_checksum_mismatch_is_an_error(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    state.files["/a.bin"] = payload()
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        download(f"{base}/a.bin", tmp_path / "a.bin", sha256=wrong)
    message = str(info.value)
    assert f"{base}/a.bin" in message and wrong in message and sha256(payload()) in message
    assert list(tmp_path.iterdir()) == []  # neither the final name nor the bad .part


def test_interrupted_download_resumes(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    data = payload()
    state.files["/a.bin"] = data
    state.drop_after = 70_000
    with pytest.raises(DownloadError, match="interrupted.*run again to resume"):
        download(f"{base}/a.bin", tmp_path / "a.bin", sha256=sha256(data), retries=0)
    assert (tmp_path / "a.bin.part").stat().st_size == 70_000
    assert not (tmp_path / "a.bin").exists()  # a half file is never given the final name

    download(f"{base}/a.bin", tmp_path / "a.bin", sha256=sha256(data), retries=0)
    assert state.requests == [("/a.bin", None), ("/a.bin", "bytes=70000-")]
    assert (tmp_path / "a.bin").read_bytes() == data


def test_dropped_connection_is_retried_within_a_call(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    data = payload()
    state.files["/a.bin"] = data
    state.drop_after = 12_345
    download(f"{base}/a.bin", tmp_path / "a.bin", sha256=sha256(data))
    assert [r for _, r in state.requests] == [None, "bytes=12345-"]
    assert (tmp_path / "a.bin").read_bytes() == data


def test_server_ignoring_range_restarts(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    data = payload()
    state.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(b"stale bytes from elsewhere")
    state.ignore_range = True
    download(f"{base}/a.bin", tmp_path / "a.bin", sha256=sha256(data))
    assert state.requests[0][1] == "bytes=26-"
    assert (tmp_path / "a.bin").read_bytes() == data


def test_complete_part_is_finished_without_body(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    """A run that stopped after the last byte but before the rename: the server answers 416."""
    base, state = server
    data = payload()
    state.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(data)
    download(f"{base}/a.bin", tmp_path / "a.bin", sha256=sha256(data))
    assert (tmp_path / "a.bin").read_bytes() == data
    assert state.requests == [("/a.bin", f"bytes={len(data)}-")]  # answered 416, nothing re-sent


def test_unverified_existing_file_is_replaced(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, state = server
    data = payload()
    state.files["/a.bin"] = data
    (tmp_path / "a.bin").write_bytes(b"half")
    download(f"{base}/a.bin", tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == data
    # a hand-placed copy that matches the pinned checksum is accepted without a request
    (tmp_path / "b.bin").write_bytes(data)
    download(f"{base}/b.bin", tmp_path / "b.bin", sha256=sha256(data))
    assert len(state.requests) == 1
    assert (tmp_path / "b.bin.sha256").is_file()


def test_http_error_names_url(tmp_path: Path, server: tuple[str, ServerState]) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match=rf"{re.escape(base)}/missing.*HTTP 404.*{HINT}"):
        download(f"{base}/missing", tmp_path / "m.bin", hint=HINT)


def test_no_network_fails_fast_with_hint(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    start = time.monotonic()
    with pytest.raises(DownloadError, match=f"cannot reach.*{HINT}"):
        download(f"http://127.0.0.1:{port}/test-clean.tar.gz", tmp_path / "x.tar.gz", hint=HINT)
    assert time.monotonic() - start < 5
    assert not (tmp_path / "x.tar.gz").exists()


def test_connect_timeout_is_short_and_read_timeout_long(
    server: tuple[str, ServerState], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = server
    used: list[float | None] = []
    real = socket.create_connection

    def spy(
        address: tuple[str, int], timeout: float | None = None, *args: object, **kwargs: object
    ) -> socket.socket:
        used.append(timeout)
        return real(address, timeout, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spy)
    conn = dl._HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30, connect_timeout=0.25)
    conn.connect()
    try:
        assert used == [0.25]
        assert conn.sock is not None and conn.sock.gettimeout() == 30
    finally:
        conn.close()


# ------------------------------------------------------------------------------------ extraction


def test_extract_archive_atomic_with_marker(tmp_path: Path) -> None:
    archive = tmp_path / "t.tar.bz2"
    archive.write_bytes(make_tar({"top/sub/a.txt": b"A", "top/b.txt": b"B"}, mode="w:bz2"))
    dest = tmp_path / "out" / "sub"
    dest.mkdir(parents=True)
    (dest / "leftover-from-interrupted-run").write_text("x")
    assert extract_archive(archive, dest, ".done", member_root="top/sub") == dest
    assert sorted(p.name for p in dest.iterdir()) == [".done", "a.txt"]
    assert [p.name for p in dest.parent.iterdir()] == ["sub"]  # no temporary folder left

    archive.write_bytes(b"no longer a tar")  # a finished extraction is not redone
    extract_archive(archive, dest, ".done", member_root="top/sub")
    assert (dest / "a.txt").read_text() == "A"


def test_extract_refuses_escaping_members(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(make_tar({"ok.txt": b"fine", "../escaped.txt": b"evil"}))
    with pytest.raises(DownloadError, match="evil.tar.gz"):
        extract_archive(archive, tmp_path / "out", ".done")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out").exists()


def test_extract_corrupt_archive_names_it(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(make_tar({"a.txt": b"A" * 1000})[:40])
    with pytest.raises(DownloadError, match="bad.tar.gz"):
        extract_archive(archive, tmp_path / "out", ".done")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------ datasets


def test_registry_has_the_official_sources() -> None:
    libri = dl.DATASETS["librispeech"].archives["test-clean"]
    assert libri.url == "https://www.openslr.org/resources/12/test-clean.tar.gz"
    assert libri.md5 == "32fa31d27d2e1cad72775fee3f4849a9"
    arctic = dl.DATASETS["cmu_arctic"].archives
    assert len(arctic) == 18
    assert arctic["bdl"].url == "http://festvox.org/cmu_arctic/packed/cmu_us_bdl_arctic.tar.bz2"
    assert all(a.sha256 is not None and len(a.sha256) == 64 for a in arctic.values())


def _flac_bytes() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(1600), 16_000, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def test_fetch_dataset_end_to_end(
    tmp_path: Path, server: tuple[str, ServerState], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, state = server
    tar = make_tar(
        {
            "LibriSpeech/README.TXT": b"readme",
            "LibriSpeech/test-clean/19/198/19-198-0000.flac": _flac_bytes(),
            "LibriSpeech/test-clean/19/198/19-198.trans.txt": b"19-198-0000 HELLO WORLD\n",
        }
    )
    state.files["/test-clean.tar.gz"] = tar
    archive = Archive(f"{base}/test-clean.tar.gz", "LibriSpeech/test-clean", sha256=sha256(tar))
    source = DatasetSource("librispeech", {"test-clean": archive}, hint=HINT, default_parts=("test-clean",))
    monkeypatch.setitem(dl.DATASETS, "librispeech", source)

    root = fetch_dataset("librispeech", tmp_path / "dl")
    utts, skips = read_librispeech(root)
    assert [(u.utt_id, u.transcript) for u in utts] == [("19-198-0000", "HELLO WORLD")]
    assert (tmp_path / "dl" / "archives" / "test-clean.tar.gz.sha256").is_file()

    assert fetch_dataset("librispeech", tmp_path / "dl") == root
    assert len(state.requests) == 1  # the second run neither downloads nor re-extracts
    with pytest.raises(KeyError, match="unknown part"):
        fetch_dataset("librispeech", tmp_path / "dl", parts=["test-other"])
