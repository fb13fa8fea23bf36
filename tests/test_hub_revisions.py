"""Pinned hub revisions (nacbench.codecs.revisions) against a fake Hugging Face cache in tmp_path:
the pinned commit is found, another cached commit is refused, a missing one names the download command,
the lock file records a first download, the commit reaches weights_id, and the schema refuses a
revision that is not a commit."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from nacbench.codecs import revisions
from nacbench.codecs.revisions import (
    LOCKED,
    PINNED,
    HubRevisionMismatchError,
    HubRevisionMissingError,
    check_revision,
    hub_file,
    hub_pin,
    read_lock,
    record_revision,
)
from nacbench.config import schema_errors

REPO = Path(__file__).resolve().parents[1]
PINNED_COMMIT = "1" * 40
OTHER_COMMIT = "2" * 40


def fake_repo(cache: Path, repo_id: str, commit: str, files: dict[str, str], main: bool = True) -> Path:
    """``models--org--name/snapshots/<commit>/<files>`` (+ ``refs/main`` -> commit), as the hub lays it out."""
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, text in files.items():
        (snapshot / name).write_text(text)
    if main:
        (folder / "refs").mkdir(exist_ok=True)
        (folder / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_the_pinned_commit_is_found_in_the_cache(offline_cache: Path) -> None:
    fake_repo(offline_cache, "org/codec", OTHER_COMMIT, {"weights.bin": "new"})
    fake_repo(offline_cache, "org/codec", PINNED_COMMIT, {"weights.bin": "pinned"}, main=False)
    pin = hub_pin("org/codec", PINNED_COMMIT, option="codecs.x.revision")
    path = hub_file(pin, "weights.bin")
    assert path.read_text() == "pinned" and revisions.commit_of(path) == PINNED_COMMIT


def test_a_different_cached_commit_is_refused(offline_cache: Path) -> None:
    """refs/main (what a plain download got) is at another commit: refused, naming both and the fixes."""
    fake_repo(offline_cache, "org/codec", OTHER_COMMIT, {"weights.bin": "new"})
    pin = hub_pin("org/codec", PINNED_COMMIT, option="codecs.x.revision")
    with pytest.raises(HubRevisionMismatchError) as err:
        hub_file(pin, "weights.bin")
    message = str(err.value)
    assert f"codecs.x.revision: org/codec is pinned to {PINNED_COMMIT}" in message
    assert f"holds it only at {OTHER_COMMIT}" in message
    assert f"`huggingface-cli download org/codec --revision {PINNED_COMMIT}`" in message
    # the config asking for the cached commit runs it
    assert hub_file(hub_pin("org/codec", OTHER_COMMIT), "weights.bin").read_text() == "new"


def test_a_download_at_another_commit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online, the files a download gives must come from the pinned commit's snapshot."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    elsewhere = fake_repo(tmp_path / "hub", "org/codec", OTHER_COMMIT, {"weights.bin": "new"})
    monkeypatch.setattr("huggingface_hub.hf_hub_download", lambda *a, **k: str(elsewhere / "weights.bin"))
    with pytest.raises(HubRevisionMismatchError, match=f"come from {OTHER_COMMIT}; refusing them"):
        hub_file(hub_pin("org/codec", PINNED_COMMIT), "weights.bin")


def test_missing_offline_names_the_download_command(offline_cache: Path) -> None:
    with pytest.raises(HubRevisionMissingError) as err:
        hub_file(hub_pin("org/codec", PINNED_COMMIT, option="codecs.x.revision"), "weights.bin")
    assert "downloading is off (HF_HUB_OFFLINE)" in str(err.value)
    assert f"`huggingface-cli download org/codec --revision {PINNED_COMMIT}`" in str(err.value)


def test_the_first_download_is_recorded_and_then_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``locked`` with no entry: main is downloaded and its commit written to the lock file; later runs
    load that commit and refuse the newer main."""
    lock = tmp_path / "hub-revisions.lock.yaml"
    monkeypatch.setenv(revisions.LOCK_ENV, str(lock))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    first = fake_repo(tmp_path / "hub", "org/codec", PINNED_COMMIT, {"weights.bin": "v1"})
    asked: list[str] = []

    def download(repo_id: str, filename: str, revision: str, **kwargs: object) -> str:
        asked.append(revision)
        return str(first / filename)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    pin = hub_pin("org/codec", LOCKED)
    assert (pin.revision, pin.commit, pin.record) == ("main", None, True)
    hub_file(pin, "weights.bin")
    assert asked == ["main"] and read_lock() == {"org/codec": PINNED_COMMIT}
    assert lock.read_text().startswith("# Hub commits recorded")
    # a later run: pinned to the recorded commit, whatever main is now
    later = hub_pin("org/codec", None)
    assert (later.revision, later.commit, later.record) == (PINNED_COMMIT, PINNED_COMMIT, False)
    with pytest.raises(HubRevisionMismatchError, match="repository changed between downloads"):
        record_revision("org/codec", OTHER_COMMIT)
    record_revision("other/repo", OTHER_COMMIT)  # entries add up
    assert read_lock() == {"org/codec": PINNED_COMMIT, "other/repo": OTHER_COMMIT}


def test_offline_a_cached_main_counts_as_the_first_download(offline_cache: Path) -> None:
    fake_repo(offline_cache, "org/codec", OTHER_COMMIT, {"weights.bin": "cached"})
    pin = hub_pin("org/codec", LOCKED)
    assert pin.commit == OTHER_COMMIT and pin.record
    hub_file(pin, "weights.bin")
    assert read_lock() == {"org/codec": OTHER_COMMIT}


def test_default_pins_and_floating_revisions(offline_cache: Path) -> None:
    assert hub_pin("kyutai/mimi").commit == PINNED["kyutai/mimi"]
    assert all(revisions.COMMIT_PATTERN.match(c) for c in PINNED.values())
    with pytest.raises(ValueError, match="needs `revision_floating: true`"):
        hub_pin("org/codec", "main", option="codecs.x.revision")
    floating = hub_pin("org/codec", "main", floating=True)
    assert (floating.revision, floating.commit, floating.record) == ("main", None, False)
    with pytest.raises(HubRevisionMissingError, match="--revision main"):
        revisions.check_cached(floating)
    fake_repo(offline_cache, "org/codec", OTHER_COMMIT, {"weights.bin": "x"})
    assert revisions.commit_of(hub_file(floating, "weights.bin")) == OTHER_COMMIT


def test_neucodec_weights_id_records_the_commit(offline_cache: Path) -> None:
    from nacbench.codecs.neucodec import _checkpoint_path, _semantic_pin

    fake_repo(offline_cache, "neuphonic/neucodec", PINNED_COMMIT, {"pytorch_model.bin": "x"})
    path, weights_id = _checkpoint_path("neucodec", None, "codecs.n.weights", PINNED_COMMIT)
    assert weights_id == f"neuphonic/neucodec@{PINNED_COMMIT}" and path.name == "pytorch_model.bin"
    # no revision: the default pin, which this cache does not hold
    with pytest.raises(HubRevisionMismatchError, match=PINNED["neuphonic/neucodec"]):
        _checkpoint_path("neucodec", None, "codecs.n.weights")
    semantic = _semantic_pin("facebook/w2v-bert-2.0", None, False, "codecs.n.semantic_revision")
    assert (
        semantic is not None and semantic.label == f"facebook/w2v-bert-2.0@{PINNED['facebook/w2v-bert-2.0']}"
    )


def test_transformers_validation_refuses_another_cached_commit(offline_cache: Path) -> None:
    from nacbench.codecs import static_layout
    from nacbench.codecs.hf_layout import ModelNotCachedError

    fake_repo(offline_cache, "someone/mimi", OTHER_COMMIT, {"config.json": "{}"})
    options = {"adapter": "transformers", "model": "someone/mimi", "revision": PINNED_COMMIT}
    with pytest.raises(ModelNotCachedError, match=f"holds it only at {OTHER_COMMIT}"):
        static_layout("transformers", options)
    with pytest.raises(ValueError, match="needs `revision_floating: true`"):
        static_layout("transformers", {**options, "revision": "main"})


def test_faster_whisper_refuses_another_cached_commit(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    from nacbench.asr.backends import FasterWhisper, faster_whisper_repo

    assert faster_whisper_repo("large-v3") == "Systran/faster-whisper-large-v3"
    fake_repo(tmp_path, "Systran/faster-whisper-large-v3", OTHER_COMMIT, {"model.bin": "x"})
    with pytest.raises(HubRevisionMismatchError, match=PINNED["Systran/faster-whisper-large-v3"]):
        FasterWhisper("large-v3", device="cpu", download_root=tmp_path, local_files_only=True)


def test_a_locked_pin_takes_main_from_the_loaders_own_offline_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faster-whisper's local_files_only and download_root, not only HF_HUB_OFFLINE and HF_HUB_CACHE."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    fake_repo(tmp_path, "org/asr", OTHER_COMMIT, {"model.bin": "x"})
    assert hub_pin("org/asr", "locked").commit is None  # online, default cache: main is downloaded
    pin = hub_pin("org/asr", "locked", offline=True, cache=tmp_path)
    assert pin.commit == OTHER_COMMIT and pin.record


def test_check_revision() -> None:
    check_revision(None)
    check_revision(PINNED_COMMIT)
    check_revision(LOCKED)
    check_revision("v1.0", floating=True)
    for bad in ("main", PINNED_COMMIT[:-1], "ABCDEF" + "0" * 34, "", 1):
        with pytest.raises(ValueError):
            check_revision(bad)


@pytest.mark.parametrize("bad", ["main", "1" * 39, "A" * 40, "", 40])
def test_the_schema_rejects_a_malformed_revision(bad: object) -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert schema_errors(config) == []
    for codec, field in (("mimi", "revision"), ("neucodec", "semantic_revision")):
        broken = copy.deepcopy(config)
        broken["codecs"][codec][field] = bad
        assert any(e.startswith(f"codecs.{codec}.{field}:") for e in schema_errors(broken)), (codec, field)
    broken = copy.deepcopy(config)
    broken["study_b"]["asr"].update(backend="faster-whisper", revision=bad)
    assert any(e.startswith("study_b.asr.revision:") for e in schema_errors(broken))
    if isinstance(bad, str) and bad:  # a branch or tag name passes with the explicit opt-in
        floating = copy.deepcopy(config)
        floating["codecs"]["mimi"].update(revision=bad, revision_floating=True)
        assert schema_errors(floating) == []


def test_every_hub_model_in_config_yaml_names_its_revision() -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    hub = {
        name: o
        for name, o in config["codecs"].items()
        if o["adapter"] in {"neucodec", "stablecodec", "transformers"}
    }
    assert set(hub) == {
        *("neucodec", "distill-neucodec", "stablecodec", "mimi", "xcodec2"),
        *("dac-hf", "encodec-hf", "neucodec-hf"),  # the Transformers backends of the package codecs
    }
    for name, options in hub.items():
        assert options["revision"] == LOCKED or revisions.COMMIT_PATTERN.match(options["revision"]), name
    for name in ("neucodec", "distill-neucodec", "stablecodec", "mimi", "xcodec2"):
        options = hub[name]
        assert options["revision"] == PINNED.get(options.get("weights") or options["model"], LOCKED), name
    # neuphonic/neucodec's pinned commit holds the package layout: the Transformers one is locked apart
    assert hub["neucodec-hf"]["revision"] == LOCKED
    for name in ("neucodec", "distill-neucodec"):
        assert revisions.COMMIT_PATTERN.match(config["codecs"][name]["semantic_revision"]), name


def test_the_schema_takes_an_asr_revision_for_faster_whisper_only() -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    asr = config["study_b"]["asr"]
    asr.update(backend="faster-whisper", revision=PINNED_COMMIT)
    assert schema_errors(config) == []
    asr["backend"] = "openai-whisper"  # downloads by URL, checked against its sha256: no revision
    assert any(e.startswith("study_b.asr:") for e in schema_errors(config))
