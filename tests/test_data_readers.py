"""Dataset readers, manifests and shards: on the real ../shared corpus and on broken copies made here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from nacbench.audio import SCORING_RATE
from nacbench.data.arctic import ARCTIC_SPEAKERS, read_arctic, select_ids
from nacbench.data.audio_folder import read_audio_folder
from nacbench.data.download import DATASETS
from nacbench.data.librispeech import read_librispeech
from nacbench.data.manifest import (
    MANIFEST_COLUMNS,
    DatasetError,
    Skip,
    Utterance,
    probe_audio,
    probe_utterance,
    read_manifest,
    select_shard,
    write_manifest,
    write_skips,
)
from nacbench.data.readers import READERS

SHARED_ARCTIC_COUNTS = {"aew": 5, "axb": 3, "bdl": 12, "slt": 12}


# ------------------------------------------------------------------------------------ fake corpora


def write_tone(path: Path, seconds: float = 0.1, rate: int = 16_000, channels: int = 1) -> Path:
    """A short noise burst (content is irrelevant; readers only look at structure and headers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    wav = 0.1 * rng.standard_normal((int(seconds * rate), channels))
    sf.write(str(path), wav, rate, subtype="PCM_16")
    return path


def cut_tail(path: Path, keep: float = 0.6) -> None:
    """Truncate a file to a fraction of its bytes, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def make_librispeech(root: Path, chapters: dict[tuple[str, str], int] | None = None) -> Path:
    """``root/LibriSpeech/test-clean/<spk>/<chap>/`` with flacs and a matching transcript file."""
    chapters = chapters or {("19", "198"): 3, ("26", "495"): 2}
    for (spk, chap), n in chapters.items():
        folder = root / "LibriSpeech" / "test-clean" / spk / chap
        lines = []
        for i in range(n):
            utt = f"{spk}-{chap}-{i:04d}"
            write_tone(folder / f"{utt}.flac")
            lines.append(f"{utt} WORDS OF UTTERANCE {i}")
        (folder / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def make_arctic(root: Path, n_wavs: dict[str, int], n_prompts: int = 30) -> Path:
    """``root/cmu_us_<spk>_arctic/`` with more prompts than wavs, like the shared copy."""
    for spk, n in n_wavs.items():
        folder = root / f"cmu_us_{spk}_arctic"
        prompts = [
            f'( arctic_a{i:04d} "Prompt number {i}, said by "{spk}"." )' for i in range(1, n_prompts + 1)
        ]
        (folder / "etc").mkdir(parents=True)
        (folder / "etc" / "txt.done.data").write_text("\n".join(prompts) + "\n")
        for i in range(1, n + 1):
            write_tone(folder / "wav" / f"arctic_a{i:04d}.wav", seconds=0.05)
    return root


def test_probe_audio_detects_truncation(tmp_path: Path) -> None:
    flac = write_tone(tmp_path / "a.flac", seconds=1.0)
    wav = write_tone(tmp_path / "b.wav", seconds=1.0)
    assert probe_audio(flac) == (16_000, 16_000)
    assert probe_audio(wav, check="tail") == (16_000, 16_000)
    for path in (flac, wav):
        cut_tail(path, 0.9)
        for check in ("full", "tail"):
            with pytest.raises(DatasetError, match=rf"{path.name}: truncated"):
                probe_audio(path, check=check)


def test_probe_audio_detects_corruption_inside_flac(tmp_path: Path) -> None:
    flac = write_tone(tmp_path / "a.flac", seconds=2.0)
    data = bytearray(flac.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    flac.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="a.flac"):
        probe_audio(flac, check="full")


def test_every_reader_checks_a_file_through_probe_utterance(tmp_path: Path) -> None:
    good = write_tone(tmp_path / "s1" / "good.flac", seconds=0.5)
    utt = probe_utterance("good", "s1", good, "hello", "full")
    assert utt == Utterance("good", "s1", str(good.resolve()), 0.5, SCORING_RATE, "hello")
    fast = write_tone(tmp_path / "s1" / "fast.flac", seconds=0.5, rate=2 * SCORING_RATE)
    skip = probe_utterance("fast", "s1", fast, "", "tail")
    assert skip == Skip("fast", str(fast), f"sample rate {2 * SCORING_RATE} Hz, expected {SCORING_RATE} Hz")
    # each reader records a wrong-rate file the same way: the file left out under on_error: skip
    make_arctic(tmp_path / "arctic", {"bdl": 3})
    write_tone(tmp_path / "arctic" / "cmu_us_bdl_arctic" / "wav" / "arctic_a0002.wav", 0.05, 2 * SCORING_RATE)
    utts, skips, _ = read_arctic(tmp_path / "arctic", ["bdl"], 3, seed=0, on_error="skip")
    assert [s.reason for s in skips] == [skip.reason]
    assert len(utts) == 2


# ------------------------------------------------------------------------------------ LibriSpeech


def test_librispeech_shared_corpus(shared_dir: Path) -> None:
    utts, skips = read_librispeech(shared_dir / "corpus")
    assert skips == []
    assert [u.utt_id for u in utts] == [
        "1089-134686-0000",
        "1089-134686-0001",
        "1089-134691-0000",
        "1089-134691-0001",
        "61-70968-0002",
    ]
    first = utts[0]
    assert first.speaker == "1089"
    assert first.sample_rate == 16_000
    assert first.duration_s == pytest.approx(166_960 / 16_000)
    assert first.transcript.startswith("HE HOPED THERE WOULD BE STEW FOR DINNER")
    assert all(Path(u.path).is_absolute() and Path(u.path).is_file() for u in utts)


@pytest.mark.parametrize("below", ["", "LibriSpeech", "LibriSpeech/test-clean"])
def test_librispeech_root_forms(tmp_path: Path, below: str) -> None:
    make_librispeech(tmp_path)
    utts, _ = read_librispeech(tmp_path / below if below else tmp_path)
    assert len(utts) == 5


def test_librispeech_missing_subset_names_tried_paths(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"LibriSpeech/test-clean.*test-clean"):
        read_librispeech(tmp_path / "nowhere")


def _break_truncated(root: Path) -> Path:
    path = root / "LibriSpeech/test-clean/19/198/19-198-0001.flac"
    write_tone(path, seconds=1.0)
    cut_tail(path)
    return path


def _break_unreadable(root: Path) -> Path:
    path = root / "LibriSpeech/test-clean/19/198/19-198-0001.flac"
    path.write_bytes(b"this is not audio" * 10)
    return path


def _break_transcript_without_audio(root: Path) -> Path:
    path = root / "LibriSpeech/test-clean/19/198/19-198-0001.flac"
    path.unlink()
    return path


def _break_rate(root: Path) -> Path:
    return write_tone(root / "LibriSpeech/test-clean/19/198/19-198-0001.flac", rate=8_000)


def _break_stereo(root: Path) -> Path:
    return write_tone(root / "LibriSpeech/test-clean/19/198/19-198-0001.flac", channels=2)


@pytest.mark.parametrize(
    ("breaker", "reason"),
    [
        (_break_truncated, "truncated"),
        (_break_unreadable, "cannot read"),
        (_break_transcript_without_audio, "no audio"),
        (_break_rate, "8000 Hz, expected 16000"),
        (_break_stereo, "2 channels"),
    ],
)
def test_librispeech_bad_input(tmp_path: Path, breaker, reason: str) -> None:
    make_librispeech(tmp_path)
    bad = breaker(tmp_path)
    with pytest.raises(DatasetError, match=reason) as info:
        read_librispeech(tmp_path)
    assert str(bad) in str(info.value)

    utts, skips = read_librispeech(tmp_path, on_error="skip")
    assert "19-198-0001" not in {u.utt_id for u in utts}
    assert len(utts) == 4
    assert [(s.utt_id, s.path) for s in skips] == [("19-198-0001", str(bad))]
    assert reason in skips[0].reason


def test_librispeech_audio_without_transcript_gets_an_empty_one(tmp_path: Path) -> None:
    """Before: audio without text stopped the run, although Study A needs no text. Now a missing line
    and a missing transcript file both give empty transcripts; the other utterances keep theirs."""
    make_librispeech(tmp_path)
    chapter = tmp_path / "LibriSpeech/test-clean/19/198"
    trans = chapter / "19-198.trans.txt"
    trans.write_text("".join(line + "\n" for line in trans.read_text().splitlines() if "-0001 " not in line))
    (tmp_path / "LibriSpeech/test-clean/26/495/26-495.trans.txt").unlink()
    utts, skips = read_librispeech(tmp_path)
    assert skips == []
    texts = {u.utt_id: u.transcript for u in utts}
    assert len(texts) == 5
    assert {u for u, t in texts.items() if not t} == {"19-198-0001", "26-495-0000", "26-495-0001"}
    assert texts["19-198-0002"] == "WORDS OF UTTERANCE 2"


def test_librispeech_empty_is_an_error_even_when_skipping(tmp_path: Path) -> None:
    (tmp_path / "LibriSpeech" / "test-clean").mkdir(parents=True)
    for on_error in ("error", "skip"):
        with pytest.raises(DatasetError, match="no usable utterances"):
            read_librispeech(tmp_path, on_error=on_error)
    make_librispeech(tmp_path, {("19", "198"): 1})
    only_file = tmp_path / "LibriSpeech/test-clean/19/198/19-198-0000.flac"
    only_file.write_bytes(b"junk")
    with pytest.raises(DatasetError, match=r"no usable utterances \(1 skipped\)"):
        read_librispeech(tmp_path, on_error="skip")


def test_on_error_policy_is_checked(tmp_path: Path) -> None:
    make_librispeech(tmp_path)
    with pytest.raises(ValueError, match="on_error"):
        read_librispeech(tmp_path, on_error="ignore")


# ------------------------------------------------------------------------------------ CMU-Arctic


def test_arctic_shared_corpus_takes_all_and_logs(shared_dir: Path) -> None:
    root = shared_dir / "corpus" / "cmu_arctic"
    utts, skips, log = read_arctic(root, ["bdl", "slt", "aew", "axb"], utterances_per_speaker=100, seed=0)
    assert skips == []
    assert len(utts) == 32
    counts = pd.Series([u.speaker for u in utts]).value_counts().to_dict()
    assert counts == SHARED_ARCTIC_COUNTS
    assert len(log) == 4
    for spk, n in SHARED_ARCTIC_COUNTS.items():
        assert any(line.startswith(f"{spk}: {n} utterances available, 100 requested") for line in log)
    by_id = {u.utt_id: u for u in utts}
    assert by_id["bdl_arctic_a0001"].transcript == "Author of the danger trail, Philip Steels, etc."
    assert by_id["aew_arctic_b0539"].sample_rate == 16_000
    assert [u.utt_id for u in utts] == sorted(by_id)


def test_arctic_selection_is_fixed_and_order_independent(tmp_path: Path) -> None:
    root = make_arctic(tmp_path, {"bdl": 10, "slt": 10})
    first, _, log = read_arctic(root, ["bdl", "slt"], utterances_per_speaker=3, seed=0)
    again, _, _ = read_arctic(root, ["slt", "bdl"], utterances_per_speaker=3, seed=0)
    alone, _, _ = read_arctic(root, ["bdl"], utterances_per_speaker=3, seed=0)
    assert log == []
    assert first == again
    assert [u for u in first if u.speaker == "bdl"] == alone
    # computed once with nacbench.seeds.arctic_rng (issue 11 moved it onto derive_rng); a change here
    # changes the study's data
    assert [u.utt_id for u in first] == [
        "bdl_arctic_a0001",
        "bdl_arctic_a0006",
        "bdl_arctic_a0010",
        "slt_arctic_a0001",
        "slt_arctic_a0005",
        "slt_arctic_a0008",
    ]
    other_seed, _, _ = read_arctic(root, ["bdl", "slt"], utterances_per_speaker=3, seed=1)
    assert [u.utt_id for u in other_seed] != [u.utt_id for u in first]


def test_select_ids_ignores_listing_order() -> None:
    ids = [f"arctic_a{i:04d}" for i in range(1, 51)]
    assert select_ids(ids, 7, 3, "rms") == select_ids(ids[::-1], 7, 3, "rms")
    assert len(set(select_ids(ids, 7, 3, "rms"))) == 7


def test_arctic_has_the_release_speakers() -> None:
    assert len(ARCTIC_SPEAKERS) == 18


def test_arctic_prompt_with_inner_quotes(tmp_path: Path) -> None:
    root = make_arctic(tmp_path, {"bdl": 1})
    utts, _, _ = read_arctic(root, ["bdl"], utterances_per_speaker=1)
    assert utts[0].transcript == 'Prompt number 1, said by "bdl".'


def test_arctic_wav_without_prompt(tmp_path: Path) -> None:
    root = make_arctic(tmp_path, {"bdl": 3})
    stray = write_tone(root / "cmu_us_bdl_arctic" / "wav" / "arctic_b0999.wav")
    with pytest.raises(DatasetError, match="no prompt") as info:
        read_arctic(root, ["bdl"])
    assert str(stray) in str(info.value)
    utts, skips, _ = read_arctic(root, ["bdl"], on_error="skip")
    assert len(utts) == 3
    assert skips == [Skip("bdl_arctic_b0999", str(stray), skips[0].reason)]


def test_arctic_missing_speaker_folder(tmp_path: Path) -> None:
    root = make_arctic(tmp_path, {"bdl": 3})
    with pytest.raises(DatasetError, match=r"cmu_us_slt_arctic.*not found"):
        read_arctic(root, ["bdl", "slt"])
    utts, skips, _ = read_arctic(root, ["bdl", "slt"], on_error="skip")
    assert {u.speaker for u in utts} == {"bdl"}
    assert skips[0].path == str(root / "cmu_us_slt_arctic")


@pytest.mark.parametrize(
    ("rate", "truncate", "reason"), [(22_050, False, "22050 Hz"), (16_000, True, "truncated")]
)
def test_arctic_bad_audio(tmp_path: Path, rate: int, truncate: bool, reason: str) -> None:
    root = make_arctic(tmp_path, {"bdl": 3})
    bad = write_tone(root / "cmu_us_bdl_arctic" / "wav" / "arctic_a0002.wav", seconds=0.5, rate=rate)
    if truncate:
        cut_tail(bad)
    with pytest.raises(DatasetError, match=reason) as info:
        read_arctic(root, ["bdl"])
    assert str(bad) in str(info.value)
    utts, skips, _ = read_arctic(root, ["bdl"], on_error="skip")
    assert [u.utt_id for u in utts] == ["bdl_arctic_a0001", "bdl_arctic_a0003"]
    assert [s.utt_id for s in skips] == ["bdl_arctic_a0002"]


def test_arctic_config_errors(tmp_path: Path) -> None:
    root = make_arctic(tmp_path, {"bdl": 3})
    with pytest.raises(ValueError, match="unknown CMU-Arctic speaker"):
        read_arctic(root, ["bdl", "xyz"])
    with pytest.raises(ValueError, match="more than once"):
        read_arctic(root, ["bdl", "bdl"])
    with pytest.raises(ValueError, match="utterances_per_speaker"):
        read_arctic(root, ["bdl"], utterances_per_speaker=0)


# ------------------------------------------------------------------------------------ manifests


def _utts(n: int) -> list[Utterance]:
    return [Utterance(f"u{i:03d}", "61", f"/data/u{i:03d}.flac", 1.5 + i, 16_000, "NA") for i in range(n)]


def test_manifest_round_trip_keeps_text_as_text(tmp_path: Path, shared_dir: Path) -> None:
    utts, _ = read_librispeech(shared_dir / "corpus")
    path = tmp_path / "m" / "manifest.tsv"
    write_manifest(utts + _utts(2), path)
    df = read_manifest(path)
    assert tuple(df.columns) == MANIFEST_COLUMNS
    assert len(df) == 7
    assert df.loc[df.utt_id == "61-70968-0002", "speaker"].item() == "61"  # not the integer 61
    assert df.loc[df.utt_id == "u000", "transcript"].item() == "NA"  # not a missing value
    assert df["duration_s"].tolist()[:5] == [u.duration_s for u in utts]
    assert df["sample_rate"].dtype.kind == "i"
    assert [p.name for p in path.parent.iterdir()] == ["manifest.tsv"]  # no temporary file left


def test_manifest_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate utt_id"):
        write_manifest(_utts(2) + _utts(1), tmp_path / "m.tsv")
    with pytest.raises(ValueError, match="tab or line break"):
        write_manifest([Utterance("a", "s", "/p", 1.0, 16_000, "two\tcolumns")], tmp_path / "m.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("utt_id\tspeaker\tpath\n1\t2\t3\n")
    with pytest.raises(DatasetError, match=r"bad\.tsv.*missing \['duration_s'"):
        read_manifest(bad)


@pytest.mark.parametrize(("n_rows", "n_shards"), [(0, 3), (1, 1), (7, 3), (10, 10), (5, 8)])
def test_shards_cover_every_row_once(n_rows: int, n_shards: int) -> None:
    df = pd.DataFrame({"utt_id": [f"u{i}" for i in range(n_rows)]})
    shards = [select_shard(df, s, n_shards) for s in range(n_shards)]
    joined = sorted(uid for shard in shards for uid in shard["utt_id"])
    assert joined == sorted(df["utt_id"])
    for s, shard in enumerate(shards):
        assert shard.index.tolist() == list(range(s, n_rows, n_shards))


def test_shard_out_of_range() -> None:
    df = pd.DataFrame({"utt_id": ["a", "b"]})
    with pytest.raises(ValueError, match="out of range"):
        select_shard(df, 3, 3)
    with pytest.raises(ValueError, match="n_shards"):
        select_shard(df, 0, 0)


def test_write_skips(tmp_path: Path) -> None:
    path = tmp_path / "skipped.tsv"
    write_skips([Skip("u1", "/x/u1.flac", "truncated audio\n(lost sync)")], path)
    df = pd.read_csv(path, sep="\t", dtype=str)
    assert df.to_dict("records") == [
        {"utt_id": "u1", "path": "/x/u1.flac", "reason": "truncated audio (lost sync)"}
    ]
    write_skips([], path)
    assert path.read_text() == "utt_id\tpath\treason\n"


# ------------------------------------------------------------------------------------ audio_folder


def test_audio_folder_ids_speakers_and_transcripts(tmp_path: Path) -> None:
    """Nested folders, odd names, mixed formats; text from transcripts.tsv (by id or by path) or a sidecar."""
    root = tmp_path / "mine"
    write_tone(root / "alice" / "take 1.wav")
    write_tone(root / "alice" / "take_1.flac")  # sanitises to the same id as "take 1": gets "-2"
    write_tone(root / "bob" / "deep" / "x.FLAC")
    write_tone(root / "loose.wav")
    write_tone(root / "bob" / "said.wav")
    (root / "bob" / "said.txt").write_text("hello\tfrom a\nsidecar\n")
    (root / "transcripts.tsv").write_text("alice/take 1\tfirst take\nloose\tby id\n")
    (root / "notes.txt").write_text("not audio, not a sidecar of anything")
    utts, skips = read_audio_folder(root)
    assert skips == []
    by_id = {u.utt_id: u for u in utts}
    assert (
        list(by_id)
        == sorted(by_id)
        == [
            "alice-take_1",
            "alice-take_1-2",
            "bob-deep-x",
            "bob-said",
            "loose",
        ]
    )
    assert by_id["alice-take_1"].path == str(root / "alice" / "take 1.wav")
    assert by_id["alice-take_1-2"].path == str(root / "alice" / "take_1.flac")
    assert {u.utt_id: u.transcript for u in utts} == {
        "alice-take_1": "first take",
        "alice-take_1-2": "",
        "bob-deep-x": "",
        "bob-said": "hello from a sidecar",
        "loose": "by id",
    }
    assert [u.speaker for u in utts] == ["alice", "alice", "bob", "bob", ""]
    assert all(u.sample_rate == 16_000 and u.duration_s == pytest.approx(0.1) for u in utts)
    write_manifest(utts, tmp_path / "manifest.tsv")  # every id and text is manifest-safe
    assert read_manifest(tmp_path / "manifest.tsv")["transcript"].tolist()[1] == ""


@pytest.mark.parametrize(
    ("breaker", "reason"),
    [
        (lambda root: write_tone(root / "s" / "b.wav", rate=44_100), "44100 Hz, expected 16000"),
        (lambda root: write_tone(root / "s" / "b.flac", channels=2), "2 channels"),
        (lambda root: (root / "s" / "b.wav").write_bytes(b"not audio" * 20), "cannot read"),
    ],
)
def test_audio_folder_checks_audio_like_the_corpus_readers(tmp_path: Path, breaker, reason: str) -> None:
    write_tone(tmp_path / "s" / "a.wav")
    breaker(tmp_path)
    with pytest.raises(DatasetError, match=reason):
        read_audio_folder(tmp_path)
    utts, skips = read_audio_folder(tmp_path, on_error="skip")
    assert [u.utt_id for u in utts] == ["s-a"]
    assert [s.utt_id for s in skips] == ["s-b"] and reason in skips[0].reason


def test_audio_folder_transcripts_tsv_problems_name_the_line(tmp_path: Path) -> None:
    write_tone(tmp_path / "a.wav")
    (tmp_path / "transcripts.tsv").write_text("a\tone\nghost\tno such file\nno tab here\na\tagain\n")
    with pytest.raises(DatasetError) as info:
        read_audio_folder(tmp_path)
    message = str(info.value)
    assert "3 problem(s)" in message
    assert "ghost" in message and "no such audio file" in message
    assert "transcripts.tsv:3" in message and "transcripts.tsv:4" in message


def test_audio_folder_without_audio_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match="no usable utterances"):
        read_audio_folder(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        read_audio_folder(tmp_path / "missing")


# ------------------------------------------------------------------------------------ reader registry


def test_every_downloadable_reader_has_official_archives() -> None:
    assert {n for n, r in READERS.items() if r.can_download} == set(DATASETS)
    assert READERS["cmu_arctic"].download_parts({"speakers": ["bdl", "slt"]}) == ["bdl", "slt"]
    assert READERS["librispeech"].download_parts({"subset": None}) == ["test-clean"]


@pytest.mark.parametrize("reader", ["librispeech", "audio_folder"])
def test_build_manifest_through_the_registry(tmp_path: Path, reader: str) -> None:
    """The data stage picks the reader from config alone; a LibriSpeech-layout folder without any
    transcript (and a plain folder) gives a manifest with empty transcripts instead of stopping."""
    from nacbench import stages

    root = make_librispeech(tmp_path / "corpus")
    for trans in root.rglob("*.trans.txt"):
        trans.unlink()
    data = {"reader": reader, "root": str(root), "shards": 1, "on_error": "error", "max_utterances": None}
    out = tmp_path / "out"
    stages.build_manifest(
        "mine", data, str(tmp_path / "dl"), 0, str(out / "manifest.tsv"), str(out / "skipped.tsv")
    )
    manifest = read_manifest(out / "manifest.tsv")
    assert len(manifest) == 5 and (manifest["transcript"] == "").all()
    if reader == "librispeech":
        assert manifest["utt_id"].iloc[0] == "19-198-0000"
    else:
        assert manifest["utt_id"].iloc[0] == "LibriSpeech-test-clean-19-198-19-198-0000"


def test_asr_refuses_utterances_without_text_by_name(tmp_path: Path) -> None:
    """Checked before any ASR model is loaded (the backend named here does not exist)."""
    from nacbench import stages

    rows = pd.DataFrame({"utt_id": ["a", "b", "c"], "path": ["x"] * 3, "transcript": ["text", "", " "]})
    with pytest.raises(DatasetError, match=r"dataset 'mine': ASR .* 2 have none: b, c"):
        stages.transcribe_shard({"backend": "none"}, "cpu", rows, str(tmp_path / "o.parquet"), dataset="mine")


def test_a_reader_that_cannot_download_needs_a_root(tmp_path: Path) -> None:
    from nacbench import stages

    with pytest.raises(ValueError, match="audio_folder reader cannot download"):
        stages.download_dataset("mine", {"reader": "audio_folder"}, str(tmp_path), str(tmp_path / "r.json"))
