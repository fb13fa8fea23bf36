"""The codec table: each adapter's static layout (read by config validation without building anything)
against the CodecInfo and capabilities of the adapter it builds, and the optional-capability interface.

Every codec is built once per option set for this module (random weights, a 2-layer semantic model for
NeuCodec, one-layer transformers for X-Codec2), so the file stays affordable on a 2-core machine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nacbench.codecs import ADAPTERS, build_codec, static_layout
from nacbench.codecs.base import (
    Capability,
    CodecAdapter,
    CodecInfo,
    MissingCapabilityError,
    capabilities_of,
)

#: adapter options per case; every shipped adapter but the post-hoc one (below) is built here
CASES: dict[str, dict[str, Any]] = {
    "lyra-30": {"adapter": "lyra", "num_quantizers": 30},
    "lyra-8": {"adapter": "lyra", "num_quantizers": 8},
    "codec2-3200": {"adapter": "codec2", "mode": 3200},
    "codec2-1300": {"adapter": "codec2", "mode": 1300},
    "opus-6000": {"adapter": "opus", "bitrate": 6000},
    "opus-20000-fec": {"adapter": "opus", "bitrate": 20000, "fec": True, "packet_loss_perc": 10},
    "neucodec": {"adapter": "neucodec", "random_weights": True, "random_semantic_layers": 2},
    "distill": {
        "adapter": "neucodec",
        "variant": "distill",
        "random_weights": True,
        "random_semantic_layers": 2,
    },
    "dac-6": {"adapter": "dac", "random_weights": True, "n_codebooks": 6},
    "dac-4": {"adapter": "dac", "random_weights": True, "n_codebooks": 4},
    "encodec-12": {"adapter": "encodec", "random_weights": True, "n_codebooks": 12},
    "encodec-8": {"adapter": "encodec", "random_weights": True, "n_codebooks": 8},
    "mimi-8": {"adapter": "transformers", "family": "mimi", "random_weights": True, "n_quantizers": 8},
    # X-Codec2 with one transformer layer per encoder and decoder: the default layout, a fraction of the build
    "xcodec2": {
        "adapter": "transformers",
        "family": "xcodec2",
        "random_weights": True,
        "config_overrides": {"num_hidden_layers": 1, "semantic_model_config": {"num_hidden_layers": 1}},
    },
    # the reconstructed architecture narrowed to one 128-wide layer per block (the fixture writes it)
    "stablecodec": {"adapter": "stablecodec", "random_weights": True, "posthoc_levels": [8, 8, 8, 5, 5, 5]},
}


@pytest.fixture(scope="module", params=list(CASES))
def case(
    request: pytest.FixtureRequest, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], CodecAdapter]:
    """(options, adapter) for one case, built once per module."""
    options = dict(CASES[request.param])
    if options["adapter"] == "lyra":
        options["model_dir"] = str(shared_dir / "models" / "lyra-v2")
    if options["adapter"] == "stablecodec":
        from nacbench.codecs.stablecodec_config import reconstructed_model_config

        config = reconstructed_model_config()
        for part in ("encoder", "decoder"):
            config["model"][part]["config"].update(channels=128, transformer_depths=[1, 1])
        path = tmp_path_factory.mktemp("stablecodec") / "model_config.json"
        path.write_text(json.dumps(config))
        options["model_config"] = str(path)
    return options, build_codec(request.param, options)


def test_every_adapter_has_a_case_or_a_reason() -> None:
    # posthoc: needs a fitted quantizer (below)
    assert {o["adapter"] for o in CASES.values()} | {"posthoc"} == set(ADAPTERS)


@pytest.mark.parametrize(
    "fit",
    [
        {"kind": "rvq", "bits_per_frame": 16, "stages": 4, "bits": 4, "seed": 0},
        {"kind": "fsq", "bits_per_frame": 16, "allocation": "fixed", "bits_per_component": 2},
        {"kind": "fsq", "bits_per_frame": 40, "allocation": "water-filling", "bits_per_component": 2},
    ],
    ids=["rvq", "fsq-fixed", "fsq-water-filling"],
)
def test_posthoc_static_layout_matches_the_built_codec(
    fit: dict[str, Any], shared_dir: Path, tmp_path: Path
) -> None:
    """A swapped codec around Lyra, its quantizer fitted on Gaussian 64-d latents: the static layout is
    the built one (water-filling: a bound every fitted codebook meets, all powers of two)."""
    from nacbench.posthoc import fit_quantizer
    from nacbench.seeds import fit_rng

    latents = [fit_rng(0, "test-layout").normal(size=(64, 600)) * np.linspace(3, 0.1, 64)[:, None]]
    fitted = fit_quantizer(latents, fit, "lyra~x")
    fitted.meta.update(fit)
    fitted.to_npz(tmp_path / "q.npz")
    base = {"adapter": "lyra", "model_dir": str(shared_dir / "models" / "lyra-v2"), "num_quantizers": 4}
    options = {
        "adapter": "posthoc",
        "base": "lyra",
        "base_options": base,
        "quantizer": fit["kind"],
        "bits": fit["bits_per_frame"],
        "quantizer_file": str(tmp_path / "q.npz"),
        "fit": fit,
    }
    adapter = build_codec("lyra~x", options)
    layout = static_layout("posthoc", options)
    assert (
        layout.capabilities == adapter.capabilities and layout.fsq_levels == adapter.info.fsq_levels is None
    )
    sizes = adapter.info.codebook_sizes
    if layout.fitted:
        assert all(s & (s - 1) == 0 and s <= layout.codebook_sizes[0] for s in sizes)
    else:
        assert layout.codebook_sizes == sizes
    assert adapter.info.bits_per_frame == fit["bits_per_frame"]


def test_static_layout_matches_the_built_codec(case: tuple[dict[str, Any], CodecAdapter]) -> None:
    options, adapter = case
    layout = static_layout(options["adapter"], options)
    info: CodecInfo = adapter.info
    assert layout.codebook_sizes == info.codebook_sizes
    assert layout.fsq_levels == info.fsq_levels
    assert layout.capabilities == adapter.capabilities
    assert layout.has_codeword_vectors == adapter.has(Capability.CODEWORD_VECTORS)
    # only a range-coded codec (Opus) loses whole packets to a flipped bit
    assert layout.bit_errors == (options["adapter"] != "opus")


def test_codec2_modes_are_the_same_in_table_and_adapter() -> None:
    from nacbench.codecs import CODEC2_BITS_PER_FRAME
    from nacbench.codecs.codec2 import DELAY_SAMPLES

    assert set(CODEC2_BITS_PER_FRAME) == set(DELAY_SAMPLES)


def test_encodec_layout_follows_n_codebooks() -> None:
    """Before: EnCodec's static layout was 12 codebooks whatever ``n_codebooks`` said."""
    assert static_layout("encodec", {"n_codebooks": 8}).codebook_sizes == (1024,) * 8
    assert static_layout("encodec", {}).codebook_sizes == (1024,) * 12


@pytest.mark.parametrize("levels", [None, (8, 8, 8, 5, 5, 5)])
def test_stablecodec_layout_against_its_module(levels: Sequence[int] | None) -> None:
    """Without building it: the static layout against what its adapter module declares, the post-hoc
    FSQ levels and the methods its adapter overrides (the built comparison is the "stablecodec" case)."""
    from nacbench.codecs import stablecodec

    options = {} if levels is None else {"posthoc_levels": list(levels)}
    layout = static_layout("stablecodec", options)
    expected = tuple(levels or stablecodec.POSTHOC_LEVELS)
    assert layout.fsq_levels == expected
    assert layout.codebook_sizes == (math.prod(expected),)
    assert layout.capabilities == capabilities_of(stablecodec.StableCodecAdapter)


@pytest.mark.parametrize(
    ("adapter", "options", "field"),
    [
        ("codec2", {"mode": 1234}, "mode"),
        ("dac", {"n_codebooks": 0}, "n_codebooks"),
        ("opus", {"bitrate": 9000}, "bitrate"),
        ("transformers", {"family": "mimi", "random_weights": True, "n_quantizers": 33}, "n_quantizers"),
    ],
)
def test_static_layout_names_a_bad_option(adapter: str, options: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: "):
        static_layout(adapter, options)


# --------------------------------------------------------------------------------------- capabilities


class Bare(CodecAdapter):
    """Encode/decode only: no optional capability."""

    def __init__(self) -> None:
        self.info = CodecInfo("bare", "Bare", 16_000, 16_000, 50.0, (4,), "other")

    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.zeros((1, 1), dtype=np.int64) for _ in wavs]

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.zeros(320, dtype=np.float32) for _ in codes]


class WithVectors(Bare):
    def codeword_vectors(self) -> list[np.ndarray]:
        return [np.eye(4, dtype=np.float32)]


def test_capabilities_are_the_overridden_optional_methods() -> None:
    assert Bare().capabilities == frozenset()
    assert WithVectors().capabilities == {Capability.CODEWORD_VECTORS}
    assert WithVectors().require(Capability.CODEWORD_VECTORS).codeword_vectors()[0].shape == (4, 4)


@pytest.mark.parametrize("capability", list(Capability))
def test_a_missing_capability_names_codec_and_capability(capability: Capability) -> None:
    with pytest.raises(MissingCapabilityError, match=rf"codec 'bare' .* {capability.value!r}, which X needs"):
        Bare().require(capability, "X")
    method = getattr(Bare(), capability.value)
    arguments = {
        Capability.QUANTIZER_OUTPUT: (np.zeros((1, 1), dtype=np.int64),),
        Capability.ENCODE_LATENT: ([np.zeros(320, dtype=np.float32)],),
        Capability.DECODE_LATENT: ([np.zeros((8, 2), dtype=np.float32)],),
        Capability.CONCEAL: ([np.zeros((1, 2), dtype=np.int64)], [np.array([False, True])]),
    }
    with pytest.raises(MissingCapabilityError, match=capability.value):
        method(*arguments.get(capability, ()))


def test_code_analysis_refuses_a_codec_without_quantizer_output(tmp_path: Path) -> None:
    from nacbench.report import code_analysis

    with pytest.raises(MissingCapabilityError, match="'quantizer_output', which the code analysis needs"):
        code_analysis(
            [], [], [], Bare(), str(tmp_path / "s.json"), str(tmp_path / "c.npz"), [str(tmp_path / "f.pdf")]
        )


def test_codewords_without_vectors_keep_usage_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nacbench import stages
    from nacbench.artifacts import CodeShard, load_codewords, save_shard
    from nacbench.data.manifest import Utterance, write_manifest

    shard = tmp_path / "000.npz"
    save_shard(str(shard), CodeShard(["u"], [np.array([[0, 1, 1, 3]], dtype=np.int64)], False), 1)
    manifest = tmp_path / "manifest.tsv"
    write_manifest([Utterance("u", "s", str(tmp_path / "u.wav"), 1.0, 16000, "")], manifest)
    for adapter, has_vectors in ((Bare(), False), (WithVectors(), True)):
        monkeypatch.setattr(stages, "load_codec", lambda *a, adapter=adapter: adapter)
        out = tmp_path / f"{type(adapter).__name__}.npz"
        stages.write_codewords("bare", {}, "cpu", [str(shard)], str(out), str(manifest), ("fit", 1), False)
        vectors, usage = load_codewords(str(out))
        assert (vectors is not None) == has_vectors
        assert usage[0].tolist() == [1, 2, 0, 1]
