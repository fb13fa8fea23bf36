"""Adding a codec through a rule file: the G.711 example (workflow/rules/examples/g711.smk).

The fast tests check the standalone codec script on its own (the G.711 table, the artifact formats the
pipeline reads back with its own loaders, the sharding rule); the slow test adds the codec to a reduced
offline Study A on generated audio with nothing but a config entry and finds it in the tidy scores,
Figure 3 and Table 3.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from conftest import write_librispeech_like

from nacbench.artifacts import load_shard
from nacbench.codecs.base import CodecInfo
from nacbench.data.manifest import MANIFEST_COLUMNS, read_manifest, select_shard

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "workflow" / "scripts" / "examples" / "g711_codec.py"
RULES = "workflow/rules/examples/g711.smk"


@pytest.fixture(scope="module")
def g711() -> ModuleType:
    """The script loaded as a module (it is not part of the nacbench package)."""
    spec = importlib.util.spec_from_file_location("g711_codec", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _step(octets: np.ndarray) -> np.ndarray:
    """Quantisation step (16-bit scale) of the segment each transmitted octet belongs to."""
    exponent = (((~octets.astype(np.int32)) & 0xFF) >> 4) & 0x07
    return 8 << exponent


# ------------------------------------------------------------------------------------- the codec alone


def test_script_is_standalone() -> None:
    """The point of the example: it must run in an environment that has no nacbench."""
    tree = ast.parse(SCRIPT.read_text())
    modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    allowed = {"__future__", "argparse", "collections", "csv", "json", "os", "sys", "pathlib", "typing"}
    assert modules <= allowed | {"numpy", "scipy", "soundfile"}, sorted(modules)


def test_known_g711_values(g711: ModuleType) -> None:
    """Transmitted-octet convention (all bits inverted): silence is 0xFF, full scale +/- is 0x80 / 0x00."""
    pcm = np.array([0, -1, 1, 32767, -32768, 32124, -32124])
    assert g711.ulaw_compress(pcm).tolist() == [0xFF, 0x7F, 0xFF, 0x80, 0x00, 0x80, 0x00]
    table = g711.ulaw_expand(np.arange(256))
    # G.711 mu-law decoding table (16-bit scale): ends of the outer segments and the innermost one
    assert table[[0, 1, 2, 127, 128, 129, 255]].tolist() == [-32124, -31100, -30076, 0, 32124, 31100, 0]
    assert table[112:128].tolist() == list(range(-120, 1, 8))
    assert np.array_equal(table[128:], -table[:128])


def test_expand_matches_an_independent_implementation(g711: ModuleType) -> None:
    """CPython's audioop (Sun's G.711 code) decodes all 256 octets to the same 16-bit values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # removed in Python 3.13
    reference = np.frombuffer(audioop.ulaw2lin(bytes(range(256)), 2), dtype="<i2")
    assert np.array_equal(g711.ulaw_expand(np.arange(256)), reference)
    positive = np.arange(0, 32768)
    sun = np.frombuffer(audioop.lin2ulaw(positive.astype("<i2").tobytes(), 2), dtype=np.uint8)
    assert np.array_equal(g711.ulaw_compress(positive), sun)


def test_negative_inputs_follow_g191(g711: ModuleType) -> None:
    """G.191 codes a negative sample x as the magnitude ~x (one's complement), sign bit cleared."""
    negative = np.arange(-32768, 0)
    assert np.array_equal(g711.ulaw_compress(negative), g711.ulaw_compress(~negative) & 0x7F)


def test_round_trip_error_is_half_a_step(g711: ModuleType) -> None:
    pcm = np.arange(-32768, 32768)
    octets = g711.ulaw_compress(pcm)
    assert octets.dtype == np.uint8 and len(np.unique(octets)) == 256  # every code in [0, 255] is used
    decoded = g711.ulaw_expand(octets)
    inside = np.abs(pcm) <= 32124
    assert np.all(np.abs(decoded - pcm)[inside] <= _step(octets)[inside] / 2)
    assert np.all(np.diff(decoded) >= 0)  # the quantiser is monotonic
    assert np.abs(decoded).max() == 32124


def test_expand_rejects_out_of_range_codes(g711: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        g711.ulaw_expand(np.array([0, 256]))
    with pytest.raises(ValueError, match=r"\[1, frames\]"):
        g711.decode_codes(np.zeros((2, 10), np.int64))


def test_encode_wave_is_8khz_and_close(g711: ModuleType) -> None:
    """A 16 kHz tone -> one code per 8 kHz sample; decoding gives it back at ~38 dB SNR (8-bit mu-law)."""
    t = np.arange(16_001) / 16_000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    codes = g711.encode_wave(tone)
    assert codes.shape == (1, 8001) and codes.dtype == np.int64
    decoded = g711.decode_codes(codes)
    expected = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8001) / 8000)
    core = slice(100, -100)  # away from the resampling filter's edges
    snr = 10 * np.log10(np.sum(expected[core] ** 2) / np.sum((decoded[core] - expected[core]) ** 2))
    assert decoded.dtype == np.float32 and 30 < snr < 45


def _write_corpus(folder: Path, lengths: list[int]) -> Path:
    """Short 16 kHz utterances and their manifest (the pipeline's columns and TSV dialect)."""
    rng = np.random.default_rng(0)
    lines = ["\t".join(MANIFEST_COLUMNS)]
    for i, n in enumerate(lengths):
        path = folder / f"utt{i}.flac"
        sf.write(path, (0.1 * rng.standard_normal(n)).astype(np.float32), 16_000, subtype="PCM_16")
        lines.append(f"utt{i}\tspk\t{path}\t{n / 16_000!r}\t16000\tWORDS {i}")
    manifest = folder / "manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def test_sharding_matches_the_pipeline(g711: ModuleType, tmp_path: Path) -> None:
    manifest = _write_corpus(tmp_path, [160] * 7)
    rows = g711.read_manifest(manifest)
    table = read_manifest(manifest)
    for n in (1, 2, 3, 7):
        for shard in range(n):
            ours = [r["utt_id"] for r in g711.shard_rows(rows, shard, n)]
            assert ours == list(select_shard(table, shard, n).utt_id)
    with pytest.raises(ValueError, match="out of range"):
        g711.shard_rows(rows, 3, 3)


def test_artifacts_read_back_by_the_pipeline(g711: ModuleType, tmp_path: Path) -> None:
    """info / encode / decode through the command line, read with nacbench's own loaders."""
    lengths = [1601, 3200, 800, 2401, 4000]
    manifest = _write_corpus(tmp_path, lengths)
    assert g711.main(["info", "--name", "g711", "--out", str(tmp_path / "codec.json")]) == 0
    info = CodecInfo.read(tmp_path / "codec.json")
    assert (info.n_codebooks, info.codebook_sizes, info.bits_per_frame) == (1, (256,), 8)
    assert (info.bitrate_bps, info.output_sample_rate, info.delay_samples, info.random_weights) == (
        64_000.0, 8_000, 0, False)  # fmt: skip

    for shard in ("000", "001"):
        out = tmp_path / "codes" / f"{shard}.npz"
        g711.main(
            ["encode", "--manifest", str(manifest), "--shard", shard, "--n-shards", "2", "--out", str(out)]
        )
        codes = load_shard(out)
        picked = list(range(int(shard), len(lengths), 2))
        assert codes.utt_ids == [f"utt{i}" for i in picked]
        assert [c.shape for c in codes.codes] == [(1, math.ceil(lengths[i] / 2)) for i in picked]
        assert all(c.min() >= 0 and c.max() <= 255 for c in codes.codes) and not codes.random_weights
        assert not list(out.parent.glob(".*tmp*"))  # written under a temporary name, then renamed

    audio, listen = tmp_path / "audio", tmp_path / "listen"
    g711.main(["decode", "--codes", str(tmp_path / "codes" / "000.npz"), "--manifest", str(manifest),
               "--audio-dir", str(audio), "--listen-dir", str(listen), "--listen", "2"])  # fmt: skip
    for i in (0, 2, 4):
        wav, rate = sf.read(audio / f"utt{i}.wav", dtype="float32")
        assert rate == 8_000 and len(wav) == math.ceil(lengths[i] / 2)
        assert sf.info(audio / f"utt{i}.wav").subtype == "FLOAT"
    # the listening subset is the first two utterances of the manifest; utt1 belongs to the other shard
    assert sorted(p.name for p in listen.iterdir()) == ["utt0.flac"]


# ------------------------------------------------------------------------------ through the workflow


def _run_snakemake(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Snakemake as a user runs it, with this interpreter's environment active (the rule calls `python`)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [sys.executable, "-m", "snakemake", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.mark.slow
def test_g711_added_by_rule_file_reaches_figure3(tmp_path: Path) -> None:
    """On a generated corpus (no real speech needed, so no ../shared)."""
    results = tmp_path / "results"
    corpus = write_librispeech_like(tmp_path / "corpus", n_utterances=5)
    overlay = {
        "results": str(results),
        "data": {"librispeech": {"root": str(corpus / "LibriSpeech"), "shards": 1}},
        "codecs": {"g711": {"adapter": "external", "rules": RULES}},
        "study_a": {
            "codecs": ["g711", "codec2-3200"],
            "channels": {"bsc": {"p_flip": [0.01, 0.1], "seeds": [0]}},
        },
        "study_labelling": {"codecs": []},
        "study_swap": {"codecs": []},
        "study_packet_loss": {"codecs": []},
        "study_b": {"rows": [], "reference_codec": None, "distilled_codec": None, "extra_codecs": []},
    }
    overlay_path = tmp_path / "overlay.yaml"
    overlay_path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    _run_snakemake("study_a", "--cores", "2", "--configfile", "configs/offline.yaml", str(overlay_path))

    # the codec's own rules wrote its artifacts; the adapter rules never touched it
    assert (results / "logs" / "g711_encode" / "g711").is_dir()
    assert not (results / "logs" / "encode" / "g711").exists()
    manifest = read_manifest(results / "data" / "librispeech" / "manifest.tsv")
    channels = ["clean", "bsc-p0.01-seed0", "bsc-p0.1-seed0"]

    tidy = pd.read_parquet(results / "tables" / "scores_librispeech.parquet")
    ours = tidy[tidy["codec"] == "g711"]
    assert set(tidy["codec"]) == {"g711", "codec2-3200"}
    assert sorted(ours["channel"].unique()) == sorted(channels)
    for channel in channels:
        rows = ours[ours["channel"] == channel]
        assert sorted(rows["utt_id"]) == sorted(manifest["utt_id"]), channel
        assert np.isfinite(rows["stoi"]).all(), rows[["utt_id", "error"]]
        assert not rows["random_weights"].any()
    stoi = ours.groupby("channel")["stoi"].mean()
    # measured 0.996-0.997 per utterance on the five generated utterances: G.711 is near-transparent
    # to STOI, which only looks below ~4.3 kHz
    assert stoi["clean"] >= 0.95 and ours.loc[ours["channel"] == "clean", "stoi"].min() >= 0.9
    assert stoi["clean"] > stoi["bsc-p0.01-seed0"] > stoi["bsc-p0.1-seed0"]  # no redundancy: errors hurt

    # every transmitted bit is a bit of a G.711 octet: 8 per 8 kHz sample, flipped at the channel's rate
    sent_codes = load_shard(results / "codes" / "g711" / "librispeech" / "000.npz")
    frames = {u: c.shape[1] for u, c in zip(sent_codes.utt_ids, sent_codes.codes, strict=True)}
    for channel, p in (("clean", 0.0), ("bsc-p0.01-seed0", 0.01), ("bsc-p0.1-seed0", 0.1)):
        rows = ours[ours["channel"] == channel]
        assert (rows["bits_sent"].to_numpy() == 8 * rows["utt_id"].map(frames).to_numpy()).all()
        sent, flipped = rows["bits_sent"].sum(), rows["bits_flipped"].sum()
        assert abs(flipped / sent - p) <= 5 * math.sqrt(p * (1 - p) / sent), (channel, flipped / sent)

    figure = results / "figures" / "figure3.png"
    assert figure.is_file() and figure.stat().st_size > 10_000
    table3 = pd.read_csv(results / "tables" / "table3.csv")
    row = table3[table3["Model"] == "G.711 mu-law"]
    assert len(row) == 1, table3
    assert row["Bitrate (kbps)"].item() == 64 and row["Bits/frame"].item() == 8
    assert row["Frame rate (Hz)"].item() == 8000 and row["Rate (kHz)"].item() == 8
    # the listening subset was kept (decoded audio itself is temporary and gone once scored)
    listen = results / "listen" / "g711" / "librispeech" / "clean" / "000"
    assert sorted(p.stem for p in listen.glob("*.flac")) == sorted(manifest["utt_id"][:3])
    assert not (results / "audio" / "g711" / "librispeech" / "clean" / "000").exists()
