"""The ``transformers`` adapter: Mimi and X-Codec2 by config, on random weights (no hub here); DAC,
EnCodec and NeuCodec's layouts here, their agreement with the package adapters in
tests/test_codec_backends.py.

The layouts are read from each family's config (the documented ones: Mimi 8 x 2048 at 12.5 Hz, 24 kHz;
X-Codec2 one 65536-entry FSQ codebook at 50 Hz, 16 kHz), the torch-free static layout agrees with
the config classes, the random round trip is shaped, finite and deterministic, a saved model loads
from a folder and from the hub cache, batching keeps the findings the adapter's doc states, and every
bad entry stops with a named error. Mimi is built at full size (80 M parameters, a second); X-Codec2
with one transformer layer in each encoder and the decoder (its 629 M parameters would cost seconds
each time, and the layout is the same).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nacbench.codecs import build_codec, static_layout
from nacbench.codecs.base import DIM0_LEAST_SIGNIFICANT, CodecAdapter, CodecInfo, WeightsUnavailableError
from nacbench.codecs.hf import (
    DacAdapter,
    EncodecAdapter,
    MimiAdapter,
    NeuCodecAdapter,
    Xcodec2Adapter,
    config_layout,
)
from nacbench.codecs.hf_layout import (
    FAMILIES,
    CodecLayoutError,
    NotAnAudioCodecError,
    family_defaults,
)
from nacbench.fsq import levels_to_indices

SRC = Path(__file__).resolve().parents[1] / "src"

MIMI: dict[str, Any] = {
    "adapter": "transformers",
    "family": "mimi",
    "random_weights": True,
    "n_quantizers": 8,
}
#: one transformer layer in X-Codec2's semantic encoder and decoder: the layout is the default one
SHALLOW = {"num_hidden_layers": 1, "semantic_model_config": {"num_hidden_layers": 1}}
XCODEC2: dict[str, Any] = {
    "adapter": "transformers",
    "family": "xcodec2",
    "random_weights": True,
    "config_overrides": SHALLOW,
}

_BUILT: dict[str, CodecAdapter] = {}


def _codec(name: str) -> CodecAdapter:
    """Each codec built once per session (a build takes seconds)."""
    if name not in _BUILT:
        _BUILT[name] = build_codec(name, {"mimi": MIMI, "xcodec2": XCODEC2}[name])
    return _BUILT[name]


def _speechlike(n: int, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    envelope = 0.05 + 0.2 * np.abs(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, np.pi)))
    return (envelope * rng.standard_normal(n)).astype(np.float32)


# --- layouts from the configs ----------------------------------------------------------------------------


def test_documented_layouts_are_read_from_the_family_configs() -> None:
    """The layout, frame rate and sample rates each family's default config gives, as documented."""
    from transformers import MimiConfig, Xcodec2Config

    mimi = config_layout(FAMILIES["mimi"], MimiConfig(), 8, "MimiConfig()")
    assert (mimi.codebook_sizes, mimi.fsq_levels, mimi.model_codebooks) == ((2048,) * 8, None, 32)
    assert MimiAdapter.rates(MimiConfig()) == (24_000, 12.5, 1920)
    xcodec2 = config_layout(FAMILIES["xcodec2"], Xcodec2Config(), None, "Xcodec2Config()")
    assert (xcodec2.codebook_sizes, xcodec2.fsq_levels) == ((65_536,), (4,) * 8)
    assert Xcodec2Adapter.rates(Xcodec2Config()) == (16_000, 50.0, 320)


def test_dac_encodec_neucodec_layouts_are_read_from_their_configs() -> None:
    """The three families that also have package adapters (their agreement with those is measured in
    tests/test_codec_backends.py): DAC's default config is the 16 kHz model (9 x 1024, hop 512: 31.25
    frames/s, which Transformers' ``frame_rate`` would round to 32); EnCodec's count is computed from its
    largest bandwidth (24 kbps at 75 frames/s x 10 bits = 32); NeuCodec is FSQ 4^8 at 50 frames/s,
    decoded at 24 kHz (480 samples per frame)."""
    from transformers import DacConfig, EncodecConfig, NeuCodecConfig

    dac = config_layout(FAMILIES["dac"], DacConfig(), 6, "DacConfig()")
    assert (dac.codebook_sizes, dac.model_codebooks) == ((1024,) * 6, 9)
    assert DacAdapter.rates(DacConfig()) == (16_000, 31.25, 512)
    encodec = config_layout(FAMILIES["encodec"], EncodecConfig(), 12, "EncodecConfig()")
    assert (encodec.codebook_sizes, encodec.model_codebooks) == ((1024,) * 12, 32)
    assert EncodecAdapter.rates(EncodecConfig()) == (24_000, 75.0, 320)
    assert EncodecAdapter.bandwidth(EncodecConfig(), 12) == 9.0
    neucodec = config_layout(FAMILIES["neucodec"], NeuCodecConfig(), None, "NeuCodecConfig()")
    assert (neucodec.codebook_sizes, neucodec.fsq_levels) == ((65_536,), (4,) * 8)
    assert NeuCodecAdapter.rates(NeuCodecConfig()) == (16_000, 50.0, 320)
    assert NeuCodecAdapter.output_rate(NeuCodecConfig(), 16_000, 320) == (24_000, 480)


def test_encodec_count_follows_its_config_and_chunked_models_are_refused(tmp_path: Path) -> None:
    """A config.json with the 48 kHz model's fields: its codebook count (24 kbps at 150 frames/s x 10
    bits = 16) comes from the config by EncodecConfig's own rule, without torch; it normalises and
    cuts chunks, which the adapter does not run."""
    from transformers import EncodecConfig

    fields = {"target_bandwidths": [3.0, 6.0, 12.0, 24.0], "sampling_rate": 48_000, "normalize": True}
    fields |= {"chunk_length_s": 1.0, "overlap": 0.01, "audio_channels": 2}
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "encodec", **fields}))
    layout = static_layout(
        "transformers", {"adapter": "transformers", "model": str(tmp_path), "n_quantizers": 16}
    )
    assert layout.codebook_sizes == (1024,) * 16 == (1024,) * EncodecConfig(**fields).num_quantizers
    with pytest.raises(CodecLayoutError, match="normalise the volume"):
        EncodecAdapter.rates(EncodecConfig(**fields))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_torch_free_defaults_are_the_config_class_defaults(family: str) -> None:
    """Config validation reads the config classes' defaults from their source (no torch): they must be
    what the classes give."""
    import transformers

    config = getattr(transformers, FAMILIES[family].config_class)()
    expected = {f: getattr(config, f) for f in FAMILIES[family].layout_fields}
    read = family_defaults(family)
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in read.items()} == {
        k: list(v) if isinstance(v, tuple) else v for k, v in expected.items()
    }


def test_built_infos_declare_the_documented_layouts() -> None:
    mimi, xcodec2 = _codec("mimi").info, _codec("xcodec2").info
    assert (mimi.codebook_sizes, mimi.frame_rate, mimi.input_sample_rate, mimi.output_sample_rate) == (
        (2048,) * 8,
        12.5,
        24_000,
        24_000,
    )
    assert mimi.quantizer == "rvq" and mimi.bitrate_bps == pytest.approx(1100.0)
    assert (xcodec2.codebook_sizes, xcodec2.fsq_levels, xcodec2.fsq_index_order) == (
        (65_536,),
        (4,) * 8,
        DIM0_LEAST_SIGNIFICANT,
    )
    assert (xcodec2.frame_rate, xcodec2.input_sample_rate, xcodec2.output_sample_rate) == (
        50.0,
        16_000,
        16_000,
    )
    for info in (mimi, xcodec2):
        assert info.random_weights and info.weights_id == "random-init(seed=0, per-part)"
        assert all(v > 0 for v in info.parameters.values())
        assert CodecInfo.from_json(json.loads(json.dumps(info.to_json()))) == info  # codec.json round trip


def test_static_layout_imports_neither_torch_nor_transformers(tmp_path: Path) -> None:
    """Config validation lays out every kind of entry without torch, in a fresh process."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "mimi", "num_quantizers": 16}))
    entries = [MIMI, XCODEC2, {"adapter": "transformers", "model": str(folder), "n_quantizers": 4}]
    script = "\n".join(
        [
            "import sys",
            "from nacbench.codecs import static_layout",
            f"for options in {entries!r}:",
            "    print(static_layout('transformers', options).codebook_sizes)",
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))",
        ]
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[:4] == [str((2048,) * 8), "(65536,)", str((2048,) * 4), "[]"]


# --- round trip -----------------------------------------------------------------------------------------

#: per family: input lengths and the frames each gives (Mimi ceil(T / 1920); X-Codec2 ceil((T + 1) / 320))
FRAMES = {
    "mimi": {24_000: 13, 1920 * 13: 13, 1920 * 13 + 1: 14},
    "xcodec2": {16_000: 51, 15_999: 50, 320 * 49 - 1: 49},
}


@pytest.mark.parametrize("name", ["mimi", "xcodec2"])
def test_random_round_trip_of_one_second(name: str) -> None:
    """1 s of audio: codes int64 [K, frames] inside the codebooks and varied, audio float32 of frames x
    hop samples, finite; another build from the same seed gives the same codes and audio, another seed
    other codes."""
    codec = _codec(name)
    info = codec.info
    wav = _speechlike(info.input_sample_rate, info.input_sample_rate)
    (codes,) = codec.encode([wav])
    assert codes.dtype == np.int64 and codes.shape == (info.n_codebooks, FRAMES[name][len(wav)])
    codec.check_codes(codes)
    assert len(np.unique(codes)) > 10  # random weights still give codes that follow the input
    (audio,) = codec.decode([codes])
    hop = round(info.input_sample_rate / info.frame_rate)
    assert audio.dtype == np.float32 and audio.shape == (codes.shape[1] * hop,)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    options = {"mimi": MIMI, "xcodec2": XCODEC2}[name]
    again = build_codec(name, options)
    assert again.info == info
    np.testing.assert_array_equal(again.encode([wav])[0], codes)
    np.testing.assert_array_equal(again.decode([codes])[0], audio)
    other = build_codec(name, {**options, "seed": 1})
    assert not np.array_equal(other.encode([wav])[0], codes)


@pytest.mark.parametrize("name", ["mimi", "xcodec2"])
def test_frames_follow_the_input_length(name: str) -> None:
    codec = _codec(name)
    wavs = [_speechlike(n, codec.info.input_sample_rate) for n in FRAMES[name]]
    assert [c.shape[1] for c in codec.encode(wavs)] == list(FRAMES[name].values())


# --- latents and codeword vectors ---------------------------------------------------------------------


def _native(codec: CodecAdapter, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codec's own quantizer on ``latent`` ``[dim, frames]``: (codes, what it hands the decoder).
    X-Codec2: the bounded components recovered through the output projection (8 -> 2048, full rank) by
    least squares, then rounded to their levels."""
    model = codec.model  # type: ignore[attr-defined]  # the torch adapters' model
    with torch.inference_mode():
        if isinstance(codec, MimiAdapter):
            z = torch.from_numpy(latent)[None]
            codes = model.quantizer.encode(z, codec.info.n_codebooks).transpose(0, 1)
            return codes[0].numpy(), model.quantizer.decode(codes)[0].numpy()
        project_out = model.quantizer.project_out
        weight, bias = project_out.weight.double().numpy(), project_out.bias.double().numpy()
        scaled = np.linalg.lstsq(weight, latent.astype(np.float64) - bias[:, None], rcond=None)[0]
        digits = np.rint(2 * scaled).astype(np.int64) + 2  # level 4: values -1, -0.5, 0, 0.5
        codes = levels_to_indices(digits.T, (4,) * 8)[None]
        reconstruction = model.quantizer.from_codes(torch.from_numpy(codes).T[None])[0].T
        return codes, reconstruction.numpy()


@pytest.mark.parametrize("name", ["mimi", "xcodec2"])
def test_latent_is_what_the_quantizer_quantizes_and_the_decoder_takes(name: str) -> None:
    codec = _codec(name)
    wav = _speechlike(codec.info.input_sample_rate, codec.info.input_sample_rate, seed=3)
    (latent,) = codec.encode_latent([wav])
    (codes,) = codec.encode([wav])
    assert latent.dtype == np.float32 and latent.shape == (codec.latent_dim, codes.shape[1])  # type: ignore[attr-defined]  # latent_dim: the family adapter's attribute, not CodecAdapter's
    native_codes, reconstruction = _native(codec, latent)
    np.testing.assert_array_equal(native_codes, codes)
    (from_latent,) = codec.decode_latent([reconstruction])
    np.testing.assert_allclose(from_latent, codec.decode([codes])[0], rtol=0, atol=1e-5)
    assert not np.allclose(latent, reconstruction, atol=1e-3)  # the quantizer does something


@pytest.mark.parametrize("name", ["mimi", "xcodec2"])
def test_dequantized_codes_decode_like_the_codes(name: str) -> None:
    """What mean-latent concealment decodes where nothing was lost is the codes' own audio."""
    codec = _codec(name)
    (codes,) = codec.encode([_speechlike(codec.info.input_sample_rate, codec.info.input_sample_rate)])
    latent = codec.dequantize(codes)
    assert latent.shape == (codec.latent_dim, codes.shape[1])  # type: ignore[attr-defined]  # latent_dim: the family adapter's attribute, not CodecAdapter's
    audio = codec.decode([codes])[0]
    # summation order only: float32 rounding at the random decoder's scale (peaks of ~5)
    np.testing.assert_allclose(
        codec.decode_latent([latent])[0], audio, rtol=0, atol=1e-5 * np.abs(audio).max()
    )


def test_mimi_codeword_vectors_are_what_the_decoder_sums() -> None:
    codec = _codec("mimi")
    vectors = codec.codeword_vectors()
    assert len(vectors) == 8 and all(v.shape == (2048, 512) for v in vectors)
    (codes,) = codec.encode([_speechlike(24_000, 24_000)])
    summed = sum(v[codes[k]] for k, v in enumerate(vectors)).T
    _, reconstruction = _native(codec, codec.encode_latent([_speechlike(24_000, 24_000)])[0])
    np.testing.assert_allclose(summed, reconstruction, rtol=1e-4, atol=1e-4)


def test_xcodec2_codeword_vectors_and_a_codebook_that_is_no_power_of_two() -> None:
    """Levels [5, 5, 5]: 125 entries in 7 bits. The adapter runs it (the channel's out-of-range policy
    decides what a received 125..127 becomes; config validation refuses it under 'error'); codeword
    vectors are the quantizer's output for every grid point."""
    options = {**XCODEC2, "config_overrides": {**SHALLOW, "quantization_levels": [5, 5, 5]}}
    assert static_layout("transformers", options).codebook_sizes == (125,)
    codec = build_codec("x", options)
    assert codec.info.codebook_sizes == (125,) and codec.info.bits_per_codebook == (7,)
    (codes,) = codec.encode([_speechlike(8000, 16_000)])
    codec.check_codes(codes)
    (vectors,) = codec.codeword_vectors()
    assert vectors.shape == (125, 2048)
    model = codec.model  # type: ignore[attr-defined]  # the torch adapters' model
    with torch.inference_mode():
        expected = model.quantizer.from_codes(torch.from_numpy(codes).T[None])[0]
    np.testing.assert_allclose(vectors[codes[0]], expected.numpy(), rtol=0, atol=1e-6)


# --- batching -------------------------------------------------------------------------------------------


def _padded(codec: CodecAdapter) -> CodecAdapter:
    """The same model under ``batching: padded``, batches of 8."""
    padded = copy.copy(codec)
    padded.batching, padded.batch_size = "padded", 8  # type: ignore[attr-defined]  # BatchedTorchAdapter's
    return padded


def test_xcodec2_batches_of_equal_length_are_exact_and_padding_reaches_the_end() -> None:
    codec = _codec("xcodec2")
    wavs = [_speechlike(n, 16_000, seed=i) for i, n in enumerate((16_000, 9_600, 9_600))]
    alone = [codec.encode_latent([w])[0] for w in wavs]
    together = codec.encode_latent(wavs[1:])  # one batch of two (exact batching)
    for a, b in zip(alone[1:], together, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    padded = _padded(codec).encode_latent(wavs[:2])[1]
    change = np.abs(padded - alone[1]).max(axis=0)
    assert change[:-8].max() < 1e-4 and change[-1] > 1e-3  # the end sees the padding, the start not


def test_mimi_default_is_one_input_at_a_time_and_padding_changes_the_last_frame() -> None:
    codec = _codec("mimi")
    assert codec.batch_size == 1  # type: ignore[attr-defined]  # its transformers are not batch-invariant
    wavs = [_speechlike(n, 24_000, seed=i) for i, n in enumerate((24_000, 14_400))]
    alone = codec.encode_latent(wavs[1:])[0]
    padded = _padded(codec).encode_latent(wavs)[1]
    change = np.abs(padded - alone).max(axis=0)
    assert change[-1] > 100 * change[:-1].max()


# --- loading --------------------------------------------------------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def saved_mimi(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CodecAdapter]:
    """A small random Mimi (one transformer layer) saved with ``save_pretrained``, and its adapter."""
    codec = build_codec("small", {**MIMI, "config_overrides": {"num_hidden_layers": 1}})
    folder = tmp_path_factory.mktemp("mimi") / "model"
    codec.model.save_pretrained(folder)  # type: ignore[attr-defined]  # the torch adapters' model
    return folder, codec


def test_a_saved_model_loads_from_its_folder(saved_mimi: tuple[Path, CodecAdapter]) -> None:
    folder, random = saved_mimi
    options = {"adapter": "transformers", "model": str(folder), "n_quantizers": 8}
    assert static_layout("transformers", options).codebook_sizes == (2048,) * 8
    codec = build_codec("small", options)
    assert not codec.info.random_weights and codec.info.weights_id == f"file:{folder.resolve()}"
    wav = _speechlike(24_000, 24_000)
    np.testing.assert_array_equal(codec.encode([wav])[0], random.encode([wav])[0])


def test_a_hub_model_loads_from_the_cache_offline(
    saved_mimi: tuple[Path, CodecAdapter], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub id offline: config validation reads config.json from the cache, the build loads it at the
    revision and records the commit."""
    folder, random = saved_mimi
    repo = tmp_path / "hub" / "models--someone--mimi"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "snapshots").mkdir()
    (repo / "snapshots" / COMMIT).symlink_to(folder, target_is_directory=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = {"adapter": "transformers", "model": "someone/mimi", "n_quantizers": 4}
    assert static_layout("transformers", options).codebook_sizes == (2048,) * 4
    codec = build_codec("hub", {**options, "revision": COMMIT})
    assert codec.info.weights_id == f"hf:someone/mimi@{COMMIT}" and codec.info.extra["revision"] == COMMIT
    wav = _speechlike(24_000, 24_000)
    np.testing.assert_array_equal(codec.encode([wav])[0], random.encode([wav])[0][:4])
    with pytest.raises(ValueError, match=r"^family: 'xcodec2', but 'someone/mimi' .* is a 'mimi' model"):
        static_layout("transformers", {**options, "family": "xcodec2"})


# --- errors ---------------------------------------------------------------------------------------------


def test_an_unknown_hub_id_offline_stops_validation_and_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = {"adapter": "transformers", "model": "nobody/no-such-codec", "family": "mimi"}
    with pytest.raises(ValueError, match=r"^model: 'nobody/no-such-codec' .*not in the Hugging Face cache"):
        static_layout("transformers", options)
    with pytest.raises(WeightsUnavailableError, match=r"codecs\.x\.model: .*huggingface-cli download"):
        build_codec("x", options)


def test_online_a_hub_model_not_yet_cached_needs_its_family(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    options = {"adapter": "transformers", "model": "kyutai/mimi", "n_quantizers": 8}
    with pytest.raises(ValueError, match=r"^family: 'kyutai/mimi' is not in the Hugging Face cache yet"):
        static_layout("transformers", options)
    assert static_layout("transformers", {**options, "family": "mimi"}).codebook_sizes == (2048,) * 8


@pytest.mark.parametrize(
    ("config", "error", "pattern"),
    [
        ({"model_type": "bert"}, NotAnAudioCodecError, r"^model: .* is a 'bert' model, not an audio codec"),
        ({"model_type": "mimi", "codebook_size": "big"}, CodecLayoutError, r"^model: codebook_size must be"),
        ({"model_type": "xcodec2", "quantization_levels": None}, CodecLayoutError, r"^model: cannot read"),
    ],
    ids=["not-a-codec", "bad-field", "no-levels"],
)
def test_a_model_whose_layout_cannot_be_read_is_refused(
    config: dict, error: type[Exception], pattern: str, tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config))
    options = {"adapter": "transformers", "model": str(tmp_path)}
    with pytest.raises(error, match=pattern):
        static_layout("transformers", options)
    with pytest.raises(error, match=r"^codecs\.x\.model: "):
        build_codec("x", options)


@pytest.mark.parametrize(
    ("options", "field", "text"),
    [
        (
            {"family": "mimi", "random_weights": True, "n_quantizers": 33},
            "n_quantizers",
            "it has 32 codebooks",
        ),
        ({"family": "mimi", "random_weights": True, "n_quantizers": 0}, "n_quantizers", "keeps at least 1"),
        ({"family": "xcodec2", "random_weights": True, "n_quantizers": 1}, "n_quantizers", "one codebook"),
        ({"family": "wavtokenizer", "random_weights": True}, "family", "no audio codec family"),
        ({"random_weights": True}, "family", "default config"),
        ({}, "model", "a hub id or a local folder"),
        ({"family": "mimi", "config_overrides": {"num_quantizers": 8}}, "config_overrides", "random_weights"),
        ({"model": ".", "revision": "a" * 40}, "revision", "local folder"),
    ],
)
def test_bad_entries_name_their_option(options: dict, field: str, text: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: .*{text}"):
        static_layout("transformers", {"adapter": "transformers", **options})


def test_an_older_transformers_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from nacbench.codecs import hf_layout

    monkeypatch.setattr(hf_layout, "transformers_version", lambda: "4.46.3")
    with pytest.raises(CodecLayoutError, match=r"^adapter: transformers 4\.46\.3 .* needs >= 5\.24"):
        static_layout("transformers", MIMI)


def test_a_quantizer_count_above_the_models_stops_the_build_too() -> None:
    with pytest.raises(ValueError, match=r"^codecs\.x\.n_quantizers: 33 .* 32 codebooks"):
        build_codec("x", {**MIMI, "n_quantizers": 33})
    with pytest.raises(ValueError, match=r"codecs\.x: unknown option\(s\) \['codebooks'\]"):
        build_codec("x", {**MIMI, "codebooks": 8})
