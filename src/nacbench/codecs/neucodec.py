"""NeuCodec and Distill-NeuCodec (the paper's own FSQ codecs), through the ``neucodec`` package.

Layout (paper Sec. 3, checked against neucodec 0.0.6): 16 kHz in, 50 frames/s, ONE codebook of
2^16 = FSQ levels (4,)*8 with dimension 0 the least significant digit; the public checkpoints carry the
24 kHz upsampling decoder (hop 480). Distill-NeuCodec swaps the encoder (L3AC acoustic + DistilHuBERT
semantic) and keeps the quantizer and decoder, so both variants share every code-level convention.

Why this module does not simply call ``NeuCodec.from_pretrained``:

* the package loads its checkpoint with ``strict=False`` (missing keys pass silently) and fetches a
  ``meta.yaml`` from the hub on every load (breaks offline runs). We build the same module tree, load
  ``pytorch_model.bin`` through the hub cache, and check the keys ourselves;
* offline tests need the architecture with random weights, which the constructor cannot give (it
  downloads the semantic model).

Frame alignment. NeuCodec pads its input by ``320 - T % 320`` samples (a full 320 when T is a multiple)
and keeps ``min(acoustic, semantic)`` frames, which works out to ``floor(T / 320)`` frames (measured
for T in {321, 640, 5000, 16000, 16100, 16319, 16320}). Distill-NeuCodec pads its semantic input by
160 samples each side and returns one frame more, ``floor(T / 320) + 1``; its extra frame is the
trailing one, which covers only the padding tail. Both adapters therefore return exactly
``floor(T / 320)`` frames (the distill variant drops its last frame), so the two encoders' codes line
up frame by frame for the Study B comparison, and the decoder outputs ``frames * hop`` samples.

Random weights are drawn part by part (``torchutil.seeded_part``): each attribute of the model
(``semantic_model``, ``CodecEnc``, ``generator``, the FSQ quantizer ``generator.quantizer``,
``fc_post_a``, ...) from its own seed, so a part's weights do not depend on the parts built before it.

Decode-only builds (``decode_only=True``). ``NeuCodec.decode_code`` uses two submodules: ``generator``
(the Vocos decoder, the FSQ quantizer inside it) and ``fc_post_a``. A decode-only build makes those
alone (a :class:`_DecoderHolder`; at 16 kHz the 16 kHz decoder and the shared quantizer), reads only
their keys from the checkpoint, and never imports ``neucodec.model``, which imports transformers and
torchaudio (seconds); both builds decode through :func:`decode_codes`, ``decode_code``'s four lines (a
test checks it against the package's). With the same seed it has exactly the full build's decoder
weights. Its ``info`` equals the full build's: the encoder's parts are counted on PyTorch's meta device
(:func:`meta_encoder_counts`: no memory, no initialisation) and the semantic model by
:func:`semantic_parameters` (a formula over the layer count, checked against the transformers models in
the tests), which for real weights assumes the published semantic architecture (w2v-BERT 2.0 /
DistilHuBERT), as ``semantic_weights``' default is.

Imports. Both builds import the package's modules without the ``__init__`` of neucodec, torchtune and
vector_quantize_pytorch (:data:`PACKAGE_STAND_INS`), which import seconds of what no build uses.
"""

from __future__ import annotations

import importlib
import math
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from nacbench.codecs import register
from nacbench.codecs.base import DIM0_LEAST_SIGNIFICANT, CodecInfo, WeightsUnavailableError
from nacbench.codecs.revisions import HubPin, check_cached, commit_of, confirm, hub_file, hub_pin
from nacbench.codecs.torchutil import (
    BatchedTorchAdapter,
    BatchingMode,
    batching_mode,
    check_choice,
    count_parameters,
    hf_cache_dir,
    hub_offline,
    load_checkpoint,
    load_parts_strictly,
    package_stand_ins,
    pad_codes,
    pad_latents,
    pad_waveforms,
    random_init_id,
    reject_unknown_options,
    resolve_device,
    seeded,
    seeded_part,
    to_numpy_f32,
)
from nacbench.fsq import level_values
from nacbench.startup import phase

if TYPE_CHECKING:
    # the package ships no type information (Any to mypy), yet naming its classes documents the modules
    # and keeps mypy from reading their submodules as torch's `Tensor | Module` attribute type
    from neucodec.codec_decoder_vocos import CodecDecoderVocos
    from neucodec.model import NeuCodec

INPUT_RATE = 16_000
INPUT_HOP = 320  # input samples per frame: 16 kHz / 50 Hz
FSQ_LEVELS: tuple[int, ...] = (4,) * 8
CODEBOOK_SIZE = math.prod(FSQ_LEVELS)
#: dimension of the FSQ output projection: what the decoder (``fc_post_a``) consumes
LATENT_DIM = 2048
#: decoder output rate -> samples per frame (ISTFT hop of CodecDecoderVocos)
DECODER_HOPS: dict[int, int] = {24_000: 480, 16_000: 320}
#: index of w2v-BERT's hidden states that NeuCodec feeds its semantic adapter (package: hidden_states[16])
SEMANTIC_LAYER = 16
#: FSQ output projection init scale for random weights (see _spread_random_fsq_projection)
RANDOM_FSQ_GAIN = 8.0
#: parameters of the random semantic models, per variant: (all but the layers, one layer); see
#: semantic_parameters (tests/test_codec_paper.py checks them against the transformers models)
SEMANTIC_PARAMETERS: dict[str, tuple[int, int]] = {
    "neucodec": (166_208, 24_180_288),  # Wav2Vec2BertConfig(num_hidden_layers=n)
    "distill": (9_317_248, 7_087_872),  # HubertConfig(num_hidden_layers=n, hidden_size=768, heads=12)
}

VARIANTS: dict[str, dict[str, Any]] = {
    "neucodec": {
        "display_name": "NeuCodec",
        "hub_id": "neuphonic/neucodec",
        "semantic_hub_id": "facebook/w2v-bert-2.0",
        "semantic_layers": 24,  # Wav2Vec2BertConfig() default = w2v-bert-2.0's size
        # the published checkpoint still carries training-only heads the inference model lacks
        "ignored_checkpoint_keys": ("fc_post_s", "SemanticDecoder"),
    },
    "distill": {
        "display_name": "Distill-NeuCodec",
        "hub_id": "neuphonic/distill-neucodec",
        "semantic_hub_id": "ntu-spml/distilhubert",
        "semantic_layers": 2,  # distilhubert: 2 layers, hidden 768, 12 heads
        "ignored_checkpoint_keys": (),
    },
}


def neucodec_frame_count(n_samples: int) -> int:
    """Frames both NeuCodec variants return for ``n_samples`` input samples at 16 kHz (see module doc)."""
    return int(n_samples) // INPUT_HOP


# --- importing the package ------------------------------------------------------------------------------


#: packages whose ``__init__`` a NeuCodec build does without, and what the package's modules import from
#: them (torchutil.package_stand_ins): neucodec's imports transformers and torchaudio, torchtune's imports
#: torchao, torch._dynamo and datasets, vector_quantize_pytorch's every quantizer it has (seconds)
PACKAGE_STAND_INS: dict[str, dict[str, str]] = {
    "neucodec": {},
    "torchtune": {},
    "torchtune.modules": {"RotaryPositionalEmbeddings": "torchtune.modules.position_embeddings"},
    "vector_quantize_pytorch": {"ResidualFSQ": "vector_quantize_pytorch.residual_fsq"},
}


def _neucodec_module(name: str) -> types.ModuleType:
    """``neucodec.<name>``, imported without the ``__init__`` of the packages in :data:`PACKAGE_STAND_INS`
    (unless they ran already). ``neucodec.model`` still imports transformers and torchaudio itself: only a
    full build asks for it."""
    qualified = f"neucodec.{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    with package_stand_ins(PACKAGE_STAND_INS):
        return importlib.import_module(qualified)


# --- building the module tree ---------------------------------------------------------------------------


class _ShallowSemanticStandIn(nn.Module):
    """A random w2v-BERT with fewer than 17 layers, made to answer ``hidden_states[16]``.

    Only for ``random_semantic_layers`` (tests, CI): NeuCodec reads hidden state 16, which a small model
    does not have, so the last state is repeated. Never used with real weights.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> types.SimpleNamespace:
        states = tuple(self.model(features).hidden_states)
        states = states + (states[-1],) * (SEMANTIC_LAYER + 1 - len(states))
        return types.SimpleNamespace(hidden_states=states)


def _semantic_layers(variant: str, layers: int | None) -> int:
    return int(VARIANTS[variant]["semantic_layers"] if layers is None else layers)


def _random_semantic_id(variant: str, layers: int | None) -> str:
    config = "Wav2Vec2BertConfig" if variant == "neucodec" else "HubertConfig"
    return f"random {config}(num_hidden_layers={_semantic_layers(variant, layers)})"


def semantic_parameters(variant: str, layers: int | None = None) -> int:
    """Parameters of the random semantic model with ``layers`` layers (default: the published model's
    count), without building it: every layer has the same shapes, so the count is linear in the layers
    (:data:`SEMANTIC_PARAMETERS`). A decode-only build reports the encoder's size through this, without
    importing transformers."""
    base, per_layer = SEMANTIC_PARAMETERS[variant]
    return base + _semantic_layers(variant, layers) * per_layer


def _random_semantic(variant: str, layers: int | None) -> tuple[nn.Module, Any, str]:
    """Randomly initialised semantic model + feature extractor (class defaults), and a description.

    Torch's current RNG draws the weights: callers seed it (the build: ``seeded_part(seed,
    "semantic_model")``; :func:`full_semantic_parameters`: the meta device, which draws nothing).
    """
    with phase("imports"):
        from transformers import (
            HubertConfig,
            HubertModel,
            SeamlessM4TFeatureExtractor,
            Wav2Vec2BertConfig,
            Wav2Vec2BertModel,
            Wav2Vec2FeatureExtractor,
        )

    n = _semantic_layers(variant, layers)
    if variant == "neucodec":
        model: nn.Module = Wav2Vec2BertModel(
            Wav2Vec2BertConfig(num_hidden_layers=n, output_hidden_states=True)
        )
        if n <= SEMANTIC_LAYER:
            model = _ShallowSemanticStandIn(model)
        return model, SeamlessM4TFeatureExtractor(), _random_semantic_id(variant, layers)
    config = HubertConfig(
        num_hidden_layers=n, hidden_size=768, num_attention_heads=12, output_hidden_states=True
    )
    return HubertModel(config), Wav2Vec2FeatureExtractor(), _random_semantic_id(variant, layers)


def _semantic_pin(source: str, revision: str | None, floating: bool, option: str) -> HubPin | None:
    """The pin of a hub semantic model (None for a local folder, which has no revision)."""
    if Path(source).expanduser().is_dir():
        if revision is not None:
            raise ValueError(f"{option}: {source!r} is a local folder; a revision applies to a hub id")
        return None
    return hub_pin(source, revision, floating=floating, option=option)


def _pretrained_semantic(
    variant: str, source: str, option: str, pin: HubPin | None = None
) -> tuple[nn.Module, Any, str]:
    """The published semantic model through transformers' loaders (hub cache, HF_HUB_OFFLINE honoured)
    at ``pin``'s revision (None: ``source`` is a local folder); its id records the commit loaded."""
    with phase("imports"):
        from huggingface_hub import try_to_load_from_cache
        from transformers import AutoFeatureExtractor, HubertModel, Wav2Vec2BertModel

    cls = Wav2Vec2BertModel if variant == "neucodec" else HubertModel
    kwargs: dict[str, Any] = {"local_files_only": hub_offline()}
    if pin is not None:
        check_cached(pin)
        kwargs["cache_dir"] = str(hf_cache_dir())
        kwargs["revision"] = pin.revision
    try:
        model = cls.from_pretrained(source, output_hidden_states=True, **kwargs)
        extractor = AutoFeatureExtractor.from_pretrained(source, **kwargs)
    except Exception as exc:  # transformers wraps hub failures in OSError/ValueError/...
        fetch = f"`huggingface-cli download {source}{' --revision ' + pin.revision if pin else ''}`"
        raise WeightsUnavailableError(
            f"{option}: cannot load the semantic model {source!r} ({type(exc).__name__}: {exc}). Put it in the "
            f"Hugging Face cache {hf_cache_dir()} ({fetch} with the same HF_HOME) or set {option} to a local "
            "folder holding it"
        ) from exc
    if pin is None:
        return model, extractor, source
    found = try_to_load_from_cache(
        source, "config.json", cache_dir=str(hf_cache_dir()), revision=pin.revision
    )
    commit = confirm(pin, commit_of(found) if isinstance(found, str) else "")
    return model, extractor, f"{source}@{commit or pin.revision}"


def _encoder_part_builders(variant: str) -> dict[str, Callable[[], nn.Module]]:
    """The model's encoder parts but the semantic model, by attribute name, as the package builds them
    (``NeuCodec.__init__`` / ``DistillNeuCodec.__init__`` of neucodec 0.0.6, minus the hub downloads)."""
    module = _neucodec_module("module")
    if variant == "neucodec":
        codec_encoder = _neucodec_module("codec_encoder")
        return {
            "SemanticEncoder_module": lambda: module.SemanticEncoder(1024, 1024, 1024),
            "CodecEnc": codec_encoder.CodecEncoder,
            "fc_prior": lambda: nn.Linear(2048, 2048),
        }
    distill_encoder = _neucodec_module("codec_encoder_distill")
    return {
        "SemanticEncoder_module": lambda: module.SemanticEncoder(768, 768, 1024),
        "codec_encoder": distill_encoder.DistillCodecEncoder,
        "fc_prior": lambda: nn.Linear(768 + 768, 2048),
        "fc_sq_prior": lambda: nn.Linear(512, 768),
    }


def _build_quantizer(seed: int, random_weights: bool) -> nn.Module:
    """The FSQ quantizer ``CodecDecoderVocos`` holds (one stage, 8 dims x 4 levels over 2048-d vectors),
    as a part of its own (``generator.quantizer``): a 16 kHz decoder shares it, and a decode-only 16 kHz
    build needs it without the 24 kHz decoder around it. Same class and arguments as the package's
    (``CodecDecoderVocos.__init__``), same default init (its ``init_weights`` touches only Conv1d)."""
    vocos = _neucodec_module("codec_decoder_vocos")
    with seeded_part(seed, "generator.quantizer"):
        quantizer = vocos.ResidualFSQ(dim=2048, levels=list(FSQ_LEVELS), num_quantizers=1)
        if random_weights:
            _spread_random_fsq_projection(quantizer)
    return quantizer


class _DecoderHolder(nn.Module):
    """What ``NeuCodec.decode_code`` uses of its ``self``: the decoder of every build (a full build's
    24 kHz decoder holds the model's own ``generator`` and ``fc_post_a``)."""

    generator: CodecDecoderVocos
    fc_post_a: nn.Linear


def _build_decoder(hop: int, quantizer: nn.Module, seed: int, prefix: str = "") -> _DecoderHolder:
    """``generator`` (Vocos decoder at ``hop``, holding ``quantizer``) and ``fc_post_a``, each from its
    own seed part (``<prefix>generator``, ``<prefix>fc_post_a``)."""
    vocos = _neucodec_module("codec_decoder_vocos")
    holder = _DecoderHolder()
    with seeded_part(seed, f"{prefix}generator"):
        holder.generator = vocos.CodecDecoderVocos(hop_length=hop)
    holder.generator.quantizer = quantizer  # replaces the one it made (unused: a part of its own)
    with seeded_part(seed, f"{prefix}fc_post_a"):
        holder.fc_post_a = nn.Linear(2048, 1024)
    return holder


def _build_model(
    variant: str, semantic: nn.Module, extractor: Any, decoder: _DecoderHolder, seed: int
) -> NeuCodec:
    """The package's model class around the given semantic front end and 24 kHz decoder, its other
    encoder parts built here (each from its own seed part), without hub downloads.

    Mirrors ``NeuCodec.__init__`` / ``DistillNeuCodec.__init__`` of neucodec 0.0.6 (same attribute
    names, so checkpoint keys match), minus the ``from_pretrained`` calls.
    """
    model_module = _neucodec_module("model")
    cls = model_module.NeuCodec if variant == "neucodec" else model_module.DistillNeuCodec
    model = cls.__new__(cls)
    nn.Module.__init__(model)
    model.sample_rate = 24_000
    model.hop_length = DECODER_HOPS[24_000]
    model.semantic_model = semantic
    model.feature_extractor = extractor
    for name, build in _encoder_part_builders(variant).items():
        with seeded_part(seed, name):
            setattr(model, name, build())
    model.generator = decoder.generator
    model.fc_post_a = decoder.fc_post_a
    return model


def _spread_random_fsq_projection(quantizer: nn.Module) -> None:
    """Re-initialise the FSQ input projection of a random quantizer so its codes vary.

    With default init the projection's output is ~0.1, every dimension lands on the same level and
    all codes are equal, which would make random-weight tests vacuous. A gain of 8/sqrt(fan_in) gives
    outputs of order 1 for the fusion layer's output (std ~0.17), spreading codes over all 4 levels.
    """
    proj = quantizer.project_in
    assert isinstance(proj, nn.Linear)  # vector-quantize-pytorch 1.17.8: Linear(2048, 8)
    nn.init.normal_(proj.weight, std=RANDOM_FSQ_GAIN / math.sqrt(proj.in_features))
    nn.init.zeros_(proj.bias)


def _state_dict_file(path: Path, option: str) -> Mapping[str, torch.Tensor]:
    """A checkpoint holding a plain state dict, memory-mapped (``torchutil.load_checkpoint``)."""
    with phase("weights"):
        state = load_checkpoint(path, option)
    if not isinstance(state, Mapping):
        raise WeightsUnavailableError(f"{option}: {path} does not hold a state dict")
    return state


def load_checkpoint_checked(
    model: nn.Module, state: Mapping[str, torch.Tensor], variant: str, source: str
) -> None:
    """Load a NeuCodec checkpoint and fail on any key the model needs but the file lacks.

    The only keys allowed to be missing are the semantic model's (it comes from its own pretrained
    weights); unexpected keys other than the known training-only heads are errors too.
    """
    ignored = VARIANTS[variant]["ignored_checkpoint_keys"]
    state = {k: v for k, v in state.items() if not any(part in k for part in ignored)}
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("semantic_model.")]
    if missing or result.unexpected_keys:
        raise WeightsUnavailableError(
            f"{source}: checkpoint does not fit the {VARIANTS[variant]['display_name']} architecture: "
            f"{len(missing)} missing keys (e.g. {missing[:5]}), "
            f"{len(result.unexpected_keys)} unexpected keys (e.g. {result.unexpected_keys[:5]})"
        )


def _checkpoint_path(
    variant: str, weights: str | None, option: str, revision: str | None = None, floating: bool = False
) -> tuple[Path, str]:
    """``pytorch_model.bin`` from a local file/folder or the hub cache at the pinned commit
    (:mod:`nacbench.codecs.revisions`; ``revision`` from the config), plus a weights id to record."""
    revision_option = f"{option.rsplit('.', 1)[0]}.revision"
    if weights is not None and Path(weights).expanduser().exists():
        if revision is not None:
            raise ValueError(
                f"{revision_option}: {weights!r} is a local file; a revision applies to a hub id"
            )
        path = Path(weights).expanduser()
        path = path / "pytorch_model.bin" if path.is_dir() else path
        if not path.is_file():
            raise WeightsUnavailableError(f"{option}={weights!r}: no pytorch_model.bin there")
        return path, f"file:{path.resolve()}"
    repo = weights or VARIANTS[variant]["hub_id"]
    pin = hub_pin(repo, revision, floating=floating, option=revision_option)
    path = hub_file(pin, "pytorch_model.bin", hint=f"or set {option} to a local pytorch_model.bin")
    return path, f"{repo}@{commit_of(path) or pin.revision}"


def missing_decoder_16k_error(option: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"{option}: decoder_rate=16000 needs a local 16 kHz decoder checkpoint (the public NeuCodec "
        f"checkpoints carry the 24 kHz decoder only); set {option} to its path, or use decoder_rate=24000"
    )


def _load_decoder_16k(holder: _DecoderHolder, decoder_weights: str, option: str) -> None:
    """Load a 16 kHz decoder (hop 320) that shares the encoder's quantizer (paper: decoders trained on a
    frozen encoder and quantizer) from ``decoder_weights``: a state dict with ``generator.*`` and
    ``fc_post_a.*`` keys (a full NeuCodec checkpoint trained with hop 320 also works). Quantizer keys in
    the file, if any, must equal the shared quantizer's (already in ``holder.generator.quantizer``)."""
    path = Path(decoder_weights).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(f"{option}={decoder_weights!r}: file not found")
    state = _state_dict_file(path, option)
    wanted = {k: v for k, v in state.items() if k.startswith(("generator.", "fc_post_a."))}
    shared = holder.generator.quantizer.state_dict()
    own_quant = {f"generator.quantizer.{k}": v for k, v in shared.items()}
    for key in (k for k in wanted if k.startswith("generator.quantizer.")):
        if key not in own_quant or not torch.equal(own_quant[key], wanted[key]):
            raise WeightsUnavailableError(f"{option}: {key} does not match the encoder's quantizer")
    with phase("weights"):
        try:
            holder.load_state_dict({**wanted, **own_quant}, strict=True)
        except RuntimeError as exc:
            raise WeightsUnavailableError(f"{option}: {path} does not fit a hop-320 decoder: {exc}") from exc


def decode_codes(decoder: NeuCodec | _DecoderHolder, fsq_codes: torch.Tensor) -> torch.Tensor:
    """``NeuCodec.decode_code`` of neucodec 0.0.6, line for line, on what it uses of its model
    (``generator``, ``fc_post_a``): ``[B, 1, F]`` codes -> ``[B, 1, T]`` audio. Both builds decode
    through here; the package's method lives in ``neucodec.model``, whose import pulls in transformers.
    Its first line is the quantizer's output for the codes; :func:`decode_quantized` is the rest."""
    return decode_quantized(
        decoder, decoder.generator.quantizer.get_output_from_indices(fsq_codes.transpose(1, 2))
    )


def decode_quantized(decoder: NeuCodec | _DecoderHolder, fsq_post_emb: torch.Tensor) -> torch.Tensor:
    """``decode_code`` after the quantizer: ``[B, F, 2048]`` FSQ output projections (the quantizer's, or
    any vectors in that space) -> ``[B, 1, T]`` audio, through ``fc_post_a`` and the Vocos decoder."""
    fsq_post_emb = fsq_post_emb.transpose(1, 2)
    fsq_post_emb = decoder.fc_post_a(fsq_post_emb.transpose(1, 2)).transpose(1, 2)
    return decoder.generator(fsq_post_emb.transpose(1, 2), vq=False)[0]


def fsq_bounded(quantizer: Any, x: torch.Tensor) -> torch.Tensor:
    """What the package's one-stage ``ResidualFSQ`` rounds, for its input ``x`` ``[..., 2048]``: the input
    projection, bounded twice (``ResidualFSQ.forward`` bounds, then its ``FSQ`` layer bounds again before
    rounding), ``[..., 8]`` in level units (within (-2, 1) for 4 levels; rounding gives the level - 2).

    vector-quantize-pytorch 1.17.8: ``quantized = round(bound(bound(project_in(x)) / scale)) / half_width
    * scale``, output ``project_out(quantized)``; one stage, so ``scale`` is 1 (checked here). ``quantizer``:
    the package's ``ResidualFSQ`` (untyped, hence ``Any``).
    """
    (layer,) = quantizer.layers  # NeuCodec: num_quantizers=1
    if not bool((quantizer.scales == 1).all()):
        raise RuntimeError("NeuCodec's FSQ: expected one stage at scale 1")
    return layer.bound(layer.project_in(layer.bound(quantizer.project_in(x))))


def fsq_unrounded_output(quantizer: Any, x: torch.Tensor) -> torch.Tensor:
    """The quantizer's output for ``x`` with the rounding left out: ``project_out`` of
    :func:`fsq_bounded` scaled as the rounded levels are (``/ half_width``), ``[..., 2048]``. Rounding
    inside it would give the quantizer's own output exactly; without, it is the continuous vector in the
    space the decoder consumes that the codes quantize."""
    (layer,) = quantizer.layers
    half_width = (layer._levels // 2).to(x.dtype)
    return quantizer.project_out(layer.project_out(fsq_bounded(quantizer, x) / half_width))


# --- the adapter ----------------------------------------------------------------------------------------


class NeuCodecAdapter(BatchedTorchAdapter):
    """NeuCodec / Distill-NeuCodec behind the batched adapter interface.

    ``model`` is the full model, or None for a decode-only build (then ``decoder`` is all there is).
    """

    min_input_samples = INPUT_HOP

    def __init__(
        self,
        model: NeuCodec | None,
        info: CodecInfo,
        device: torch.device,
        batch_size: int,
        batching: BatchingMode,
        decoder: _DecoderHolder,
    ) -> None:
        with phase("device"):
            self.model = model.to(device).eval() if model is not None else None
            self.decoder = decoder.to(device).eval()
        super().__init__(info, device, batch_size, batching)
        self.decode_only = model is None
        self.variant = info.extra["variant"]
        self.output_hop = DECODER_HOPS[info.output_sample_rate]

    def _full_model(self, what: str) -> NeuCodec:
        if self.model is None:
            raise self.decode_only_error(what)
        return self.model

    # encode ---------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        model = self._full_model("encode")
        batch, lengths = pad_waveforms(wavs)
        codes = model.encode_code(batch).to("cpu", torch.int64)[:, 0, :]  # [B, F]
        return [
            np.ascontiguousarray(row[None, : self._frames(row.shape[0], int(n))], dtype=np.int64)
            for row, n in zip(codes.numpy(), lengths, strict=True)
        ]

    def _frames(self, returned: int, n_samples: int) -> int:
        """The frames kept of the ``returned`` frames the encoder gave for ``n_samples`` (module doc)."""
        frames = neucodec_frame_count(n_samples)
        if returned < frames:
            raise RuntimeError(
                f"codec {self.info.name!r}: encoder returned {returned} frames for {n_samples} samples, "
                f"expected at least {frames}"
            )
        return frames

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The FSQ output projection of the bounded, unrounded quantizer input, ``[2048, frames]``
        (frames as :meth:`encode`; :func:`fsq_unrounded_output`): the codes' quantizer output
        (:meth:`quantizer_output`) is this with the 8 bounded components rounded to their levels. It runs
        the package's own ``encode_code`` and takes the quantizer's input as it passes."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def _encode_latent_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        model = self._full_model("encode_latent")
        batch, lengths = pad_waveforms(wavs)
        quantizer = model.generator.quantizer
        inputs: list[torch.Tensor] = []
        hook = quantizer.register_forward_pre_hook(lambda _module, args: inputs.append(args[0]))
        try:
            model.encode_code(batch)
        finally:
            hook.remove()
        (x,) = inputs  # [B, F, 2048]: the fusion layer's output, as the quantizer received it
        latents = to_numpy_f32(fsq_unrounded_output(quantizer, x)).transpose(0, 2, 1)  # [B, 2048, F]
        return [
            np.ascontiguousarray(latent[:, : self._frames(latent.shape[1], int(n))])
            for latent, n in zip(latents, lengths, strict=True)
        ]

    # decode ---------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_codes(codes)
        audio = to_numpy_f32(decode_codes(self.decoder, batch.to(self.device)))[:, 0, :]
        return [
            np.ascontiguousarray(a[: int(f) * self.output_hop]) for a, f in zip(audio, frames, strict=True)
        ]

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Audio from ``[2048, frames]`` vectors in the FSQ output projection's space (the quantizer's
        output for codes, :meth:`encode_latent`'s unrounded one, or another quantizer's), through the
        decoder :meth:`decode` uses (:func:`decode_quantized`), ``frames * hop`` samples."""
        return self.map_latents(latents, LATENT_DIM, self._decode_latent_batch)

    @torch.inference_mode()
    def _decode_latent_batch(self, latents: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_latents(latents)  # [B, 2048, F]
        emb = batch.transpose(1, 2).contiguous().to(self.device)  # [B, F, 2048], as the quantizer gives
        audio = to_numpy_f32(decode_quantized(self.decoder, emb))[:, 0, :]
        return [
            np.ascontiguousarray(a[: int(f) * self.output_hop]) for a, f in zip(audio, frames, strict=True)
        ]

    # quantizer views ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def quantizer_output(self, codes: np.ndarray) -> np.ndarray:
        """FSQ output projection of the given codes, ``[frames, 2048]`` (what the decoder consumes)."""
        codes = np.asarray(codes, dtype=np.int64)
        self.check_codes(codes)
        indices = torch.from_numpy(codes.T[None]).to(self.device)  # [1, F, 1]
        return to_numpy_f32(self.decoder.generator.quantizer.get_output_from_indices(indices))[0]

    def codeword_vectors(self) -> list[np.ndarray]:
        """The quantizer output for every one of the 65536 grid points: ``[65536, 2048]`` float32."""
        return [self.quantizer_output(np.arange(CODEBOOK_SIZE, dtype=np.int64)[None, :])]

    def encoder_modules(self) -> list[Any]:
        return _encoder_groups(self._full_model("give its encoder modules"), self.variant)["all"]


#: the model attributes behind Table 2's two encoder columns, per variant (the fusion layer and the FSQ
#: input projection belong to neither: they count only in ``encoder_total``)
ENCODER_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "neucodec": {"acoustic": ("CodecEnc",), "semantic": ("semantic_model", "SemanticEncoder_module")},
    "distill": {
        "acoustic": ("codec_encoder", "fc_sq_prior"),
        "semantic": ("semantic_model", "SemanticEncoder_module"),
    },
}
#: the fusion layer: an encoder part outside both columns
FUSION = "fc_prior"


def _encoder_groups(model: NeuCodec, variant: str) -> dict[str, list[nn.Module]]:
    """Encoder modules by role (Table 2 counts acoustic and semantic parameters separately)."""
    columns = ENCODER_COLUMNS[variant]
    acoustic = [getattr(model, name) for name in columns["acoustic"]]
    semantic = [getattr(model, name) for name in columns["semantic"]]
    fusion = [getattr(model, FUSION), model.generator.quantizer.project_in]
    return {"acoustic": acoustic, "semantic": semantic, "fusion": fusion, "all": acoustic + semantic + fusion}


def _encoder_attributes(variant: str) -> tuple[str, ...]:
    return (*(n for names in ENCODER_COLUMNS[variant].values() for n in names), FUSION)


def encoder_counts(model: NeuCodec, variant: str) -> dict[str, int]:
    """Parameters of each encoder part of a built model, by attribute (the FSQ input projection aside)."""
    return {name: count_parameters(getattr(model, name)) for name in _encoder_attributes(variant)}


def _count_unbuilt(build: Callable[[], nn.Module]) -> int:
    """Parameters of the module ``build()`` makes, built on PyTorch's meta device (no memory, no
    initialisation, no RNG draws). A constructor that needs real values (DistillCodecEncoder reads
    ``torch.linspace(...).item()``) is run on the CPU instead, its random draws kept off the caller's
    stream (about 0.4 s for that one)."""
    try:
        with torch.device("meta"):
            return count_parameters(build())
    except (RuntimeError, NotImplementedError):  # "Tensor.item() cannot be called on meta tensors"
        with seeded(0):
            return count_parameters(build())


def meta_encoder_counts(variant: str, semantic_layers: int | None) -> dict[str, int]:
    """:func:`encoder_counts` of the model a full build would make, without making it: the encoder parts
    are counted by :func:`_count_unbuilt` (meta device) and the semantic model by
    :func:`semantic_parameters` (no transformers import)."""
    counts = {name: _count_unbuilt(build) for name, build in _encoder_part_builders(variant).items()}
    counts["semantic_model"] = semantic_parameters(variant, semantic_layers)
    return {name: counts[name] for name in _encoder_attributes(variant)}


def full_semantic_parameters(variant: str) -> int:
    """Parameters of the published semantic model's architecture (w2v-BERT 2.0: 24 layers, ~580 M;
    DistilHuBERT: 2 layers), counted on the meta device: no memory, no initialisation, seconds."""
    with torch.device("meta"):
        semantic, _, _ = _random_semantic(variant, None)
    return count_parameters(semantic)


def parameter_groups(
    counts: Mapping[str, int],
    decoder: NeuCodec | _DecoderHolder,
    variant: str,
    full_semantic: int | None = None,
) -> dict[str, int]:
    """Parameter counts by role, from the encoder parts' counts (:func:`encoder_counts`, or
    :func:`meta_encoder_counts` for a decode-only build) and the decoder actually used.

    ``acoustic_encoder`` and ``semantic_encoder`` (semantic model + its adapter) are Table 2's columns;
    ``encoder_total`` adds the fusion layer and the FSQ input projection; ``decoder`` is the decoder
    actually used (Vocos backbone + head + ``fc_post_a`` + FSQ output projection). ``<column>.<attribute>``
    entries break each column down by module, so a difference from the paper's rounded figures can be
    traced to a module.

    The counts describe the architecture, not the weights: with a shrunken random semantic stand-in
    (``random_semantic_layers``), ``full_semantic`` (the published architecture's count) replaces the
    stand-in's count, which is kept as ``semantic_model_built``.
    """
    quantizer = decoder.generator.quantizer
    decoder_modules = [
        decoder.generator.backbone,
        decoder.generator.head,
        decoder.fc_post_a,
        quantizer.project_out,
    ]
    parts = {
        f"{column}_encoder.{name}": counts[name]
        for column, names in ENCODER_COLUMNS[variant].items()
        for name in names
    }
    encoder_total = sum(counts.values()) + count_parameters(quantizer.project_in)
    built_semantic = parts["semantic_encoder.semantic_model"]
    if full_semantic is not None:
        parts["semantic_encoder.semantic_model"] = full_semantic
        encoder_total += full_semantic - built_semantic
    acoustic = sum(v for k, v in parts.items() if k.startswith("acoustic_encoder."))
    semantic = sum(v for k, v in parts.items() if k.startswith("semantic_encoder."))
    out = {
        "acoustic_encoder": acoustic,
        "semantic_encoder": semantic,
        "acoustic_plus_semantic": acoustic + semantic,
        "encoder_total": encoder_total,
        "decoder": count_parameters(*decoder_modules),
        **parts,
    }
    if full_semantic is not None:
        out["semantic_model_built"] = built_semantic
    return out


_OPTIONS = (
    "variant",
    "decoder_rate",
    "decoder_weights",
    "semantic_weights",
    "revision",
    "semantic_revision",
    "revision_floating",
    "random_semantic_layers",
    "seed",
    "batching",
)


@register("neucodec")
def build_neucodec(
    name: str,
    device: str = "cpu",
    weights: str | None = None,
    random_weights: bool = False,
    batch_size: int = 8,
    variant: str = "neucodec",
    decoder_rate: int = 24_000,
    decoder_weights: str | None = None,
    semantic_weights: str | None = None,
    revision: str | None = None,
    semantic_revision: str | None = None,
    revision_floating: bool = False,
    random_semantic_layers: int | None = None,
    seed: int = 0,
    batching: str = "exact",
    decode_only: bool = False,
    **unknown: Any,
) -> NeuCodecAdapter:
    """Build NeuCodec (``variant="neucodec"``) or Distill-NeuCodec (``variant="distill"``).

    ``weights``: hub id or local ``pytorch_model.bin`` (file or folder); default the public checkpoint.
    ``semantic_weights``: hub id or local folder for the semantic model (default facebook/w2v-bert-2.0 or
    ntu-spml/distilhubert). ``revision`` / ``semantic_revision``: their hub commits (default: the pinned
    ones, :mod:`nacbench.codecs.revisions`; a branch or tag only with ``revision_floating``); the
    ``weights_id`` records both commits. ``random_weights``: the architecture with a seeded random init,
    part by part (tests and the offline pipeline only; nothing computed from it is a result);
    ``random_semantic_layers`` shrinks the random semantic model. ``decoder_rate``: 24000 (public) or
    16000 (needs ``decoder_weights``). ``decode_only``: the decoder alone (see the module doc).
    """
    reject_unknown_options(name, unknown, ("weights", "random_weights", "batch_size", *_OPTIONS))
    check_choice(name, "variant", variant, tuple(VARIANTS))
    check_choice(name, "decoder_rate", int(decoder_rate), tuple(DECODER_HOPS))
    mode = batching_mode(name, batching)
    if random_semantic_layers is not None and (not random_weights or int(random_semantic_layers) < 1):
        raise ValueError(f"codecs.{name}.random_semantic_layers: only with random_weights, and >= 1")
    decoder_rate = int(decoder_rate)
    if decoder_rate == 16_000 and decoder_weights is None and not random_weights:
        raise missing_decoder_16k_error(f"codecs.{name}.decoder_weights")  # before any download
    spec = VARIANTS[variant]
    seed = int(seed)
    with phase("device"):
        torch_device = resolve_device(device)
    option = f"codecs.{name}.weights"
    floating = bool(revision_floating)
    semantic_option = f"codecs.{name}.semantic_revision"
    semantic_source = semantic_weights or spec["semantic_hub_id"]
    semantic_pin = (
        None
        if random_weights
        else _semantic_pin(semantic_source, semantic_revision, floating, semantic_option)
    )
    checkpoint = None if random_weights else _checkpoint_path(variant, weights, option, revision, floating)
    with phase("imports"):
        _neucodec_module("codec_decoder_vocos")
        if not decode_only:
            _neucodec_module("model")  # transformers, torchaudio

    # the decoder: the FSQ quantizer and the 24 kHz decoder (a decode-only 16 kHz build skips the latter)
    with phase("construct"):
        quantizer = _build_quantizer(seed, bool(random_weights))
        decoder_24k = (
            _build_decoder(DECODER_HOPS[24_000], quantizer, seed)
            if not (decode_only and decoder_rate == 16_000)
            else None
        )
        decoder_16k = (
            _build_decoder(DECODER_HOPS[16_000], quantizer, seed, prefix="decoder_16k.")
            if decoder_rate == 16_000
            else None
        )
    if checkpoint is not None and decode_only:
        state = _state_dict_file(checkpoint[0], option)
        parts: dict[str, nn.Module] = (
            {"generator": decoder_24k.generator, "fc_post_a": decoder_24k.fc_post_a}
            if decoder_24k is not None
            else {"generator.quantizer": quantizer}
        )
        with phase("weights"):
            # the checkpoint's other keys are the encoder's and training heads'; the full build checks them
            load_parts_strictly(
                parts, state, str(checkpoint[0]), f"{spec['display_name']} decoder", skipped=None
            )

    # the encoder (full builds)
    model: NeuCodec | None = None
    if decode_only:
        semantic_id = (
            _random_semantic_id(variant, random_semantic_layers)
            if random_weights
            else semantic_pin.label
            if semantic_pin is not None
            else semantic_source
        )
        with phase("construct"):
            counts = meta_encoder_counts(variant, random_semantic_layers)
    else:
        assert decoder_24k is not None  # a full build makes the 24 kHz decoder
        if random_weights:
            with phase("construct"), seeded_part(seed, "semantic_model"):
                semantic, extractor, semantic_id = _random_semantic(variant, random_semantic_layers)
        else:
            with phase("weights"):
                semantic, extractor, semantic_id = _pretrained_semantic(
                    variant, semantic_source, f"codecs.{name}.semantic_weights", semantic_pin
                )
        with phase("construct"):
            model = _build_model(variant, semantic, extractor, decoder_24k, seed)
        if checkpoint is not None:
            state = _state_dict_file(checkpoint[0], option)
            with phase("weights"):
                load_checkpoint_checked(model, state, variant, str(checkpoint[0]))
        counts = encoder_counts(model, variant)
    if decoder_16k is not None and decoder_weights is not None:
        _load_decoder_16k(decoder_16k, decoder_weights, f"codecs.{name}.decoder_weights")
    decoder = decoder_16k if decoder_16k is not None else decoder_24k
    assert decoder is not None  # a build makes the decoder of its rate

    # a shrunken random semantic model still reports the published architecture's size (Table 2)
    full_semantic = semantic_parameters(variant) if random_semantic_layers is not None else None
    info = CodecInfo(
        name=name,
        display_name=spec["display_name"],
        input_sample_rate=INPUT_RATE,
        output_sample_rate=decoder_rate,
        frame_rate=INPUT_RATE / INPUT_HOP,
        codebook_sizes=(CODEBOOK_SIZE,),
        quantizer="fsq",
        fsq_levels=FSQ_LEVELS,
        fsq_index_order=DIM0_LEAST_SIGNIFICANT,
        # the checkpoint's commit and the semantic model's: both decide the codes
        weights_id=random_init_id(seed) if checkpoint is None else f"{checkpoint[1]}; semantic {semantic_id}",
        random_weights=bool(random_weights),
        parameters=parameter_groups(counts, decoder, variant, full_semantic),
        extra={
            "variant": variant,
            "decoder_rate": decoder_rate,
            "decoder_hop": DECODER_HOPS[decoder_rate],
            "decoder_weights": decoder_weights,
            "semantic_model": semantic_id,
            "semantic_parameters": (
                f"counted on the full {spec['semantic_hub_id']} architecture (meta device); "
                f"the run used the stand-in {semantic_id}"
                if full_semantic is not None
                else f"counted on the model the run used ({semantic_id})"
            ),
            "frames": "floor(n_samples / 320); distill drops its trailing padding frame",
            "fsq_level_values": level_values(FSQ_LEVELS)[0].tolist(),  # same grid in every dimension
            "batching": batching,
        },
    )
    return NeuCodecAdapter(model, info, torch_device, int(batch_size), mode, decoder)
