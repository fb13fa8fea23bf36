"""Results paths (built, parsed back, found) and the readers/writers of each on-disk format."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nacbench import artifacts
from nacbench.artifacts import ArtifactError, CodeShard

R = "results"


def _shard(n_codebooks: int = 2) -> CodeShard:
    codes = [np.arange(2 * n).reshape(n_codebooks, n) % 4 for n in (3, 0, 5)]
    return CodeShard(["u0", "u1", "u2"], codes, True, {"bits_sent": np.array([6, 0, 10])})


def test_every_path_function_fills_its_pattern_and_parses_back() -> None:
    built = {
        "manifest": artifacts.manifest(R, "librispeech"),
        "skipped": artifacts.skipped(R, "librispeech"),
        "codec_info": artifacts.codec_info(R, "dac"),
        "codes_shard": artifacts.codes_shard(R, "dac", "librispeech", "003"),
        "channel_shard": artifacts.channel_shard(R, "dac", "librispeech", "bsc-p0.01-seed0-gray", "003"),
        "codewords": artifacts.codewords(R, "dac"),
        "labelling": artifacts.labelling(R, "dac", "distortion-aware"),
        "expected_distortion": artifacts.expected_distortion(R, "dac"),
        "fit_latents": artifacts.fit_latents(R, "lyra"),
        "quantizer": artifacts.quantizer(R, "lyra~fsq120"),
        "decoded_audio": artifacts.decoded_audio(R, "dac", "librispeech", "clean", "003"),
        "listen_dir": artifacts.listen_dir(R, "dac", "librispeech", "ge-p0.01-b8-seed0", "003"),
        "metrics_shard": artifacts.metrics_shard(R, "dac", "librispeech", "clean", "003"),
        "asr_shard": artifacts.asr_shard(R, "dac", "librispeech", "clean", "003"),
        "asr_reference": artifacts.asr_reference(R, "librispeech", "003"),
        "tidy_scores": artifacts.tidy_scores(R, "librispeech"),
        "tidy_scores_csv": artifacts.tidy_scores_csv(R, "librispeech"),
        "enc_rtf": artifacts.enc_rtf(R, "dac"),
        "analysis": artifacts.analysis(R, "code_agreement.json"),
        "table": artifacts.table(R, "table2"),
        "figure": artifacts.figure(R, "figure3"),
        "report_config": artifacts.report_config(R),
        "report_page": artifacts.report_page(R),
    }
    assert set(built) == set(artifacts.PATTERNS)
    assert built["channel_shard"] == "results/channel/dac/librispeech/bsc-p0.01-seed0-gray/003.npz"
    for kind, path in built.items():
        parsed = artifacts.parse(path, R)
        assert parsed.kind == kind, path
        assert artifacts.parse(f"/somewhere/else/{path}").kind == kind  # results folder found by layout
    channel = artifacts.parse(built["channel_shard"])
    assert (channel.codec, channel.dataset, channel.channel, channel.shard) == (
        "dac",
        "librispeech",
        "bsc-p0.01-seed0-gray",
        "003",
    )
    assert artifacts.parse(built["labelling"]).labelling == "distortion-aware"
    record = artifacts.download_record("/data/downloads", "librispeech")
    assert artifacts.downloads_of(record) == "/data/downloads"


def test_placeholders_pass_through_for_snakemake() -> None:
    pattern = artifacts.channel_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}")
    assert pattern == "results/channel/{codec}/{dataset}/{channel}/{shard}.npz"
    assert artifacts.log_file(R, "score", "{codec}", "all") == "results/logs/score/{codec}/all.log"
    assert artifacts.benchmark_file(R, "encode", "{codec}", "{dataset}", "{shard}") == (
        "results/benchmarks/encode/{codec}/{dataset}/{shard}.tsv"
    )


def test_bad_field_values_name_the_field() -> None:
    with pytest.raises(ArtifactError, match="channel 'bsc-0.01'"):
        artifacts.channel_shard(R, "dac", "librispeech", "bsc-0.01", "000")
    with pytest.raises(ArtifactError, match="shard '7'"):
        artifacts.codes_shard(R, "dac", "librispeech", "7")
    with pytest.raises(ArtifactError, match="not a results artifact"):
        artifacts.parse("results/channel/dac/librispeech/nonsense/000.npz")


def test_find_lists_artifacts_and_the_odd_ones_out(tmp_path: Path) -> None:
    for channel in ("clean", "bsc-p0.1-seed0"):
        artifacts.save_shard(artifacts.channel_shard(tmp_path, "toy", "ds", channel, "000"), _shard(), 2)
    odd = Path(artifacts.codes_shard(tmp_path, "toy", "ds", "000")).parents[1] / "ds" / "notashard.npz"
    odd.parent.mkdir(parents=True)
    odd.write_bytes(b"")
    (tmp_path / "channel" / "toy" / "ds" / "hand-made").mkdir()
    (tmp_path / "channel" / "toy" / "ds" / "hand-made" / "000.npz").write_bytes(b"")
    Path(artifacts.temporary(artifacts.channel_shard(tmp_path, "toy", "ds", "clean", "001"))).write_bytes(b"")
    found, other = artifacts.find(tmp_path, "channel_shard")
    assert [a.channel for a in found] == ["bsc-p0.1-seed0", "clean"]
    assert [p.relative_to(tmp_path).as_posix() for p in other] == ["channel/toy/ds/hand-made/000.npz"]
    assert artifacts.find(tmp_path, "channel_shard", channel="clean")[0][0].shard == "000"
    assert artifacts.find(tmp_path, "codes_shard")[1] == [odd]
    with pytest.raises(ArtifactError, match="no field"):
        artifacts.find(tmp_path, "codec_info", shard="000")


def test_job_paths_parse_by_what_each_part_is() -> None:
    datasets, codecs = ["librispeech", "cmu_arctic"], ["dac", "neucodec"]

    def job(path: str) -> artifacts.JobPath:
        return artifacts.parse_job_path(path, R, datasets, codecs)

    decode = job(artifacts.benchmark_file(R, "decode", "dac", "librispeech", "bsc-p0.01-seed0", "002"))
    assert (decode.rule, decode.codec, decode.dataset, decode.channel, decode.shard) == (
        "decode",
        "dac",
        "librispeech",
        "bsc-p0.01-seed0",
        "002",
    )
    manifest = job(artifacts.log_file(R, "manifest", "cmu_arctic"))
    assert (manifest.folder, manifest.dataset, manifest.codec, manifest.shard) == (
        "logs",
        "cmu_arctic",
        None,
        None,
    )
    labelling = job(artifacts.benchmark_file(R, "labelling", "neucodec", "gray"))
    assert (labelling.codec, labelling.other) == ("neucodec", "gray")
    reference = job(artifacts.benchmark_file(R, "asr_reference", "librispeech", "000"))
    assert (reference.codec, reference.dataset, reference.shard) == (None, "librispeech", "000")
    assert job(artifacts.log_file(R, "table2", "all")).other == "all"
    with pytest.raises(ArtifactError, match="without a configured dataset"):
        job("results/benchmarks/encode/dac/unknown/000.tsv")
    with pytest.raises(ArtifactError, match="expected"):
        job("results/tables/table2.csv")


def test_job_files_are_found_and_read_back(tmp_path: Path) -> None:
    paths = [
        artifacts.benchmark_file(tmp_path, "encode", "dac", "librispeech", "000"),
        artifacts.benchmark_file(tmp_path, "manifest", "librispeech"),
        artifacts.log_file(tmp_path, "manifest", "librispeech"),
    ]
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("s\n1\n")
    found = artifacts.find_job_files(tmp_path, "benchmarks")
    assert [str(p) for p in found] == sorted(paths[:2])
    keys = [artifacts.parse_job_path(p, tmp_path, ["librispeech"], ["dac"]) for p in found]
    assert [(k.rule, k.codec, k.dataset, k.shard) for k in keys] == [
        ("encode", "dac", "librispeech", "000"),
        ("manifest", None, "librispeech", None),
    ]
    with pytest.raises(ArtifactError, match="not 'tables'"):
        artifacts.find_job_files(tmp_path, "tables")


def test_startup_records_sit_beside_the_logs_and_parse_like_them(tmp_path: Path) -> None:
    log = artifacts.log_file(tmp_path, "decode", "dac", "librispeech", "bsc-p0.01-seed0", "000")
    record = artifacts.startup_file(tmp_path, "decode", "dac", "librispeech", "bsc-p0.01-seed0", "000")
    assert record == log.removesuffix(".log") + ".startup.json"
    for path in (log, record):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("{}")
    assert artifacts.find_job_files(tmp_path, "startup") == [Path(record)]
    assert artifacts.find_job_files(tmp_path, "logs") == [Path(log)]
    job = artifacts.parse_job_path(record, tmp_path, ["librispeech"], ["dac"])
    assert (job.folder, job.rule, job.codec, job.channel, job.shard) == (
        "logs",
        "decode",
        "dac",
        "bsc-p0.01-seed0",
        "000",
    )


def test_code_shard_round_trip_and_channel_extras(tmp_path: Path) -> None:
    path = tmp_path / "codes.npz"
    artifacts.save_shard(path, _shard(), 2)
    back = artifacts.load_shard(path)
    assert back.utt_ids == ["u0", "u1", "u2"] and back.random_weights
    assert [c.shape for c in back.codes] == [(2, 3), (2, 0), (2, 5)]
    assert back.extras["bits_sent"].tolist() == [6, 0, 10]
    assert artifacts.load_utterance_ids(path) == ["u0", "u1", "u2"]
    with pytest.raises(ValueError, match="a channel shard needs per-utterance 'bits_flipped'"):
        artifacts.save_channel_shard(tmp_path / "ch.npz", _shard(), 2)  # a channel shard needs its counts
    extras = {
        "bits_sent": np.array([6, 0, 10]),
        "bits_flipped": np.array([1, 0, 2]),
        "out_of_range": np.zeros(3),
    }
    artifacts.save_channel_shard(tmp_path / "ch.npz", CodeShard(back.utt_ids, back.codes, True, extras), 2)
    counts = artifacts.load_channel_counts(tmp_path / "ch.npz")
    assert {k: v.tolist() for k, v in counts.items()} == {
        "bits_sent": [6, 0, 10],
        "bits_flipped": [1, 0, 2],
        "out_of_range": [0, 0, 0],
    }
    with pytest.raises(ValueError, match="extras may not be named"):
        artifacts.save_shard(
            tmp_path / "x.npz", CodeShard(["u"], [np.zeros((2, 1), int)], False, {"codes": np.ones(1)}), 2
        )


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing key", "empty"])
def test_a_damaged_npz_names_the_file_and_says_to_rerun(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "results" / "codes" / "dac" / "ds" / "000.npz"
    artifacts.save_shard(path, _shard(), 2)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        artifacts.save_npz(path, {"utt_ids": np.array(["u0"]), "codes": np.zeros((2, 1))})
    readers = [artifacts.load_shard] + ([] if damage == "missing key" else [artifacts.load_utterance_ids])
    for read in readers:
        with pytest.raises(ArtifactError) as info:
            read(path)
        message = str(info.value)
        assert str(path) in message and "Delete it and rerun" in message


def test_a_damaged_member_inside_an_intact_archive_is_named_too(tmp_path: Path) -> None:
    """Flip bytes inside the compressed codes member: the archive opens, reading the member fails."""
    path = tmp_path / "000.npz"
    codes = [np.random.default_rng(0).integers(0, 1024, (8, 4000))]
    artifacts.save_shard(path, CodeShard(["u0"], codes, False), 8)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="Delete it and rerun"):
        artifacts.load_shard(path)


def test_missing_file_stays_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        artifacts.load_shard(tmp_path / "nope.npz")


def test_codewords_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "codewords.npz"
    usage = [np.array([3, 0, 1, 2])]
    fit = {"dataset": "arctic", "utterances": 2, "ids_sha256": "ab", "frames": 6, "in_sample": False}
    artifacts.save_codewords(path, 1, usage, [np.eye(4)], fit)
    vectors, back = artifacts.load_codewords(path)
    assert vectors is not None and np.array_equal(vectors[0], np.eye(4)) and back[0].tolist() == [3, 0, 1, 2]
    assert artifacts.load_fit_set(path) == fit
    artifacts.save_codewords(path, 1, usage, None, fit)
    assert artifacts.load_codewords(path)[0] is None
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ArtifactError, match="codewords"):
        artifacts.load_codewords(path)


def test_tables_and_records_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    artifacts.write_parquet(df, tmp_path / "t" / "x.parquet")
    pd.testing.assert_frame_equal(artifacts.read_parquet(tmp_path / "t" / "x.parquet"), df)
    artifacts.write_csv(df, tmp_path / "x.csv.gz")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "x.csv.gz"), df)
    artifacts.write_json({"b": 1, "a": [1, 2]}, tmp_path / "r.json")
    assert artifacts.read_json(tmp_path / "r.json") == {"a": [1, 2], "b": 1}
    assert not list(tmp_path.rglob("*.tmp*"))
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 broken")
    with pytest.raises(ArtifactError, match="bad.parquet"):
        artifacts.read_parquet(tmp_path / "bad.parquet")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ArtifactError, match="bad.json"):
        artifacts.read_json(tmp_path / "bad.json")


def test_a_failed_write_leaves_neither_artifact_nor_temporary(tmp_path: Path, monkeypatch) -> None:
    def half_written(self: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_written)
    target = tmp_path / "x.parquet"
    with pytest.raises(OSError, match="disk full"):
        artifacts.write_parquet(pd.DataFrame({"a": [1]}), target)
    assert list(tmp_path.iterdir()) == []


def test_kept_skip_list_sits_beside_the_data_jobs_log() -> None:
    assert artifacts.kept_skips(R, "librispeech") == "results/logs/manifest/librispeech.skipped.tsv"
    assert artifacts.log_file(R, "manifest", "librispeech") == "results/logs/manifest/librispeech.log"


def test_a_damaged_csv_names_the_file(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2]})
    artifacts.write_csv(df, tmp_path / "x.csv.gz")
    pd.testing.assert_frame_equal(artifacts.read_csv(tmp_path / "x.csv.gz"), df)
    (tmp_path / "bad.csv.gz").write_bytes((tmp_path / "x.csv.gz").read_bytes()[:12])  # truncated gzip
    with pytest.raises(ArtifactError, match=r"bad\.csv\.gz.*rerun"):
        artifacts.read_csv(tmp_path / "bad.csv.gz")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ArtifactError, match=r"empty\.csv"):
        artifacts.read_csv(tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError):
        artifacts.read_csv(tmp_path / "absent.csv")


def test_all_lists_every_public_name_sorted() -> None:
    tree = ast.parse(Path(artifacts.__file__).read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    defined |= {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    }
    defined |= {
        n.target.id for n in tree.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    public = {name for name in defined if not name.startswith("_")}
    assert public == set(artifacts.__all__)
    constants = sorted(n for n in artifacts.__all__ if n.isupper())
    classes = sorted(n for n in artifacts.__all__ if n[0].isupper() and not n.isupper())
    functions = sorted(n for n in artifacts.__all__ if n[0].islower())
    assert artifacts.__all__ == [*constants, *classes, *functions]  # ruff's RUF022 order


def test_job_paths_take_their_suffix_from_the_one_table(monkeypatch) -> None:
    monkeypatch.setitem(artifacts._JOB_SUFFIX, "logs", (".txt",))
    job = artifacts.parse_job_path("results/logs/manifest/librispeech.txt", R, ["librispeech"], ["dac"])
    assert (job.rule, job.dataset) == ("manifest", "librispeech")


def test_report_tables_are_written_atomically_in_the_formats_defined_here(
    tmp_path: Path, monkeypatch
) -> None:
    from nacbench.tables import write_table

    df = pd.DataFrame({"a": [1.5]})
    paths = write_table(df, tmp_path / "t", "caption")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"t{s}" for s in artifacts.TABLE_FORMATS)
    assert set(paths) == {s.lstrip(".") for s in artifacts.TABLE_FORMATS}
    monkeypatch.setattr(artifacts, "TABLE_FORMATS", (".csv", ".md"))
    write_table(df, tmp_path / "u", "caption")
    assert sorted(p.name for p in tmp_path.glob("u.*")) == ["u.csv", "u.md"]


def test_figures_are_written_atomically_in_the_formats_defined_here(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from nacbench.plots import save_figure

    fig = plt.figure()
    paths = save_figure(fig, tmp_path / "f")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"f{s}" for s in artifacts.FIGURE_FORMATS)
    assert paths["pdf"].read_bytes().startswith(b"%PDF") and paths["png"].read_bytes()[1:4] == b"PNG"
    monkeypatch.setattr(artifacts, "FIGURE_FORMATS", (".png",))
    save_figure(fig, tmp_path / "g")
    assert [p.name for p in tmp_path.glob("g.*")] == ["g.png"]

    def half_written(self: Figure, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"%PDF-1.4 half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, tmp_path / "h")
    assert not list(tmp_path.glob("h*"))
    plt.close(fig)


def test_a_damaged_codec_info_names_the_file(tmp_path: Path) -> None:
    from nacbench.codecs.base import CodecInfo

    info = CodecInfo("dac", "DAC", 24000, 24000, 75.0, (1024,) * 6, "rvq", random_weights=True)
    path = tmp_path / "codes" / "dac" / "codec.json"
    info.write(path)
    assert CodecInfo.read(path) == info
    assert not list(tmp_path.rglob("*.tmp*"))
    path.write_text(path.read_text()[:20])
    with pytest.raises(ArtifactError, match=r"codec\.json.*rerun"):
        CodecInfo.read(path)
