"""DAC, EnCodec and NeuCodec through two backends: the package adapter and the ``transformers`` adapter.

Each codec is built once by its package adapter with random weights (seeded), and once by the
``transformers`` adapter with the same architecture; the package model's state dict is mapped onto the
Transformers model (:mod:`nacbench.codecs.hf_weights`) and loaded strictly. Then both backends must
declare the same layout (codebooks, FSQ levels and index order, frame rate, sample rates), and on a real
CMU-Arctic utterance from ../shared and on a generated speech-like signal:

- DAC and EnCodec: identical codes, and decoded audio (from the same codes), latents and codeword
  vectors within :data:`RELATIVE_TOLERANCE` (max abs difference over the reference's peak). Measured
  on the CPU: they agree *exactly* (difference 0.0: the same convolutions on the same folded /
  parametrized weights), which the test also asserts.
- NeuCodec: the decoder agrees within the tolerance (measured ~1e-7 at a peak of ~0.1, relative ~2e-6:
  the attention runs through another kernel), on the same codes and on the same latent; the FSQ index
  order is the same (same vectors for the same indices); and given the same semantic features the
  encoder gives identical codes. Where the backends truly differ is those features: the package
  computes them with SeamlessM4T's feature extractor (numpy filter bank), Transformers with
  ``NeuCodecFeatureExtractor`` (torchaudio's Kaldi ``fbank``, float32); on the same padded input they
  differ by ~1e-5 of their peak on real speech and on noise, but by up to ~4 % on the generated signal,
  whose upper mel bins hold almost no energy (harmonics below ~4 kHz): there the log of a tiny energy,
  normalised per bin, depends on each implementation's precision and floor. Through the random encoder
  and its steep FSQ input projection (gain 8, so that random codes vary) that moves some FSQ inputs
  across a rounding boundary: measured 0 of 25 codes differ on the Arctic clip, 3 of 25 on the
  generated one. The test asserts all codes agree given the same features, and end to end at least
  :data:`NEUCODEC_MIN_AGREEMENT` of them (per signal). Trained weights have a flatter projection; the
  flip rate there is not measured here (no checkpoint offline).

Sizes, to keep the file to about a minute on two cores: DAC runs the package's 24 kHz layout (hop 320,
32 codebooks of 1024) with narrower convolutions (:data:`DAC_SMALL`, patched into the package adapter's
config; the module code is the same); EnCodec is the full 24 kHz model; NeuCodec has two semantic
(w2v-BERT) layers instead of 24. The package reads hidden state 16 of its semantic model, Transformers
the last hidden state of a 16-layer copy: :func:`test_neucodec_semantic_truncation_is_exact` shows
those are the same tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from conftest import speech_like

from nacbench.audio import resample
from nacbench.codecs import build_codec
from nacbench.codecs.base import DIM0_LEAST_SIGNIFICANT, CodecAdapter
from nacbench.codecs.hf_weights import (
    check_complete,
    dac_to_transformers,
    encodec_to_transformers,
    neucodec_to_transformers,
)

#: decoded audio and latents: max abs difference over the reference's peak
RELATIVE_TOLERANCE = 1e-5
#: NeuCodec end to end (each backend's own feature extractor): the share of codes that must agree, per
#: signal (measured: all 25 on the Arctic clip, 22 of 25 on the generated one; module doc)
NEUCODEC_MIN_AGREEMENT = {"arctic": 0.95, "speechlike": 0.8}
#: DAC 24 kHz (hop 320, 32 x 1024) with narrower convolutions than the published 64 / 1536 channels
DAC_SMALL = {"encoder_dim": 16, "decoder_dim": 128}
#: the same architecture as Transformers' DacConfig fields (descript/dac_24khz's config, narrowed alike)
DAC_SMALL_HF = {
    "encoder_hidden_size": DAC_SMALL["encoder_dim"],
    "downsampling_ratios": [2, 4, 5, 8],
    "decoder_hidden_size": DAC_SMALL["decoder_dim"],
    "n_codebooks": 32,
    "codebook_size": 1024,
    "codebook_dim": 8,
    "sampling_rate": 24_000,
}
SEMANTIC_LAYERS = 2
#: NeuCodec's signals are shorter: its anti-aliased acoustic encoder is the slowest part of the file
NEUCODEC_SECONDS = 0.5

PAIRS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "dac": (
        {"adapter": "dac", "random_weights": True, "n_codebooks": 6, "seed": 3},
        {
            "adapter": "transformers",
            "family": "dac",
            "random_weights": True,
            "n_quantizers": 6,
            "config_overrides": DAC_SMALL_HF,
        },
    ),
    "encodec": (
        {"adapter": "encodec", "random_weights": True, "n_codebooks": 12, "seed": 3},
        {"adapter": "transformers", "family": "encodec", "random_weights": True, "n_quantizers": 12},
    ),
    "neucodec": (
        {"adapter": "neucodec", "random_weights": True, "random_semantic_layers": SEMANTIC_LAYERS, "seed": 3},
        {
            "adapter": "transformers",
            "family": "neucodec",
            "random_weights": True,
            "config_overrides": {"semantic_model_config": {"num_hidden_layers": SEMANTIC_LAYERS}},
        },
    ),
}
MAPS = {"dac": dac_to_transformers, "encodec": encodec_to_transformers, "neucodec": neucodec_to_transformers}

_BUILT: dict[str, tuple[CodecAdapter, CodecAdapter]] = {}


def _pair(codec: str) -> tuple[Any, Any]:
    """(package adapter, transformers adapter holding the package model's weights), built once."""
    if codec not in _BUILT:
        from nacbench.codecs import dac

        package_options, hf_options = PAIRS[codec]
        with mock.patch.dict(dac.DAC_24KHZ_CONFIG, DAC_SMALL):
            package = build_codec(f"{codec}-package", package_options)
        hf = build_codec(f"{codec}-hf", hf_options)
        model: Any = package.model  # type: ignore[attr-defined]  # every package adapter holds its model
        target = hf.model  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the Transformers adapters do
        target.load_state_dict(MAPS[codec](model.state_dict(), target.state_dict()), strict=True)
        _BUILT[codec] = (package, hf)
    return _BUILT[codec]


def _signal(kind: str, rate: int, shared: Path | None, seconds: float = 0.5) -> np.ndarray:
    """``seconds`` of a real CMU-Arctic utterance (16 kHz, resampled to ``rate``), or of generated speech."""
    if kind == "speechlike":
        return speech_like(seconds, seed=5, rate=rate)
    import soundfile

    assert shared is not None
    wav, file_rate = soundfile.read(
        shared / "corpus/cmu_arctic/cmu_us_bdl_arctic/wav/arctic_a0001.wav", dtype="float32"
    )
    wav = wav[int(0.4 * file_rate) : int((0.4 + seconds) * file_rate)]  # past the leading silence
    return resample(wav, int(file_rate), rate) if rate != file_rate else wav


@pytest.fixture(params=["arctic", "speechlike"])
def signal_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shared(request: pytest.FixtureRequest, signal_kind: str) -> Path | None:
    return request.getfixturevalue("shared_dir") if signal_kind == "arctic" else None


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


@pytest.mark.parametrize("codec", sorted(PAIRS))
def test_both_backends_declare_the_same_layout(codec: str) -> None:
    package, hf = _pair(codec)
    fields = ("codebook_sizes", "fsq_levels", "frame_rate", "input_sample_rate", "output_sample_rate")
    assert {f: getattr(hf.info, f) for f in fields} == {f: getattr(package.info, f) for f in fields}
    assert hf.info.quantizer == package.info.quantizer
    assert hf.info.fsq_index_order == package.info.fsq_index_order
    if codec == "encodec":
        assert hf.info.extra["bandwidth_kbps"] == package.info.extra["bandwidth_kbps"] == 9.0


@pytest.mark.parametrize("codec", ["dac", "encodec"])
def test_same_weights_give_the_same_codes_and_audio(
    codec: str, signal_kind: str, shared: Path | None
) -> None:
    """Codes identical; audio decoded from them, and the latents, within RELATIVE_TOLERANCE (in fact
    bit for bit)."""
    package, hf = _pair(codec)
    wav = _signal(signal_kind, package.info.input_sample_rate, shared)
    (codes,) = package.encode([wav])
    (hf_codes,) = hf.encode([wav])
    assert codes.shape == hf_codes.shape
    assert len(np.unique(codes)) > 10  # random weights that still follow the input: not a vacuous test
    flipped = int((codes != hf_codes).sum())
    assert flipped == 0, f"{flipped} of {codes.size} codes differ between the backends"
    (audio,) = package.decode([codes])
    (hf_audio,) = hf.decode([codes])
    assert audio.shape == hf_audio.shape
    assert _relative(audio, hf_audio) < RELATIVE_TOLERANCE
    (latent,) = package.encode_latent([wav])
    (hf_latent,) = hf.encode_latent([wav])
    assert latent.shape == hf_latent.shape
    assert _relative(latent, hf_latent) < RELATIVE_TOLERANCE
    assert np.array_equal(audio, hf_audio) and np.array_equal(latent, hf_latent)  # measured: bit-exact


def _hf_codes_given(hf: Any, wav: np.ndarray, features: torch.Tensor | None) -> np.ndarray:
    """The Transformers NeuCodec's codes for ``wav``, its semantic features replaced by ``features``
    (None: its own extractor's), the adapter's frames kept."""
    inputs, frames = hf._features([wav])
    if features is not None:
        inputs["input_features"] = features
    with torch.inference_mode():
        codes = hf.model.encode(**inputs).audio_codes
    return np.asarray(codes[0, :, : frames[0]].to(torch.int64).numpy())


def test_neucodec_codes_agree_given_the_same_features(signal_kind: str, shared: Path | None) -> None:
    """Identical codes when both encoders get the package's semantic features; end to end (each its own
    extractor) at least NEUCODEC_MIN_AGREEMENT of them; the audio decoded from the package's codes
    within RELATIVE_TOLERANCE."""
    package, hf = _pair("neucodec")
    wav = _signal(signal_kind, package.info.input_sample_rate, shared, seconds=NEUCODEC_SECONDS)
    (codes,) = package.encode([wav])
    assert len(np.unique(codes)) > 10  # random weights that still follow the input: not a vacuous test
    padded = torch.nn.functional.pad(torch.from_numpy(wav)[None], (0, 320 - wav.size % 320))  # as encode_code
    features = package.model.feature_extractor(
        padded, sampling_rate=16_000, return_tensors="pt"
    ).input_features
    assert np.array_equal(_hf_codes_given(hf, wav, features), codes)
    (own,) = hf.encode([wav])
    assert own.shape == codes.shape
    assert float((own == codes).mean()) >= NEUCODEC_MIN_AGREEMENT[signal_kind]
    (audio,) = package.decode([codes])
    (hf_audio,) = hf.decode([codes])
    assert audio.shape == hf_audio.shape
    assert _relative(audio, hf_audio) < RELATIVE_TOLERANCE


@pytest.mark.parametrize("codec", sorted(PAIRS))
def test_decoders_agree_on_the_same_latent(codec: str) -> None:
    """The decoder alone, on one latent (the package's quantizer output of codes from a noise input)."""
    package, hf = _pair(codec)
    rng = np.random.default_rng(1)
    noise = 0.1 * rng.standard_normal(package.info.input_sample_rate // 4).astype(np.float32)
    (latent,) = package.encode_latent([noise])
    (audio,) = package.decode_latent([latent])
    (hf_audio,) = hf.decode_latent([latent])
    assert _relative(audio, hf_audio) < RELATIVE_TOLERANCE


@pytest.mark.parametrize("codec", ["dac", "encodec"])
def test_rvq_codeword_vectors_agree(codec: str) -> None:
    package, hf = _pair(codec)
    for book, hf_book in zip(package.codeword_vectors(), hf.codeword_vectors(), strict=True):
        assert _relative(book, hf_book) < RELATIVE_TOLERANCE


def test_neucodec_fsq_index_order_is_the_packages() -> None:
    """The quantizer output for the same indices: vector-quantize-pytorch's ``get_output_from_indices``
    in the package, the ``basis`` of Transformers' FSQ (dimension 0 least significant in both): a
    mismatch in index order would give other vectors for the same index."""
    package, hf = _pair("neucodec")
    assert package.info.fsq_index_order == hf.info.fsq_index_order == DIM0_LEAST_SIGNIFICANT
    indices = np.concatenate([np.arange(64), np.random.default_rng(2).integers(0, 65536, 448)])[None, :]
    expected = package.quantizer_output(indices)  # [frames, 2048]
    with torch.inference_mode():
        got = hf.model.quantizer.from_codes(torch.from_numpy(indices.T[None])).numpy()[0]  # [frames, 2048]
    assert _relative(expected, got) < RELATIVE_TOLERANCE


def test_neucodec_semantic_truncation_is_exact() -> None:
    """The package reads ``hidden_states[16]`` of the 24-layer w2v-BERT; Transformers builds a 16-layer
    one and reads its ``last_hidden_state``: the same tensor (the encoder has no final norm), so the map
    drops layers 16-23. Shown on a small w2v-BERT (3 layers read at 2)."""
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

    small = {
        "hidden_size": 64,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "output_hidden_states": True,
    }
    torch.manual_seed(0)
    deep = Wav2Vec2BertModel(Wav2Vec2BertConfig(num_hidden_layers=3, **small)).eval()
    shallow = Wav2Vec2BertModel(Wav2Vec2BertConfig(num_hidden_layers=2, **small)).eval()
    shallow.load_state_dict(
        {k: v for k, v in deep.state_dict().items() if ".layers.2." not in k}, strict=True
    )
    features = torch.randn(1, 40, 160)
    with torch.inference_mode():
        assert torch.equal(deep(features).hidden_states[2], shallow(features).last_hidden_state)


@pytest.mark.parametrize("kind", ["arctic", "noise", "speechlike"])
def test_neucodec_semantic_features_differ_only_by_the_filter_bank(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """Where NeuCodec's two backends do differ: the semantic encoder's mel features (the package's
    SeamlessM4T extractor, numpy; Transformers' NeuCodecFeatureExtractor, torchaudio Kaldi fbank), on
    the same padded input. Same shape; on real speech and on noise within 1e-4 of their peak (measured
    ~1e-5); on the generated signal, whose upper mel bins are nearly empty, within 10 % (measured 3.6 %:
    0.18 at a peak of 5; module doc)."""
    package, hf = _pair("neucodec")
    if kind == "noise":
        wav = (0.1 * np.random.default_rng(2).standard_normal(8000)).astype(np.float32)
    else:
        shared = request.getfixturevalue("shared_dir") if kind == "arctic" else None
        wav = _signal(kind, 16_000, shared)
    padded = torch.nn.functional.pad(torch.from_numpy(wav)[None], (0, 320 - wav.size % 320))
    ours = package.model.feature_extractor(padded, sampling_rate=16_000, return_tensors="pt").input_features
    theirs = hf.extractor(wav, sampling_rate=16_000, return_tensors="pt")["input_features"]
    assert ours.shape == theirs.shape
    relative = _relative(ours.numpy(), theirs.numpy())
    assert 0 < relative < (1e-4 if kind != "speechlike" else 0.1)


def test_a_map_that_misses_keys_is_refused() -> None:
    """A package state dict that does not cover the Transformers model stops the map by name."""
    package, hf = _pair("encodec")
    state = {k: v for k, v in package.model.state_dict().items() if not k.startswith("decoder.model.15.")}
    with pytest.raises(KeyError, match="1 missing|missing"):
        encodec_to_transformers(state, hf.model.state_dict())
    with pytest.raises(KeyError, match="unexpected"):
        check_complete(
            {**hf.model.state_dict(), "extra.weight": torch.zeros(1)}, hf.model.state_dict(), "EnCodec"
        )
