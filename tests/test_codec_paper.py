"""The paper's five codecs: code layouts, batching, lengths and weight handling, offline.

Everything here runs on random weights (``random_weights=True``) with a small random semantic model:
it checks interfaces and conventions, never audio quality. StableCodec runs on the real package
(installed with --no-deps by tools/setup.sh): its reconstructed architecture once, full size, and a
narrowed copy of it (same patching, rates and 6-d latent) for everything else.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nacbench.codecs import build_codec
from nacbench.codecs.base import (
    ENCODER_CAPABILITIES,
    Capability,
    CodecAdapter,
    CodecInfo,
    DecodeOnlyError,
    WeightsUnavailableError,
    conceals_in_latent,
)
from nacbench.codecs.torchutil import batch_groups, count_parameters
from nacbench.fsq import indices_to_levels, levels_to_indices


@dataclass
class Spec:
    options: dict[str, Any]
    rate: int
    lengths: tuple[int, ...]  # two equal lengths, so a real batch of 2 forms
    frames: Callable[[int], int]
    hop_out: int
    sizes: tuple[int, ...]
    bitrate: float
    quantizer: str


SPECS: dict[str, Spec] = {
    "neucodec": Spec(
        {"adapter": "neucodec", "random_weights": True, "random_semantic_layers": 2},
        16_000,
        (3_200, 1_900, 3_200),
        lambda n: n // 320,
        480,
        (65_536,),
        800.0,
        "fsq",
    ),
    "distill": Spec(
        {"adapter": "neucodec", "variant": "distill", "random_weights": True, "random_semantic_layers": 1},
        16_000,
        (3_200, 1_900, 3_200),
        lambda n: n // 320,
        480,
        (65_536,),
        800.0,
        "fsq",
    ),
    "dac": Spec(
        {"adapter": "dac", "random_weights": True},
        24_000,
        (4_800, 2_900, 4_800),
        lambda n: math.ceil(n / 320),
        320,
        (1024,) * 6,
        4_500.0,
        "rvq",
    ),
    "encodec": Spec(
        {"adapter": "encodec", "random_weights": True},
        24_000,
        (4_800, 2_900, 4_800),
        lambda n: math.ceil(n / 320),
        320,
        (1024,) * 12,
        9_000.0,
        "rvq",
    ),
}


@dataclass
class Run:
    """One built codec and what it produced on the test inputs (computed once per module)."""

    adapter: CodecAdapter
    spec: Spec
    wavs: list[np.ndarray]
    cache: dict[str, Any] = field(default_factory=dict)

    def codes(self) -> list[np.ndarray]:
        if "codes" not in self.cache:
            self.cache["codes"] = self.adapter.encode(self.wavs)
        return self.cache["codes"]

    def audio(self) -> list[np.ndarray]:
        if "audio" not in self.cache:
            self.cache["audio"] = self.adapter.decode(self.codes())
        return self.cache["audio"]


def _speechlike(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Noise under a slow envelope (syllable-rate amplitude changes) so frames differ from each other."""
    t = np.arange(n) / rate
    envelope = 0.05 + 0.2 * np.abs(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, np.pi)))
    return (envelope * rng.standard_normal(n)).astype(np.float32)


_RUNS: dict[str, Run] = {}


def _get(name: str) -> Run:
    """Build each codec once per test session and encode its inputs lazily (models take seconds)."""
    if name not in _RUNS:
        spec = SPECS[name]
        rng = np.random.default_rng(1234)
        wavs = [_speechlike(rng, n, spec.rate) for n in spec.lengths]
        _RUNS[name] = Run(build_codec(name, spec.options), spec, wavs)
    return _RUNS[name]


@pytest.fixture(params=list(SPECS))
def run(request: pytest.FixtureRequest) -> Run:
    return _get(request.param)


# --- layout --------------------------------------------------------------------------------------------


def test_info_declares_the_paper_layout(run: Run) -> None:
    info, spec = run.adapter.info, run.spec
    assert info.codebook_sizes == spec.sizes
    assert info.bits_per_codebook == tuple(int(math.log2(s)) for s in spec.sizes)
    assert info.bitrate_bps == pytest.approx(spec.bitrate)
    assert info.input_sample_rate == spec.rate
    assert info.quantizer == spec.quantizer
    assert info.random_weights is True
    assert info.weights_id == "random-init(seed=0, per-part)"
    if spec.quantizer == "fsq":
        assert info.fsq_levels == (4,) * 8 and info.fsq_index_order == "dim0-least-significant"
        assert info.output_sample_rate == 24_000 and info.frame_rate == 50.0
    else:
        assert info.fsq_levels is None and info.frame_rate == 75.0
    assert all(v > 0 for v in info.parameters.values())
    assert CodecInfo.from_json(json.loads(json.dumps(info.to_json()))) == info  # codec.json round trip


def test_codes_have_the_declared_shape_dtype_and_range(run: Run) -> None:
    codes = run.codes()
    assert len(codes) == len(run.wavs)
    for wav, c in zip(run.wavs, codes, strict=True):
        assert c.dtype == np.int64
        assert c.shape == (run.adapter.info.n_codebooks, run.spec.frames(len(wav)))
        assert c.min() >= 0 and (c < np.asarray(run.spec.sizes)[:, None]).all()
        run.adapter.check_codes(c)
    # random weights must still give varied codes, or every test below would be vacuous
    assert len(np.unique(np.concatenate([c.ravel() for c in codes]))) > 10


def test_batched_equals_one_by_one(run: Run) -> None:
    batched = run.codes()
    assert batch_groups(list(run.spec.lengths), 8, "exact") == [[1], [0, 2]]  # a real batch of two
    for wav, c in zip(run.wavs, batched, strict=True):
        np.testing.assert_array_equal(run.adapter.encode([wav])[0], c)
    audio = run.audio()
    for c, a in zip(batched, audio, strict=True):
        np.testing.assert_allclose(run.adapter.decode([c])[0], a, atol=1e-4)


def test_decoded_length_is_frames_times_hop(run: Run) -> None:
    for c, a in zip(run.codes(), run.audio(), strict=True):
        assert a.dtype == np.float32 and a.ndim == 1
        assert len(a) == c.shape[1] * run.spec.hop_out
        assert np.isfinite(a).all()


def test_codeword_vectors_are_what_the_decoder_sums(run: Run) -> None:
    if run.spec.quantizer == "fsq":
        pytest.skip("FSQ codeword vectors are tested in test_neucodec_codeword_vectors")
    vectors = run.adapter.codeword_vectors()
    assert vectors is not None and len(vectors) == run.adapter.info.n_codebooks
    assert all(v.shape[0] == 1024 for v in vectors)
    c = run.codes()[0]
    summed = sum(v[c[k]] for k, v in enumerate(vectors))  # [frames, dim]
    model = run.adapter.model  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
    with torch.inference_mode():
        if run.adapter.info.name == "dac":
            latent = model.quantizer.from_codes(torch.from_numpy(c)[None])[0][0].T
        else:
            latent = model.quantizer.decode(torch.from_numpy(c)[:, None, :])[0].T
    np.testing.assert_allclose(summed, latent.numpy(), rtol=1e-4, atol=1e-5)


def test_dequantized_codes_decode_like_the_codes(run: Run) -> None:
    """mean-latent concealment decodes ``decode_latent(dequantize(codes))`` where nothing was lost: it
    must be the codes' own audio."""
    if not conceals_in_latent(run.adapter.capabilities):
        pytest.skip(f"{run.adapter.info.name} has no latent access")
    c = run.codes()[0]
    latent = run.adapter.dequantize(c)
    assert latent.dtype == np.float32 and latent.shape[1] == c.shape[1]
    (audio,) = run.adapter.decode_latent([latent])
    np.testing.assert_allclose(audio, run.adapter.decode([c])[0], atol=1e-4)


# --- NeuCodec specifics ----------------------------------------------------------------------------------


def test_neucodec_fsq_index_order_matches_the_package() -> None:
    adapter = _get("neucodec").adapter
    fsq = adapter.model.generator.quantizer.layers[0]  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
    rng = np.random.default_rng(0)
    indices = np.concatenate(
        [rng.integers(0, 65_536, 500), [0, 1, 4, 65_535], _get("neucodec").codes()[0][0]]
    )
    ours = indices_to_levels(indices, (4,) * 8)
    theirs = fsq.indices_to_level_indices(torch.from_numpy(indices)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    # and back: the package's codes_to_indices of the level values gives our flat index
    values = fsq._scale_and_shift_inverse(torch.from_numpy(ours).float())
    np.testing.assert_array_equal(fsq.codes_to_indices(values).numpy(), levels_to_indices(ours, (4,) * 8))
    np.testing.assert_allclose(values.numpy(), (ours - 2) / 2)  # level l -> (l - 2) / 2


def test_quantizer_output_matches_the_fsq_forward_pass() -> None:
    adapter = _get("neucodec").adapter
    quantizer = adapter.model.generator.quantizer  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
    with torch.inference_mode():
        out, indices = quantizer(torch.randn(1, 40, 2048, generator=torch.Generator().manual_seed(0)))
    got = adapter.quantizer_output(indices[0].T.numpy().astype(np.int64))
    assert got.shape == (40, 2048)
    np.testing.assert_allclose(got, out[0].numpy(), rtol=1e-5, atol=1e-5)


def test_neucodec_codeword_vectors() -> None:
    adapter = _get("neucodec").adapter
    (vectors,) = adapter.codeword_vectors()
    assert vectors.shape == (65_536, 2048) and vectors.dtype == np.float32
    picks = np.array([[0, 1, 4096, 65_535]])
    np.testing.assert_allclose(vectors[picks[0]], adapter.quantizer_output(picks), rtol=1e-6)


def test_distill_drops_its_trailing_frame_to_align_with_neucodec() -> None:
    run_d = _get("distill")
    raw = run_d.adapter.model.encode_code(torch.from_numpy(run_d.wavs[1])[None, None])  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
    assert raw.shape[-1] == 1_900 // 320 + 1  # the package's own count
    assert run_d.codes()[1].shape[1] == 1_900 // 320 == _get("neucodec").codes()[1].shape[1]
    np.testing.assert_array_equal(run_d.codes()[1][0], raw[0, 0, :-1].numpy())


@pytest.mark.parametrize("name", ["neucodec", "distill"])
def test_neucodec_parameter_groups_are_counted_from_modules(name: str) -> None:
    """Both runs use a shrunken random semantic model: the counts are still the published
    architecture's (Table 2's columns depend on the architecture, not on the run's stand-in)."""
    from nacbench.codecs.neucodec import full_semantic_parameters

    adapter = _get(name).adapter
    model, params = adapter.model, adapter.info.parameters  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
    full = full_semantic_parameters(name)
    assert params["semantic_model_built"] == count_parameters(model.semantic_model) < full
    semantic = full + count_parameters(model.SemanticEncoder_module)
    acoustic = (
        count_parameters(model.CodecEnc)
        if name == "neucodec"
        else count_parameters(model.codec_encoder, model.fc_sq_prior)
    )
    assert params["semantic_encoder"] == semantic and params["acoustic_encoder"] == acoustic
    assert params["acoustic_plus_semantic"] == acoustic + semantic < params["encoder_total"]
    built = count_parameters(*adapter.encoder_modules())
    assert params["encoder_total"] == built - params["semantic_model_built"] + full
    # the per-module parts add up to the columns
    parts = {k: v for k, v in params.items() if "." in k}
    assert sum(v for k, v in parts.items() if k.startswith("acoustic_encoder.")) == acoustic
    assert parts["semantic_encoder.semantic_model"] == full


def test_full_semantic_architectures_are_the_published_sizes() -> None:
    """w2v-BERT 2.0 (NeuCodec) and DistilHuBERT (Distill-NeuCodec), counted on the meta device."""
    from nacbench.codecs.neucodec import full_semantic_parameters

    assert full_semantic_parameters("neucodec") == pytest.approx(580.5e6, rel=1e-3)
    assert full_semantic_parameters("distill") == pytest.approx(23.49e6, rel=1e-3)


def test_neucodec_checkpoint_key_check() -> None:
    from nacbench.codecs.neucodec import load_checkpoint_checked

    model = _get("neucodec").adapter.model  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
    state = {k: v.clone() for k, v in model.state_dict().items()}
    without_semantic = {k: v for k, v in state.items() if not k.startswith("semantic_model.")}
    load_checkpoint_checked(model, {**without_semantic, "fc_post_s.weight": torch.zeros(1)}, "neucodec", "ok")
    with pytest.raises(WeightsUnavailableError, match="missing keys"):
        load_checkpoint_checked(
            model, {k: v for k, v in state.items() if not k.startswith("CodecEnc.")}, "neucodec", "x"
        )
    with pytest.raises(WeightsUnavailableError, match="unexpected keys"):
        load_checkpoint_checked(model, {**state, "stray.weight": torch.zeros(1)}, "neucodec", "x")


def test_neucodec_16k_decoder() -> None:
    adapter = _built("distill-16k", decode_only=False)
    assert adapter.info.output_sample_rate == 16_000 and adapter.info.frame_rate == 50.0
    codes = np.arange(7, dtype=np.int64)[None] * 9_000
    (audio,) = adapter.decode([codes])
    assert len(audio) == 7 * 320
    # real weights without a 16 kHz decoder file: refused before any download, naming the option
    with pytest.raises(WeightsUnavailableError, match=r"codecs\.n16\.decoder_weights"):
        build_codec("n16", {"adapter": "neucodec", "decoder_rate": 16_000})


# --- RVQ specifics -------------------------------------------------------------------------------------------


def test_encodec_9kbps_gives_exactly_12_codebooks() -> None:
    from nacbench.codecs.encodec import bandwidth_for

    model = _get("encodec").adapter.model  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
    assert bandwidth_for(model, 12) == pytest.approx(9.0)
    with pytest.raises(ValueError):
        model.set_target_bandwidth(9.0)  # not a preset: why the adapter passes the bandwidth itself
    with torch.inference_mode():
        emb = model.encoder(torch.from_numpy(_get("encodec").wavs[1])[None, None])
        codes = model.quantizer.encode(emb, model.frame_rate, 9.0)
    assert codes.shape[0] == 12
    np.testing.assert_array_equal(codes[:, 0].numpy(), _get("encodec").codes()[1])


@pytest.mark.parametrize(("name", "tail"), [("dac", 3), ("encodec", 1)])
def test_padded_batching_changes_only_the_last_frames(name: str, tail: int) -> None:
    exact = _get(name)
    padded = build_codec(name, {**exact.spec.options, "batching": "padded"})
    for a, b in zip(exact.codes(), padded.encode(exact.wavs), strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a[:, :-tail], b[:, :-tail])


def test_random_init_is_seeded_and_leaves_the_global_rng_alone() -> None:
    wav = _get("encodec").wavs[1]
    state = torch.random.get_rng_state()
    again = build_codec("encodec", {**SPECS["encodec"].options, "seed": 0})
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(again.encode([wav])[0], _get("encodec").codes()[1])
    other = build_codec("encodec", {**SPECS["encodec"].options, "seed": 1})
    assert other.info.weights_id == "random-init(seed=1, per-part)"
    assert not np.array_equal(other.encode([wav])[0], _get("encodec").codes()[1])


# --- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", ["neucodec", "dac", "encodec", "stablecodec"])
def test_unknown_options_name_the_codec(adapter: str) -> None:
    with pytest.raises(ValueError, match=r"codecs\.my_codec: unknown option\(s\) \['bogus'\]"):
        build_codec("my_codec", {"adapter": adapter, "random_weights": True, "bogus": 1})


def test_bad_inputs_are_refused() -> None:
    adapter = _get("encodec").adapter
    with pytest.raises(ValueError, match="1-D"):
        adapter.encode([np.zeros((2, 100), dtype=np.float32)])
    with pytest.raises(ValueError, match="outside its codebook"):
        adapter.decode([np.full((12, 3), 1024, dtype=np.int64)])
    with pytest.raises(ValueError, match=r"codecs\.x\.batching"):
        build_codec("x", {"adapter": "dac", "random_weights": True, "batching": "sometimes"})


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"adapter": "neucodec"}, "neuphonic/neucodec"),
        ({"adapter": "neucodec", "variant": "distill"}, "neuphonic/distill-neucodec"),
        ({"adapter": "dac"}, "weights_24khz_8kbps"),
        ({"adapter": "encodec"}, "encodec_24khz-d7cc33bc.th"),
    ],
)
def test_offline_without_cached_weights_says_where_to_put_them(
    options: dict[str, Any], needle: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsUnavailableError) as err:
        build_codec("paper_codec", options)
    message = str(err.value)
    assert needle in message and "codecs.paper_codec.weights" in message and str(tmp_path) in message


# --- decode-only builds ------------------------------------------------------------------------------------

#: the decode-only comparisons: every SPECS codec, a 16 kHz NeuCodec decoder (shared quantizer) and
#: StableCodec (the narrowed reconstruction: :func:`_case_options` adds its model_config)
DECODE_ONLY_CASES: dict[str, dict[str, Any]] = {
    **{name: spec.options for name, spec in SPECS.items()},
    "distill-16k": {**SPECS["distill"].options, "decoder_rate": 16_000},
    "stablecodec": {"adapter": "stablecodec", "random_weights": True},
}
_BUILT: dict[tuple[str, bool], CodecAdapter] = {}


@functools.cache
def _small_stable_config() -> Path:
    """The reconstructed StableCodec architecture narrowed to one 128-wide transformer layer per block
    (953 M -> 1.2 M parameters): the same patching, 50/25 Hz blocks and 6-d latent, so every layout and
    latent check applies, in milliseconds. Written once per session (the package reads configs from files)."""
    from nacbench.codecs.stablecodec_config import reconstructed_model_config

    config = reconstructed_model_config()
    for part in ("encoder", "decoder"):
        config["model"][part]["config"].update(channels=128, transformer_depths=[1, 1])
    folder = tempfile.mkdtemp(prefix="nacbench-test-stablecodec-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "model_config.json"
    path.write_text(json.dumps(config))
    return path


def _case_options(case: str) -> dict[str, Any]:
    options = DECODE_ONLY_CASES[case]
    if options["adapter"] == "stablecodec":
        return {**options, "model_config": str(_small_stable_config())}
    return options


def _built(case: str, decode_only: bool) -> CodecAdapter:
    """A case's full or decode-only build, once per session (SPECS' full builds are _get's)."""
    if case in SPECS and not decode_only:
        return _get(case).adapter
    if (case, decode_only) not in _BUILT:
        _BUILT[case, decode_only] = build_codec(case, _case_options(case), decode_only=decode_only)
    return _BUILT[case, decode_only]


def _random_codes(info: CodecInfo, frames: int, seed: int) -> np.ndarray:
    sizes = np.asarray(info.codebook_sizes)[:, None]
    return np.random.default_rng(seed).integers(0, sizes, (len(sizes), frames))


@pytest.mark.parametrize("case", list(DECODE_ONLY_CASES))
def test_decode_only_build_decodes_exactly_as_the_full_build(case: str) -> None:
    """A decode job builds the decoder alone; its audio is the full build's, bit for bit (random weights
    are drawn part by part, so leaving the encoder out changes no decoder weight), and so is its info."""
    full, decoder = _built(case, False), _built(case, True)
    assert decoder.decode_only and not full.decode_only
    assert decoder.info == full.info
    codes = [_random_codes(full.info, frames, seed) for seed, frames in enumerate((9, 4, 9))]
    if case in SPECS:
        codes.append(_get(case).codes()[1])  # what the full build's encoder made
    for a, b in zip(full.decode(codes), decoder.decode(codes), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("case", list(DECODE_ONLY_CASES))
def test_decode_only_build_has_no_encoder_and_refuses_to_encode(case: str) -> None:
    adapter, full = _built(case, True), _built(case, False)
    if case == "stablecodec":  # the package's model object, its encoder replaced by a stub
        from nacbench.codecs.stablecodec import _AbsentEncoder

        assert isinstance(adapter.codec.model.encoder, _AbsentEncoder)  # type: ignore[attr-defined]  # StableCodecAdapter's
    elif adapter.info.quantizer == "fsq":  # NeuCodec: the decoder's two modules, nothing else
        assert adapter.model is None  # type: ignore[attr-defined]  # CodecAdapter has no `model`; the torch adapters do
        assert {n for n, _ in adapter.decoder.named_children()} == {"generator", "fc_post_a"}  # type: ignore[attr-defined]  # NeuCodecAdapter's
    else:
        assert not hasattr(adapter.model, "encoder")  # type: ignore[attr-defined]  # the torch adapters' model
    needle = rf"codec '{case}' \(\w+\) was built decode-only"
    with pytest.raises(DecodeOnlyError, match=needle + ".* cannot encode"):
        adapter.encode([np.zeros(adapter.info.input_sample_rate // 10, np.float32)])
    with pytest.raises(DecodeOnlyError, match=needle):
        adapter.encoder_modules()
    with pytest.raises(DecodeOnlyError, match=needle + ".*'encoder_modules' for encRTF"):
        adapter.require(Capability.ENCODER_MODULES, "encRTF")
    assert adapter.capabilities == full.capabilities - ENCODER_CAPABILITIES
    # the quantizer views need no encoder
    if adapter.has(Capability.QUANTIZER_OUTPUT):
        codes = _random_codes(full.info, 5, 0)
        np.testing.assert_array_equal(adapter.quantizer_output(codes), full.quantizer_output(codes))
    else:
        for a, b in zip(adapter.codeword_vectors(), full.codeword_vectors(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_decode_only_neucodec_imports_no_semantic_model() -> None:
    """In a fresh process, a decode-only NeuCodec imports neither transformers (w2v-BERT) nor
    neucodec.model, nor the package __init__s it does without (torchtune's pulls in torchao and
    datasets); a full build after it in the same process still gets the package's own classes."""
    script = "\n".join(
        [
            "import sys",
            "from nacbench.codecs import build_codec",
            "options = {'adapter': 'neucodec', 'random_weights': True, 'random_semantic_layers': 1}",
            "build_codec('n', options, decode_only=True)",
            "heavy = ('transformers', 'torchaudio', 'neucodec', 'neucodec.model', 'torchtune', 'torchao')",
            "print(sorted(m for m in heavy if m in sys.modules))",
            "import neucodec, neucodec.codec_decoder_vocos as vocos",
            "print(neucodec.NeuCodec.decode_code.__module__, neucodec.model.CodecDecoderVocos is vocos.CodecDecoderVocos)",
        ]
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines() == ["[]", "neucodec.model True"]


def test_neucodec_decode_codes_is_the_packages_decode_code() -> None:
    """Both builds decode through decode_codes (the package's method would import transformers)."""
    from neucodec.model import NeuCodec

    from nacbench.codecs.neucodec import decode_codes

    adapter = _get("neucodec").adapter
    codes = torch.from_numpy(np.random.default_rng(3).integers(0, 65_536, (2, 1, 6)))
    with torch.inference_mode():
        ours = decode_codes(adapter.decoder, codes)  # type: ignore[attr-defined]  # NeuCodecAdapter's
        theirs = NeuCodec.decode_code(adapter.model, codes)  # type: ignore[attr-defined]  # NeuCodecAdapter's
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("variant", ["neucodec", "distill"])
def test_semantic_parameter_formula_counts_the_models(variant: str) -> None:
    """A decode-only build counts the semantic model by formula (no transformers): it must be the count
    of the model a full build makes, at any layer count."""
    from nacbench.codecs.neucodec import _random_semantic, full_semantic_parameters, semantic_parameters

    for layers in (1, 3):
        with torch.device("meta"):
            model, _, _ = _random_semantic(variant, layers)
        assert semantic_parameters(variant, layers) == count_parameters(model)
    assert semantic_parameters(variant) == full_semantic_parameters(variant)


def test_random_parts_are_seeded_by_name() -> None:
    """The decoder of a random build depends on its seed part alone: another seed, another decoder;
    NeuCodec and Distill-NeuCodec share their (part-named) random decoder."""
    codes = [_random_codes(_get("dac").adapter.info, 6, 1)]
    other = build_codec("dac", {**SPECS["dac"].options, "seed": 1}, decode_only=True)
    assert other.info.weights_id == "random-init(seed=1, per-part)"
    assert not np.array_equal(other.decode(codes)[0], _get("dac").adapter.decode(codes)[0])
    fsq = [np.arange(8, dtype=np.int64)[None] * 8_000]
    assert np.array_equal(_built("neucodec", True).decode(fsq)[0], _built("distill", True).decode(fsq)[0])


def test_dac_and_encodec_models_are_the_packages_and_their_encoder_counts_hold() -> None:
    """The adapters assemble the models part by part: same state dict layout and attributes as the
    package's constructors; and the encoder counts a decode-only build states are the encoders'."""
    from dac.model.dac import DAC
    from encodec.modules import SEANetEncoder

    from nacbench.codecs.dac import DAC_24KHZ_CONFIG, DAC_24KHZ_ENCODER_PARAMETERS
    from nacbench.codecs.encodec import ENCODER_PARAMETERS

    package = DAC(**DAC_24KHZ_CONFIG)
    ours = _get("dac").adapter.model  # type: ignore[attr-defined]  # the torch adapters' model
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in package.state_dict().items()
    }
    assert (ours.hop_length, ours.latent_dim, ours.delay) == (
        package.hop_length,
        package.latent_dim,
        package.delay,
    )
    assert count_parameters(package.encoder) == DAC_24KHZ_ENCODER_PARAMETERS
    assert count_parameters(SEANetEncoder(channels=1, norm="weight_norm", causal=True)) == ENCODER_PARAMETERS


def test_load_checkpoint_maps_zip_files_once_and_reads_legacy_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nacbench.codecs import torchutil

    calls: list[bool] = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["mmap"])
        assert kwargs["weights_only"] is True
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    state = {"w": torch.arange(4.0)}
    torch.save(state, tmp_path / "zip.pt")
    torch.save(state, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    mapped = torchutil.load_checkpoint(tmp_path / "zip.pt", "o")
    assert torchutil.load_checkpoint(tmp_path / "zip.pt", "o") is mapped  # once per process
    legacy = torchutil.load_checkpoint(tmp_path / "legacy.pt", "o")
    assert torchutil.load_checkpoint(tmp_path / "legacy.pt", "o") is not legacy  # read again, not kept
    assert calls == [True, False, False]
    assert torch.equal(mapped["w"], state["w"]) and torch.equal(legacy["w"], state["w"])
    with pytest.raises(WeightsUnavailableError, match=r"codecs\.x\.weights: cannot read checkpoint"):
        torchutil.load_checkpoint(tmp_path / "absent.pt", "codecs.x.weights")


def test_dac_weights_file_decode_only_reads_no_encoder_key(tmp_path: Path) -> None:
    """Real-weights path on a small 24 kHz / hop-320 DAC written as the package writes its files."""
    from nacbench.codecs.dac import DAC_24KHZ_CONFIG, build_dac_model

    small = {**DAC_24KHZ_CONFIG, "encoder_dim": 8, "decoder_dim": 16, "n_codebooks": 8}
    model, _ = build_dac_model(small, seed=5, decode_only=False)
    state = model.state_dict()

    def write(name: str, keys: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, Any]:
        torch.save({"state_dict": keys, "metadata": {"kwargs": small}}, tmp_path / name, **kwargs)
        return {"adapter": "dac", "weights": str(tmp_path / name)}

    complete = write("complete.pth", state)
    full, decoder = build_codec("dac", complete), build_codec("dac", complete, decode_only=True)
    assert full.info == decoder.info and full.info.weights_id.startswith("file:")
    codes = [_random_codes(full.info, 7, 2)]
    assert np.array_equal(full.decode(codes)[0], decoder.decode(codes)[0])
    legacy = write("legacy.pth", state, _use_new_zipfile_serialization=False)  # not mappable: read whole
    assert np.array_equal(
        build_codec("dac", legacy, decode_only=True).decode(codes)[0], full.decode(codes)[0]
    )
    # a file without the encoder serves a decode-only build, not a full one
    no_encoder = write("no_encoder.pth", {k: v for k, v in state.items() if not k.startswith("encoder.")})
    assert np.array_equal(
        build_codec("dac", no_encoder, decode_only=True).decode(codes)[0], full.decode(codes)[0]
    )
    with pytest.raises(WeightsUnavailableError, match=r"\d+ missing keys \(e\.g\. \['encoder\."):
        build_codec("dac", no_encoder)
    # a decoder key missing or a stray key: refused by both
    broken = write("broken.pth", {k: v for k, v in state.items() if k != "decoder.model.0.bias"})
    with pytest.raises(WeightsUnavailableError, match="1 missing keys"):
        build_codec("dac", broken, decode_only=True)
    stray = write("stray.pth", {**state, "stray.weight": torch.zeros(1)})
    with pytest.raises(WeightsUnavailableError, match=r"1 unexpected keys \(e\.g\. \['stray\.weight'\]"):
        build_codec("dac", stray, decode_only=True)


def test_encodec_checkpoint_decode_only_matches_the_full_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real-weights path: a random model's state dict under a checkpoint name whose hash prefix fits it
    (the package and the adapter check the prefix)."""
    import hashlib

    from nacbench.codecs import encodec as encodec_module

    model = _get("encodec").adapter.model  # type: ignore[attr-defined]  # the torch adapters' model
    draft = tmp_path / "draft.th"
    torch.save(model.state_dict(), draft)
    prefix = hashlib.sha256(draft.read_bytes()).hexdigest()[:8]
    monkeypatch.setattr(encodec_module, "CHECKPOINT", f"encodec_24khz-{prefix}.th")
    draft.rename(tmp_path / encodec_module.CHECKPOINT)
    options = {"adapter": "encodec", "weights": str(tmp_path)}
    full, decoder = build_codec("encodec", options), build_codec("encodec", options, decode_only=True)
    assert full.info == decoder.info and not full.info.random_weights
    assert not hasattr(decoder.model, "encoder")  # type: ignore[attr-defined]  # the torch adapters' model
    codes = [_random_codes(full.info, 6, 4)]
    reference = _get("encodec").adapter.decode(codes)[0]  # the same weights, built from the seed
    assert np.array_equal(full.decode(codes)[0], reference)
    assert np.array_equal(decoder.decode(codes)[0], reference)


# --- latent access (the quantizer swap) --------------------------------------------------------------------

#: the latent's dimension per case: DAC's encoder output (latent_dim), EnCodec's, NeuCodec's FSQ output,
#: StableCodec's pre-bottleneck latent
LATENT_DIMS: dict[str, int] = {
    "neucodec": 2048,
    "distill": 2048,
    "distill-16k": 2048,
    "dac": 1024,
    "encodec": 128,
    "stablecodec": 6,
}


def _latents(run: Run) -> list[np.ndarray]:
    if "latents" not in run.cache:
        run.cache["latents"] = run.adapter.encode_latent(run.wavs)
    return run.cache["latents"]


def _native_quantizer(run: Run, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codec's own quantizer applied to ``latent`` ``[dim, frames]``: its codes and what it hands the
    decoder ``[dim, frames]``. FSQ: the 8 bounded components, recovered from the 2048-d latent through
    the output projection (least squares; it is 8 -> 2048, full rank), rounded to their levels."""
    model = run.adapter.model  # type: ignore[attr-defined]  # the torch adapters' model
    z = torch.from_numpy(latent)[None]
    with torch.inference_mode():
        if run.spec.quantizer == "fsq":
            project_out = model.generator.quantizer.project_out
            weight, bias = project_out.weight.double().numpy(), project_out.bias.double().numpy()
            bounded = np.linalg.lstsq(weight, latent.astype(np.float64) - bias[:, None], rcond=None)[0]
            levels = np.rint(2 * bounded).astype(np.int64) + 2  # components in units of half a level
            assert (
                np.abs(bounded - (levels - 2) / 2).max() <= 0.25 + 1e-4
            )  # rounding moves it half a step at most
            codes = levels_to_indices(levels.T, (4,) * 8)[None]
            return codes, run.adapter.quantizer_output(codes).T
        if run.adapter.info.name == "dac":
            z_q, codes, *_ = model.quantizer(z, n_quantizers=run.adapter.info.n_codebooks)
            return codes[0].numpy(), z_q[0].numpy()
        result = model.quantizer(z, model.frame_rate, run.adapter.bandwidth)  # type: ignore[attr-defined]  # EncodecAdapter's
        return result.codes[:, 0].numpy(), result.quantized[0].numpy()


def test_latent_has_one_frame_per_code_frame(run: Run) -> None:
    latents = _latents(run)
    for wav, latent, codes in zip(run.wavs, latents, run.codes(), strict=True):
        assert latent.dtype == np.float32 and np.isfinite(latent).all()
        assert latent.shape == (LATENT_DIMS[run.adapter.info.name], codes.shape[1])
        assert codes.shape[1] == run.spec.frames(len(wav))
    # the unquantized latent decodes as codes do
    (audio,) = run.adapter.decode_latent(latents[1:2])
    assert audio.dtype == np.float32 and len(audio) == run.codes()[1].shape[1] * run.spec.hop_out
    # batched as encode batches: one by one gives the same, to float rounding (NeuCodec's encoders round
    # differently in a batch of two: 2e-6 observed, where its codes stay equal)
    np.testing.assert_allclose(run.adapter.encode_latent(run.wavs[:1])[0], latents[0], rtol=0, atol=1e-5)


def test_latent_is_what_the_native_quantizer_quantizes(run: Run) -> None:
    """The codec's own quantizer applied to encode_latent gives encode's codes exactly: the latent is the
    quantizer's input (FSQ: its bounded components before rounding)."""
    for latent, codes in zip(_latents(run), run.codes(), strict=True):
        native_codes, _ = _native_quantizer(run, latent)
        np.testing.assert_array_equal(native_codes, codes)


def test_decode_latent_of_the_native_reconstruction_is_decode(run: Run) -> None:
    """decode_latent is the decoder behind decode: fed what the native quantizer hands the decoder, it
    gives decode's audio. Exact for EnCodec and NeuCodec (the same operations on the same values). DAC's
    RVQ forward pass adds its straight-through term ``z_e + (z_q - z_e)`` before the output projection,
    which rounds differently from ``from_codes`` (observed: 1.2e-7 at a peak of 0.1), so there it is
    within 1e-6, and exact on ``from_codes``' sum."""
    latent, codes = _latents(run)[1], run.codes()[1]
    _, reconstruction = _native_quantizer(run, latent)
    (from_latent,) = run.adapter.decode_latent([reconstruction])
    (from_codes,) = run.adapter.decode([codes])
    if run.adapter.info.name == "dac":
        np.testing.assert_allclose(from_latent, from_codes, rtol=0, atol=1e-6)
        with torch.inference_mode():
            summed = run.adapter.model.quantizer.from_codes(torch.from_numpy(codes)[None])[0][0].numpy()  # type: ignore[attr-defined]  # the torch adapters' model
        assert np.array_equal(run.adapter.decode_latent([summed])[0], from_codes)
    else:
        assert np.array_equal(from_latent, from_codes)
    # the unquantized latent is not the quantized one: the quantizer does something to it
    assert not np.allclose(latent, reconstruction, atol=1e-3)


@pytest.mark.parametrize("name", ["neucodec", "distill"])
def test_neucodec_latent_is_the_fsq_output_without_rounding(name: str) -> None:
    """fsq_bounded is what the package's quantizer rounds (its indices and output follow from rounding
    it); fsq_unrounded_output is that output with the rounding left out."""
    from nacbench.codecs.neucodec import fsq_bounded, fsq_unrounded_output

    quantizer = _get(name).adapter.model.generator.quantizer  # type: ignore[attr-defined]  # the torch adapters' model
    x = torch.randn(1, 40, 2048, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        native, indices = quantizer(x)
        bounded = fsq_bounded(quantizer, x)  # [1, 40, 8] in level units
        rounded = torch.round(bounded)
        unrounded = fsq_unrounded_output(quantizer, x)
        np.testing.assert_allclose(quantizer.project_out(rounded / 2).numpy(), native.numpy(), atol=1e-6)
        np.testing.assert_allclose(quantizer.project_out(bounded / 2).numpy(), unrounded.numpy(), atol=1e-6)
    levels = rounded[0].numpy().astype(np.int64) + 2
    np.testing.assert_array_equal(levels_to_indices(levels, (4,) * 8), indices[0, :, 0].numpy())
    assert bounded.min() > -2.002 and bounded.max() < 1.002  # FSQ's bound for 4 levels
    assert not np.allclose(unrounded.numpy(), native.numpy(), atol=1e-3)


@pytest.mark.parametrize("case", list(DECODE_ONLY_CASES))
def test_decode_only_build_refuses_encode_latent_and_decodes_latents_alike(case: str) -> None:
    full, decoder = _built(case, False), _built(case, True)
    dim = LATENT_DIMS[case]
    needle = rf"codec '{case}' \(\w+\) was built decode-only"
    with pytest.raises(DecodeOnlyError, match=needle + ".* cannot encode_latent"):
        decoder.encode_latent([np.zeros(decoder.info.input_sample_rate // 10, np.float32)])
    with pytest.raises(DecodeOnlyError, match=needle + ".*'encode_latent' for the quantizer swap"):
        decoder.require(Capability.ENCODE_LATENT, "the quantizer swap")
    assert decoder.require(Capability.DECODE_LATENT) is decoder
    rng = np.random.default_rng(5)
    latents = [rng.standard_normal((dim, frames)).astype(np.float32) for frames in (7, 3, 7)]
    for a, b in zip(full.decode_latent(latents), decoder.decode_latent(latents), strict=True):
        assert np.array_equal(a, b) and len(a) == len(b)
    with pytest.raises(
        ValueError, match=rf"codec '{case}': latent 1 has shape \(8, 3\), expected \({dim}, frames\)"
    ):
        decoder.decode_latent([latents[0], np.zeros((8, 3), np.float32)])


def test_latent_access_in_the_static_table() -> None:
    """The codec table says which adapters have latent access (config validation reads it, building
    nothing): DAC, EnCodec, both NeuCodecs and StableCodec, full or decode-only, with the latent's
    dimension the built adapter gives."""
    from nacbench.codecs import ADAPTERS, static_layout

    latent = {Capability.ENCODE_LATENT, Capability.DECODE_LATENT}
    for case, options in DECODE_ONLY_CASES.items():
        full, decoder = _built(case, False), _built(case, True)
        layout = static_layout(options["adapter"], options)
        assert latent <= layout.capabilities == full.capabilities
        assert decoder.capabilities == full.capabilities - ENCODER_CAPABILITIES
        assert ADAPTERS[options["adapter"]].latent_dim == LATENT_DIMS[case]


# --- StableCodec -------------------------------------------------------------------------------------------


def test_stablecodec_index_layout_follows_dithered_fsq() -> None:
    from nacbench.codecs.stablecodec import (
        POSTHOC_LEVELS,
        dithered_fsq_level_values,
        stablecodec_codeword_vectors,
        stablecodec_indices_to_latents,
        stablecodec_latents_to_indices,
    )

    assert math.prod(POSTHOC_LEVELS) == 65_536
    # DitheredFSQ: value = l * 2 / (L - 1) - 1 (symmetric), basis cumprod([1, 8, 8, 8, 8, 4])
    np.testing.assert_allclose(dithered_fsq_level_values([4])[0], [-1, -1 / 3, 1 / 3, 1])
    np.testing.assert_allclose(dithered_fsq_level_values([8], scale=0.5)[0], np.linspace(-0.5, 0.5, 8))
    latents = stablecodec_indices_to_latents(np.array([0, 1, 8, 4096, 16_384, 65_535]))
    expected = np.full((6, 6), -1.0)
    expected[1, 0] = -1 + 2 / 7  # index 1: dimension 0 is the least significant digit
    expected[2, 1] = -1 + 2 / 7  # 8 = one step of dimension 1
    expected[3, 4] = -1 + 2 / 3  # 4096 = 8**4: first step of the 4-level dimension 4
    expected[4, 5] = -1 + 2 / 3  # 16384 = 8**4 * 4
    expected[5] = 1.0
    np.testing.assert_allclose(latents, expected)
    grid = stablecodec_codeword_vectors()
    assert grid.shape == (65_536, 6)
    np.testing.assert_array_equal(stablecodec_latents_to_indices(grid), np.arange(65_536))
    jitter = np.random.default_rng(0).uniform(-0.1, 0.1, grid.shape)  # < half a step (1/7)
    np.testing.assert_array_equal(
        stablecodec_latents_to_indices(np.clip(grid + jitter, -1, 1)), np.arange(65_536)
    )


def test_stablecodec_layout_matches_the_package() -> None:
    from stable_codec.fsq import DitheredFSQ

    from nacbench.codecs.stablecodec import POSTHOC_LEVELS, stablecodec_indices_to_latents

    fsq = DitheredFSQ(levels=list(POSTHOC_LEVELS), scale=1.0).eval()
    indices = torch.arange(65_536)[None, :, None]
    theirs = fsq.indices_to_codes(indices)[0].numpy()
    np.testing.assert_allclose(stablecodec_indices_to_latents(np.arange(65_536)), theirs, atol=1e-6)
    _, back = fsq(torch.from_numpy(theirs)[None].double(), skip_tanh=True)
    np.testing.assert_array_equal(back[0, :, 0].numpy(), np.arange(65_536))


def test_stablecodec_without_its_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "stable_codec", None)  # makes `import stable_codec` fail
    with pytest.raises(
        RuntimeError,
        match=r"codecs\.sc: cannot import stable_codec .*tools/setup\.sh.*"
        r"requirements-stable-codec-nodeps\.txt.*envs/stable-codec\.yaml",
    ):
        build_codec("sc", {"adapter": "stablecodec", "random_weights": True})


class _FakeStableCodec:
    """The two pieces of ``stable_codec.StableCodec`` the gain report uses, without the package: padding to
    the hop, and a ``VolumeNorm`` stand-in with its behaviour (silence untouched; one gain to a target
    level, here RMS 0.1 in place of -20 LUFS; divided by the peak if the result would clip)."""

    def __init__(self, hop: int = 640) -> None:
        def preprocess(audio: torch.Tensor, rate: int) -> torch.Tensor:
            pad = -audio.shape[-1] % hop
            return torch.nn.functional.pad(audio, (0, pad))[None]

        self.model = type(
            "Model", (), {"downsampling_ratio": hop, "preprocess_audio_for_encoder": preprocess}
        )

    @staticmethod
    def volume_norm(signal: torch.Tensor) -> torch.Tensor:
        if torch.mean(signal**2) < 1e-4:
            return signal
        out = signal * (0.1 / torch.sqrt(torch.mean(signal**2)))
        return out / out.abs().max() if out.abs().max() >= 1.0 else out


def test_stablecodec_reports_the_gain_of_its_loudness_normalisation() -> None:
    """The decode stage divides this gain out, so it must be the factor the adapter really applied."""
    from nacbench.codecs.stablecodec import StableCodecAdapter, applied_gain_db

    info = CodecInfo(
        "sc", "StableCodec", 16_000, 16_000, 25.0, (65_536,), "fsq", fsq_levels=(8, 8, 8, 8, 4, 4)
    )
    adapter = StableCodecAdapter(_FakeStableCodec(), info, torch.device("cpu"), 1, "exact", normalize=True)
    rng = np.random.default_rng(0)
    loud = (0.5 * rng.normal(size=9_000)).astype(np.float32)
    quiet = (0.02 * rng.normal(size=9_000)).astype(np.float32)
    padded_rms = {
        n: np.sqrt(np.sum(w.astype(np.float64) ** 2) / 9_600) for n, w in (("loud", loud), ("quiet", quiet))
    }
    assert adapter.input_gain_db(loud) == pytest.approx(20 * math.log10(0.1 / padded_rms["loud"]), abs=1e-4)
    assert adapter.input_gain_db(quiet) == pytest.approx(20 * math.log10(0.1 / padded_rms["quiet"]), abs=1e-4)
    spike = np.zeros(9_000, np.float32)
    spike[100:120] = 0.9  # RMS normalisation would push the peak above 1: the peak division decides the gain
    assert adapter.input_gain_db(spike) == pytest.approx(20 * math.log10(1 / 0.9), abs=1e-4)
    assert adapter.input_gain_db(np.full(9_000, 1e-3, np.float32)) == 0.0  # below the energy threshold
    # undoing the reported gain on the normalised input gives the input back
    prepared = adapter._prepare(quiet).numpy().ravel()[:9_000]
    np.testing.assert_allclose(prepared * 10 ** (-adapter.input_gain_db(quiet) / 20), quiet, atol=1e-6)
    plain = StableCodecAdapter(_FakeStableCodec(), info, torch.device("cpu"), 1, "exact", normalize=False)
    assert plain.input_gain_db(loud) == 0.0
    with pytest.raises(ValueError, match="not a positive gain"):
        applied_gain_db(loud, np.tanh(4 * loud))


def test_stablecodec_random_round_trip_on_the_reconstructed_architecture() -> None:
    """Offline, without the gated model_config.json: random weights on the reconstructed architecture
    (full size, 953 M parameters), marked as such; codes, lengths and the decode-only build as for the
    other codecs. Built once, one model at a time (3.8 GB of float32 weights)."""
    import gc

    options = {"adapter": "stablecodec", "random_weights": True}
    adapter = build_codec("sc", options)
    info = adapter.info
    assert info.codebook_sizes == (65_536,) and info.bits_per_codebook == (16,) and info.frame_rate == 25.0
    assert info.input_sample_rate == info.output_sample_rate == 16_000 and info.random_weights
    assert info.extra["config"] == "reconstructed" and info.extra["config_id"]
    assert "config reconstructed" in info.weights_id and info.weights_id.startswith("random-init(seed=0")
    assert info.display_name == "StableCodec (config reconstructed)"
    assert info.parameters["total"] == pytest.approx(950e6, rel=0.01)  # the paper's "950M"
    assert adapter.latent_dim == 6  # type: ignore[attr-defined]  # StableCodecAdapter's
    wavs = [_speechlike(np.random.default_rng(0), n, 16_000) for n in (16_000, 9_000, 16_000)]
    codes = adapter.encode(wavs)
    hop = 640
    for wav, c in zip(wavs, codes, strict=True):
        assert c.dtype == np.int64 and c.shape == (1, math.ceil(len(wav) / hop))
    np.testing.assert_array_equal(adapter.encode(wavs[2:])[0], codes[2])  # alone = in a batch of two
    # random weights keep the tanh'ed latent near 0 (|x| < 0.1 here), so each component mostly sits on
    # one of its two middle levels: few distinct codes, but not a constant stream
    assert len(np.unique(np.concatenate([c.ravel() for c in codes]))) > 1
    audio = adapter.decode(codes)
    for c, a in zip(codes, audio, strict=True):
        assert a.dtype == np.float32 and len(a) == c.shape[1] * hop and np.isfinite(a).all()
    del adapter
    gc.collect()
    # decode-only: the package's own encoder left out, the same audio and info
    decoder = build_codec("sc", options, decode_only=True)
    assert decoder.info == info
    for a, b in zip(audio, decoder.decode(codes), strict=True):
        assert np.array_equal(a, b)


def test_stablecodec_reconstructed_config_only_without_a_model_config(tmp_path: Path) -> None:
    """A given model_config.json wins over the reconstruction, and nothing then says "reconstructed"."""
    from nacbench.codecs.stablecodec import CONFIG_GIVEN

    options = {"adapter": "stablecodec", "random_weights": True, "model_config": str(_small_stable_config())}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adapter = build_codec("sc", options)
    # the package's per-layer print (no FlashAttention here) comes through once, as a warning
    notices = [str(w.message) for w in caught if "Sliding window" in str(w.message)]
    assert len(notices) <= 1 and all(n.startswith("stable_codec: ") for n in notices)
    assert adapter.info.extra["config"] == CONFIG_GIVEN and adapter.info.extra["config_id"] is None
    assert adapter.info.weights_id == "random-init(seed=0, per-part)"
    assert adapter.info.display_name == "StableCodec"
    with pytest.raises(
        WeightsUnavailableError, match=r"codecs\.sc\.model_config: no file .*leave model_config out"
    ):
        build_codec(
            "sc", {"adapter": "stablecodec", "random_weights": True, "model_config": str(tmp_path / "x")}
        )


def _stable_run() -> Run:
    """The narrowed StableCodec and its inputs (two of equal length: a real batch of two forms)."""
    if "stablecodec" not in _RUNS:
        wavs = [_speechlike(np.random.default_rng(7), n, 16_000) for n in (16_000, 9_000, 16_000)]
        spec = Spec(
            {}, 16_000, (16_000, 9_000, 16_000), lambda n: math.ceil(n / 640), 640, (65_536,), 400.0, "fsq"
        )
        _RUNS["stablecodec"] = Run(_built("stablecodec", False), spec, wavs)
    return _RUNS["stablecodec"]


def test_stablecodec_latent_has_one_frame_per_code_frame() -> None:
    """encode_latent: the 6-d bounded latent, one frame per code frame, batched as encode batches."""
    run = _stable_run()
    latents = _latents(run)
    for wav, latent, codes in zip(run.wavs, latents, run.codes(), strict=True):
        assert latent.dtype == np.float32 and latent.shape == (6, codes.shape[1])
        assert codes.shape[1] == run.spec.frames(len(wav))
        assert np.abs(latent).max() < 1  # after the post-hoc FSQ's tanh
    # alone as in a batch of two, to float rounding (the batched matrix products round differently:
    # 3e-8 observed; the codes stay equal)
    np.testing.assert_allclose(run.adapter.encode_latent(run.wavs[2:])[0], latents[2], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(run.adapter.encode(run.wavs[2:])[0], run.codes()[2])
    (audio,) = run.adapter.decode_latent(latents[1:2])
    assert audio.dtype == np.float32 and len(audio) == run.codes()[1].shape[1] * 640


def test_stablecodec_latent_is_what_the_posthoc_fsq_rounds() -> None:
    """The package's post-hoc FSQ (its DitheredFSQ on tanh'ed input, skip_tanh) applied to encode_latent
    gives encode's codes exactly, and so does nacbench's pure index layout."""
    from nacbench.codecs.stablecodec import stablecodec_latents_to_indices

    run = _stable_run()
    fsq = run.adapter.codec.residual_fsq.quantizers[0]  # type: ignore[attr-defined]  # StableCodecAdapter's
    for latent, codes in zip(_latents(run), run.codes(), strict=True):
        with torch.inference_mode():
            _, indices = fsq(torch.from_numpy(latent.T)[None].double(), skip_tanh=True)
        np.testing.assert_array_equal(indices[0, :, 0].numpy(), codes[0])
        np.testing.assert_array_equal(stablecodec_latents_to_indices(latent.T), codes[0])


def test_stablecodec_decode_latent_of_the_fsq_reconstruction_is_decode() -> None:
    """decode_latent is the decoder behind decode: fed the post-hoc FSQ's reconstruction of the codes
    (the package's float32 grid values) it gives decode's audio bit for bit. nacbench's grid (float64,
    then float32) can differ from the package's float32 arithmetic in the last bit of a value, so there
    the tolerances are 2e-7 on the grid and 1e-6 on the audio (observed: 7.5e-8 and 1.2e-7, at an audio
    peak of 0.2, on this model and on the full-size one)."""
    from nacbench.codecs.stablecodec import stablecodec_indices_to_latents

    run = _stable_run()
    latent, codes = _latents(run)[1], run.codes()[1]
    with torch.inference_mode():
        grid = run.adapter.codec.residual_fsq.decode([torch.from_numpy(codes.T)[None]])[0].numpy()  # type: ignore[attr-defined]  # StableCodecAdapter's
    (from_codes,) = run.adapter.decode([codes])
    assert np.array_equal(run.adapter.decode_latent([grid])[0], from_codes)
    ours = stablecodec_indices_to_latents(codes[0]).T.astype(np.float32)
    np.testing.assert_allclose(ours, grid, rtol=0, atol=2e-7)
    np.testing.assert_allclose(run.adapter.decode_latent([ours])[0], from_codes, rtol=0, atol=1e-6)
    # the unquantized latent is not the quantized one: the quantizer does something to it
    assert not np.allclose(latent, grid, atol=1e-3)


#: a stand-in for stable-codec 0.1.2 + stable-audio-tools 0.0.17 with their shape where the adapter relies
#: on it: StableCodec builds its model through create_model_from_config, whose autoencoder factory calls
#: module-level part factories (a pretransform nesting an autoencoder of its own), then moves it to its
#: device; the post-hoc FSQ maps indices to a [-1, 1] grid with dimension 0 least significant
_FAKE_STABLE_PACKAGES = {
    "stable_audio_tools/__init__.py": "",
    "stable_audio_tools/models/__init__.py": "from .factory import create_model_from_config\n",
    "stable_audio_tools/models/factory.py": """
import torch

def create_model_from_config(config):
    from .autoencoders import create_autoencoder_from_config
    return create_autoencoder_from_config(config)

def create_bottleneck_from_config(config):
    return torch.nn.Identity()

def create_pretransform_from_config(config, sample_rate):
    from .autoencoders import Pretransform, create_autoencoder_from_config
    return Pretransform(create_autoencoder_from_config({"sample_rate": sample_rate, "model": config["config"]}))
""",
    "stable_audio_tools/models/autoencoders.py": """
import torch
from torch import nn
from .factory import create_bottleneck_from_config, create_pretransform_from_config

def create_encoder_from_config(c):
    return nn.Conv1d(c["in"], c["out"], c["stride"], stride=c["stride"])

def create_decoder_from_config(c):
    return nn.ConvTranspose1d(c["in"], c["out"], c["stride"], stride=c["stride"])

class Pretransform(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

class AudioAutoencoder(nn.Module):
    def __init__(self, encoder, decoder, downsampling_ratio, bottleneck, pretransform):
        super().__init__()
        self.encoder, self.decoder, self.bottleneck = encoder, decoder, bottleneck
        self.pretransform, self.downsampling_ratio = pretransform, downsampling_ratio

    def preprocess_audio_for_encoder(self, audio, rate):
        return nn.functional.pad(audio, (0, -audio.shape[-1] % self.downsampling_ratio))[None]

    def encode_audio(self, audio):
        x = self.pretransform.model.encode_audio(audio) if self.pretransform is not None else audio
        return self.encoder(x)

    def decode_audio(self, latents):
        y = self.decoder(latents)
        return self.pretransform.model.decode_audio(y) if self.pretransform is not None else y

def create_autoencoder_from_config(config):
    ae = config["model"]
    encoder = create_encoder_from_config(ae["encoder"])
    decoder = create_decoder_from_config(ae["decoder"])
    pretransform = ae.get("pretransform")
    pretransform = create_pretransform_from_config(pretransform, config["sample_rate"]) if pretransform else None
    bottleneck = create_bottleneck_from_config(ae["bottleneck"]) if ae.get("bottleneck") else None
    return AudioAutoencoder(encoder, decoder, ae["downsampling_ratio"], bottleneck, pretransform)
""",
    "stable_codec/__init__.py": """
import json
import torch
from stable_audio_tools.models import create_model_from_config

class StableCodec(torch.nn.Module):
    def __init__(self, model_config_path=None, device=torch.device("cpu")):
        super().__init__()
        config = json.loads(open(model_config_path).read())
        self.model = create_model_from_config(config).to(device).eval().requires_grad_(False)
        self.sample_rate, self.device = config["sample_rate"], device

    def set_posthoc_bottleneck(self, stages):
        self.levels = torch.tensor(stages[0][0])
        self.basis = torch.cumprod(torch.tensor([1, *stages[0][0][:-1]]), 0)

    def volume_norm(self, audio):
        return audio

    def encode(self, audio, posthoc_bottleneck=False):
        pre_bottleneck = self.model.encode_audio(audio)  # [B, D, S]
        latents = torch.tanh(pre_bottleneck).transpose(1, 2)  # [B, S, D]
        digits = torch.round((latents + 1) / 2 * (self.levels - 1)).long()
        return pre_bottleneck, [(digits * self.basis).sum(-1, keepdim=True)]

    def decode(self, tokens, posthoc_bottleneck=False):
        digits = (tokens[0] // self.basis) % self.levels  # [B, S, D]
        return self.model.decode_audio((digits * 2 / (self.levels - 1) - 1).float().transpose(1, 2))
""",
}
_FAKE_STABLE_CONFIG = {
    "sample_rate": 16_000,
    "model": {
        "downsampling_ratio": 4,
        "encoder": {"in": 3, "out": 6, "stride": 2},
        "decoder": {"in": 6, "out": 3, "stride": 2},
        "bottleneck": {"type": "identity"},
        "pretransform": {
            "type": "autoencoder",
            "config": {
                "downsampling_ratio": 2,
                "encoder": {"in": 1, "out": 3, "stride": 2},
                "decoder": {"in": 3, "out": 1, "stride": 2},
            },
        },
    },
}


@pytest.fixture
def fake_stable_codec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The stand-in packages importable for one test (the real ones out of sys.modules before it, the
    stand-ins after it: the next import finds the real package again); returns the model_config.json path."""
    _forget_stable_packages()
    for name, text in _FAKE_STABLE_PACKAGES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "model_config.json").write_text(json.dumps(_FAKE_STABLE_CONFIG))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "model_config.json"
    _forget_stable_packages()


def _forget_stable_packages() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in {"stable_codec", "stable_audio_tools"}]:
        del sys.modules[name]


def test_stablecodec_decode_only_builds_its_parts_apart(fake_stable_codec: Path) -> None:
    """Against the stand-in package: parts seeded by name, the decode-only encoder made on the meta
    device and dropped (the pretransform's own autoencoder kept whole), same audio and info as the full
    build, and the package's factories restored afterwards."""
    from stable_audio_tools.models import autoencoders

    from nacbench.codecs.stablecodec import _AbsentEncoder
    from nacbench.codecs.torchutil import seeded_part

    factory = autoencoders.create_encoder_from_config
    options = {"adapter": "stablecodec", "random_weights": True, "model_config": str(fake_stable_codec)}
    full, decoder = build_codec("sc", options), build_codec("sc", options, decode_only=True)
    assert autoencoders.create_encoder_from_config is factory
    assert decoder.info == full.info
    # the encoder's parameters (counted on the meta device for the decode-only build) with the pretransform's
    assert full.info.parameters["encoder"] == (3 * 6 * 2 + 6) + (1 * 3 * 2 + 3) + (3 * 1 * 2 + 1)
    model = decoder.codec.model  # type: ignore[attr-defined]  # StableCodecAdapter's
    assert isinstance(model.encoder, _AbsentEncoder) and not list(model.encoder.parameters())
    assert isinstance(model.pretransform.model.encoder, torch.nn.Conv1d)
    with seeded_part(0, "decoder"):
        expected = torch.nn.ConvTranspose1d(6, 3, 2, stride=2)
    assert torch.equal(model.decoder.weight, expected.weight)
    with seeded_part(0, "pretransform.encoder"):
        expected_inner = torch.nn.Conv1d(1, 3, 2, stride=2)
    assert torch.equal(full.codec.model.pretransform.model.encoder.weight, expected_inner.weight)  # type: ignore[attr-defined]  # StableCodecAdapter's
    wavs = [_speechlike(np.random.default_rng(5), n, 16_000) for n in (400, 280)]
    codes = full.encode(wavs)
    codes.append(_random_codes(full.info, 30, 6))
    for a, b in zip(full.decode(codes), decoder.decode(codes), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(DecodeOnlyError, match=r"codec 'sc' \(StableCodecAdapter\) was built decode-only"):
        decoder.encode(wavs)


def test_stablecodec_weights_decode_only_skips_the_encoder(fake_stable_codec: Path) -> None:
    """Real-weights path against the stand-in: a folder with model_config.json and model.safetensors."""
    from safetensors.torch import save_file

    options = {"adapter": "stablecodec", "random_weights": True, "model_config": str(fake_stable_codec)}
    state = build_codec("sc", {**options, "seed": 3}).codec.model.state_dict()  # type: ignore[attr-defined]  # StableCodecAdapter's
    folder = fake_stable_codec.parent
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"))
    full = build_codec("sc", {"adapter": "stablecodec", "weights": str(folder)})
    decoder = build_codec("sc", {"adapter": "stablecodec", "weights": str(folder)}, decode_only=True)
    assert decoder.info == full.info and full.info.weights_id == f"file:{folder.resolve()}"
    for key in ("decoder.weight", "pretransform.model.decoder.bias"):
        assert torch.equal(decoder.codec.model.state_dict()[key], state[key])  # type: ignore[attr-defined]  # StableCodecAdapter's
    codes = [_random_codes(full.info, 12, 1)]
    assert np.array_equal(full.decode(codes)[0], decoder.decode(codes)[0])
    save_file(
        {k: v.contiguous() for k, v in state.items() if k != "decoder.bias"},
        str(folder / "model.safetensors"),
    )
    with pytest.raises(WeightsUnavailableError, match=r"1 missing keys \(e\.g\. \['decoder\.bias'\]"):
        build_codec("sc", {"adapter": "stablecodec", "weights": str(folder)}, decode_only=True)


def test_stablecodec_conda_env_and_requirements_agree(repo_dir: Any) -> None:
    import yaml

    env = yaml.safe_load((repo_dir / "envs" / "stable-codec.yaml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    lines = (repo_dir / "envs" / "requirements-stable-codec.txt").read_text().splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert "python=3.10" in env["dependencies"]
    assert pip_lists == [requirements]
    assert "stable-codec==0.1.2" in requirements and "torch==2.4.0" in requirements


def _exact_pins(path: Path) -> dict[str, str]:
    """Distribution -> version of a requirements file that pins every line exactly (``name==version``)."""
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version and not set(version) & set("<>=!~;, "), f"{path.name}: {line!r}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_stablecodec_nodeps_requirements_keep_the_main_environment(repo_dir: Any) -> None:
    """envs/requirements-stable-codec-nodeps.txt, installed into .venv with --no-deps: exact pins, the
    conda environment's stable-codec and stable-audio-tools, nothing that would move the main
    environment's torch, torchaudio or numpy, no pin another requirements file excludes, the torchvision
    built for the pinned torch; and set up, .venv holds exactly these versions."""
    from importlib import metadata

    from packaging.requirements import Requirement

    envs = repo_dir / "envs"
    nodeps = _exact_pins(envs / "requirements-stable-codec-nodeps.txt")
    own_env = [line.strip() for line in (envs / "requirements-stable-codec.txt").read_text().splitlines()]
    for package in ("stable-codec", "stable-audio-tools"):
        assert f"{package}=={nodeps[package]}" in own_env
    assert not {"torch", "torchaudio", "numpy"} & set(nodeps)
    for other in ("requirements.txt", "requirements-dev.txt"):
        for raw in (envs / other).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line and (req := Requirement(line)).name.lower() in nodeps:
                assert req.specifier.contains(nodeps[req.name.lower()]), f"{other}: {line} vs nodeps"
    torch_pin = next(Requirement(line) for line in (envs / "requirements.txt").read_text().splitlines()
                     if line.startswith("torch=="))  # fmt: skip
    (torchvision_torch,) = [
        r for r in map(Requirement, metadata.requires("torchvision") or []) if r.name == "torch"
    ]
    assert str(torchvision_torch.specifier) == str(torch_pin.specifier)
    installed = {name: metadata.version(name) for name in nodeps}
    assert installed == nodeps, "run tools/setup.sh: .venv's versions differ from the pins"
