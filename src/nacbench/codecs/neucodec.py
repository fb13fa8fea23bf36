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
"""

from __future__ import annotations

import math
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from nacbench.codecs import register
from nacbench.codecs.base import DIM0_LEAST_SIGNIFICANT, CodecInfo, WeightsUnavailableError
from nacbench.codecs.torchutil import (
    BatchedTorchAdapter,
    BatchingMode,
    batching_mode,
    check_choice,
    count_parameters,
    hf_cache_dir,
    hf_file,
    hub_offline,
    hub_revision_of,
    pad_codes,
    pad_waveforms,
    reject_unknown_options,
    resolve_device,
    seeded,
    to_numpy_f32,
)
from nacbench.fsq import level_values

if TYPE_CHECKING:
    # the package ships no type information (Any to mypy), yet naming its classes documents the modules
    # and keeps mypy from reading their submodules as torch's `Tensor | Module` attribute type
    from neucodec.codec_decoder_vocos import CodecDecoderVocos
    from neucodec.model import NeuCodec

INPUT_RATE = 16_000
INPUT_HOP = 320  # input samples per frame: 16 kHz / 50 Hz
FSQ_LEVELS: tuple[int, ...] = (4,) * 8
CODEBOOK_SIZE = math.prod(FSQ_LEVELS)
#: decoder output rate -> samples per frame (ISTFT hop of CodecDecoderVocos)
DECODER_HOPS: dict[int, int] = {24_000: 480, 16_000: 320}
#: index of w2v-BERT's hidden states that NeuCodec feeds its semantic adapter (package: hidden_states[16])
SEMANTIC_LAYER = 16
#: FSQ output projection init scale for random weights (see _spread_random_fsq_projection)
RANDOM_FSQ_GAIN = 8.0

VARIANTS: dict[str, dict[str, Any]] = {
    "neucodec": {
        "display_name": "NeuCodec",
        "hub_id": "neuphonic/neucodec",
        "semantic_hub_id": "facebook/w2v-bert-2.0",
        # the published checkpoint still carries training-only heads the inference model lacks
        "ignored_checkpoint_keys": ("fc_post_s", "SemanticDecoder"),
    },
    "distill": {
        "display_name": "Distill-NeuCodec",
        "hub_id": "neuphonic/distill-neucodec",
        "semantic_hub_id": "ntu-spml/distilhubert",
        "ignored_checkpoint_keys": (),
    },
}


def neucodec_frame_count(n_samples: int) -> int:
    """Frames both NeuCodec variants return for ``n_samples`` input samples at 16 kHz (see module doc)."""
    return int(n_samples) // INPUT_HOP


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


def _random_semantic(variant: str, layers: int | None) -> tuple[nn.Module, Any, str]:
    """Randomly initialised semantic model + feature extractor (class defaults), and a description."""
    from transformers import (
        HubertConfig,
        HubertModel,
        SeamlessM4TFeatureExtractor,
        Wav2Vec2BertConfig,
        Wav2Vec2BertModel,
        Wav2Vec2FeatureExtractor,
    )

    if variant == "neucodec":
        n = 24 if layers is None else layers  # Wav2Vec2BertConfig() default = w2v-bert-2.0's size
        model: nn.Module = Wav2Vec2BertModel(
            Wav2Vec2BertConfig(num_hidden_layers=n, output_hidden_states=True)
        )
        if n <= SEMANTIC_LAYER:
            model = _ShallowSemanticStandIn(model)
        return model, SeamlessM4TFeatureExtractor(), f"random Wav2Vec2BertConfig(num_hidden_layers={n})"
    n = 2 if layers is None else layers  # distilhubert: 2 layers, hidden 768, 12 heads
    config = HubertConfig(
        num_hidden_layers=n, hidden_size=768, num_attention_heads=12, output_hidden_states=True
    )
    return HubertModel(config), Wav2Vec2FeatureExtractor(), f"random HubertConfig(num_hidden_layers={n})"


def _pretrained_semantic(variant: str, source: str, option: str) -> tuple[nn.Module, Any, str]:
    """The published semantic model through transformers' loaders (hub cache, HF_HUB_OFFLINE honoured)."""
    from transformers import AutoFeatureExtractor, HubertModel, Wav2Vec2BertModel

    cls = Wav2Vec2BertModel if variant == "neucodec" else HubertModel
    kwargs: dict[str, Any] = {"local_files_only": hub_offline()}
    if not Path(source).is_dir():
        kwargs["cache_dir"] = str(hf_cache_dir())
    try:
        model = cls.from_pretrained(source, output_hidden_states=True, **kwargs)
        extractor = AutoFeatureExtractor.from_pretrained(source, **kwargs)
    except Exception as exc:  # transformers wraps hub failures in OSError/ValueError/...
        raise WeightsUnavailableError(
            f"{option}: cannot load the semantic model {source!r} ({type(exc).__name__}: {exc}). Put it in the "
            f"Hugging Face cache {hf_cache_dir()} (`huggingface-cli download {source}` with the same HF_HOME) "
            f"or set {option} to a local folder holding it"
        ) from exc
    return model, extractor, source


def _build_model(variant: str, semantic: nn.Module, extractor: Any, decoder_hop: int) -> NeuCodec:
    """The package's model class with the given semantic front end, built without hub downloads.

    Mirrors ``NeuCodec.__init__`` / ``DistillNeuCodec.__init__`` of neucodec 0.0.6 (same attribute
    names, so checkpoint keys match), minus the ``from_pretrained`` calls.
    """
    from neucodec.codec_decoder_vocos import CodecDecoderVocos
    from neucodec.model import DistillNeuCodec, NeuCodec
    from neucodec.module import SemanticEncoder

    cls = NeuCodec if variant == "neucodec" else DistillNeuCodec
    model = cls.__new__(cls)
    nn.Module.__init__(model)
    model.sample_rate = 24_000
    model.hop_length = decoder_hop
    model.semantic_model = semantic
    model.feature_extractor = extractor
    model.generator = CodecDecoderVocos(hop_length=decoder_hop)
    model.fc_post_a = nn.Linear(2048, 1024)
    if variant == "neucodec":
        from neucodec.codec_encoder import CodecEncoder

        model.SemanticEncoder_module = SemanticEncoder(1024, 1024, 1024)
        model.CodecEnc = CodecEncoder()
        model.fc_prior = nn.Linear(2048, 2048)
    else:
        from neucodec.codec_encoder_distill import DistillCodecEncoder

        model.SemanticEncoder_module = SemanticEncoder(768, 768, 1024)
        model.codec_encoder = DistillCodecEncoder()
        model.fc_prior = nn.Linear(768 + 768, 2048)
        model.fc_sq_prior = nn.Linear(512, 768)
    return model


def _spread_random_fsq_projection(model: NeuCodec) -> None:
    """Re-initialise the FSQ input projection of a random model so its codes vary.

    With default init the projection's output is ~0.1, every dimension lands on the same level and
    all codes are equal, which would make random-weight tests vacuous. A gain of 8/sqrt(fan_in) gives
    outputs of order 1 for the fusion layer's output (std ~0.17), spreading codes over all 4 levels.
    """
    proj = model.generator.quantizer.project_in
    nn.init.normal_(proj.weight, std=RANDOM_FSQ_GAIN / math.sqrt(proj.in_features))
    nn.init.zeros_(proj.bias)


def _load_state_dict(path: Path, option: str) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailableError(
            f"{option}: cannot read checkpoint {path} ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{option}: {path} does not hold a state dict")
    return state


def load_checkpoint_checked(
    model: nn.Module, state: dict[str, torch.Tensor], variant: str, source: str
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


def _checkpoint_path(variant: str, weights: str | None, option: str) -> tuple[Path, str]:
    """``pytorch_model.bin`` from a local file/folder or the hub cache, plus a weights id to record."""
    if weights is not None and Path(weights).expanduser().exists():
        path = Path(weights).expanduser()
        path = path / "pytorch_model.bin" if path.is_dir() else path
        if not path.is_file():
            raise WeightsUnavailableError(f"{option}={weights!r}: no pytorch_model.bin there")
        return path, f"file:{path.resolve()}"
    repo = weights or VARIANTS[variant]["hub_id"]
    path = hf_file(repo, "pytorch_model.bin", option=option)
    revision = hub_revision_of(path)
    return path, f"{repo}@{revision}" if revision else repo


def missing_decoder_16k_error(option: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"{option}: decoder_rate=16000 needs a local 16 kHz decoder checkpoint (the public NeuCodec "
        f"checkpoints carry the 24 kHz decoder only); set {option} to its path, or use decoder_rate=24000"
    )


class _DecoderHolder(nn.Module):
    """What ``NeuCodec.decode_code`` uses of its ``self``: the 16 kHz decoder is one of these (the 24 kHz
    decoder is the model itself, which has the same two submodules)."""

    generator: CodecDecoderVocos
    fc_post_a: nn.Linear


def _decoder_16k(model: NeuCodec, decoder_weights: str | None, option: str) -> _DecoderHolder:
    """A 16 kHz decoder (hop 320) that shares the encoder's quantizer (paper: decoders trained on a frozen
    encoder and quantizer). Returns a holder with ``generator`` and ``fc_post_a`` for ``decode_code``.

    ``decoder_weights``: a state dict with ``generator.*`` and ``fc_post_a.*`` keys (a full NeuCodec
    checkpoint trained with hop 320 also works); ``None`` keeps the random init (random-weight mode
    only; the factory refuses it otherwise). Quantizer keys in the file, if any, must equal the encoder's.
    """
    from neucodec.codec_decoder_vocos import CodecDecoderVocos

    holder = _DecoderHolder()
    holder.generator = CodecDecoderVocos(hop_length=DECODER_HOPS[16_000])
    holder.fc_post_a = nn.Linear(2048, 1024)
    shared_quantizer = model.generator.quantizer
    if decoder_weights is not None:
        path = Path(decoder_weights).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(f"{option}={decoder_weights!r}: file not found")
        state = _load_state_dict(path, option)
        wanted = {k: v for k, v in state.items() if k.startswith(("generator.", "fc_post_a."))}
        own_quant = {f"generator.quantizer.{k}": v for k, v in shared_quantizer.state_dict().items()}
        for key in (k for k in wanted if k.startswith("generator.quantizer.")):
            if key not in own_quant or not torch.equal(own_quant[key], wanted[key]):
                raise WeightsUnavailableError(f"{option}: {key} does not match the encoder's quantizer")
        try:
            holder.load_state_dict({**wanted, **own_quant}, strict=True)
        except RuntimeError as exc:
            raise WeightsUnavailableError(f"{option}: {path} does not fit a hop-320 decoder: {exc}") from exc
    holder.generator.quantizer = shared_quantizer
    return holder


# --- the adapter ----------------------------------------------------------------------------------------


class NeuCodecAdapter(BatchedTorchAdapter):
    """NeuCodec / Distill-NeuCodec behind the batched adapter interface."""

    min_input_samples = INPUT_HOP

    def __init__(
        self,
        model: NeuCodec,
        info: CodecInfo,
        device: torch.device,
        batch_size: int,
        batching: BatchingMode,
        decoder: NeuCodec | _DecoderHolder,
    ) -> None:
        self.model = model.to(device).eval()
        self.decoder = decoder.to(device).eval()
        super().__init__(info, device, batch_size, batching)
        self.variant = info.extra["variant"]
        self.output_hop = DECODER_HOPS[info.output_sample_rate]

    # encode ---------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, lengths = pad_waveforms(wavs)
        codes = self.model.encode_code(batch).to("cpu", torch.int64)[:, 0, :]  # [B, F]
        out = []
        for row, n in zip(codes.numpy(), lengths, strict=True):
            frames = neucodec_frame_count(int(n))
            if row.shape[0] < frames:
                raise RuntimeError(
                    f"codec {self.info.name!r}: encoder returned {row.shape[0]} frames for {n} samples, "
                    f"expected at least {frames}"
                )
            out.append(np.ascontiguousarray(row[None, :frames], dtype=np.int64))
        return out

    # decode ---------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_codes(codes)
        from neucodec.model import NeuCodec

        audio = to_numpy_f32(NeuCodec.decode_code(self.decoder, batch.to(self.device)))[:, 0, :]
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
        return to_numpy_f32(self.model.generator.quantizer.get_output_from_indices(indices))[0]

    def codeword_vectors(self) -> list[np.ndarray]:
        """The quantizer output for every one of the 65536 grid points: ``[65536, 2048]`` float32."""
        return [self.quantizer_output(np.arange(CODEBOOK_SIZE, dtype=np.int64)[None, :])]

    def encoder_modules(self) -> list[Any]:
        return _encoder_groups(self.model, self.variant)["all"]


#: the model attributes behind Table 2's two encoder columns, per variant (the fusion layer and the FSQ
#: input projection belong to neither: they count only in ``encoder_total``)
ENCODER_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "neucodec": {"acoustic": ("CodecEnc",), "semantic": ("semantic_model", "SemanticEncoder_module")},
    "distill": {
        "acoustic": ("codec_encoder", "fc_sq_prior"),
        "semantic": ("semantic_model", "SemanticEncoder_module"),
    },
}


def _encoder_groups(model: NeuCodec, variant: str) -> dict[str, list[nn.Module]]:
    """Encoder modules by role (Table 2 counts acoustic and semantic parameters separately)."""
    columns = ENCODER_COLUMNS[variant]
    acoustic = [getattr(model, name) for name in columns["acoustic"]]
    semantic = [getattr(model, name) for name in columns["semantic"]]
    fusion = [model.fc_prior, model.generator.quantizer.project_in]
    return {"acoustic": acoustic, "semantic": semantic, "fusion": fusion, "all": acoustic + semantic + fusion}


def full_semantic_parameters(variant: str) -> int:
    """Parameters of the published semantic model's architecture (w2v-BERT 2.0: 24 layers, ~580 M;
    DistilHuBERT: 2 layers), counted on the meta device: no memory, no initialisation, seconds."""
    with torch.device("meta"):
        semantic, _, _ = _random_semantic(variant, None)
    return count_parameters(semantic)


def parameter_groups(
    model: NeuCodec, decoder: NeuCodec | _DecoderHolder, variant: str, full_semantic: int | None = None
) -> dict[str, int]:
    """Parameter counts by role.

    ``acoustic_encoder`` and ``semantic_encoder`` (semantic model + its adapter) are Table 2's columns;
    ``encoder_total`` adds the fusion layer and the FSQ input projection; ``decoder`` is the decoder
    actually used (Vocos backbone + head + ``fc_post_a`` + FSQ output projection). ``<column>.<attribute>``
    entries break each column down by module, so a difference from the paper's rounded figures can be
    traced to a module.

    The counts describe the architecture, not the weights: with a shrunken random semantic stand-in
    (``random_semantic_layers``), ``full_semantic`` (:func:`full_semantic_parameters`) replaces the
    stand-in's count, which is kept as ``semantic_model_built``.
    """
    groups = _encoder_groups(model, variant)
    quantizer = decoder.generator.quantizer
    decoder_modules = [
        decoder.generator.backbone,
        decoder.generator.head,
        decoder.fc_post_a,
        quantizer.project_out,
    ]
    parts = {
        f"{column}_encoder.{name}": count_parameters(getattr(model, name))
        for column, names in ENCODER_COLUMNS[variant].items()
        for name in names
    }
    encoder_total = count_parameters(*groups["all"])
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
    random_semantic_layers: int | None = None,
    seed: int = 0,
    batching: str = "exact",
    **unknown: Any,
) -> NeuCodecAdapter:
    """Build NeuCodec (``variant="neucodec"``) or Distill-NeuCodec (``variant="distill"``).

    ``weights``: hub id or local ``pytorch_model.bin`` (file or folder); default the public checkpoint.
    ``semantic_weights``: hub id or local folder for the semantic model (default facebook/w2v-bert-2.0 or
    ntu-spml/distilhubert). ``random_weights``: the architecture with a seeded random init (tests and the
    offline pipeline only; nothing computed from it is a result); ``random_semantic_layers`` shrinks the
    random semantic model. ``decoder_rate``: 24000 (public) or 16000 (needs ``decoder_weights``).
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
    torch_device = resolve_device(device)
    # a shrunken random semantic model still reports the published architecture's size (Table 2)
    full_semantic = full_semantic_parameters(variant) if random_semantic_layers is not None else None

    if random_weights:
        with seeded(seed):
            semantic, extractor, semantic_id = _random_semantic(variant, random_semantic_layers)
            model = _build_model(variant, semantic, extractor, DECODER_HOPS[24_000])
            _spread_random_fsq_projection(model)
            decoder = (
                _decoder_16k(model, decoder_weights, f"codecs.{name}.decoder_weights")
                if decoder_rate == 16_000
                else model
            )
        weights_id = f"random-init(seed={int(seed)})"
    else:
        path, weights_id = _checkpoint_path(variant, weights, f"codecs.{name}.weights")
        semantic, extractor, semantic_id = _pretrained_semantic(
            variant, semantic_weights or spec["semantic_hub_id"], f"codecs.{name}.semantic_weights"
        )
        model = _build_model(variant, semantic, extractor, DECODER_HOPS[24_000])
        load_checkpoint_checked(model, _load_state_dict(path, f"codecs.{name}.weights"), variant, str(path))
        decoder = (
            _decoder_16k(model, decoder_weights, f"codecs.{name}.decoder_weights")
            if decoder_rate == 16_000
            else model
        )

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
        weights_id=weights_id,
        random_weights=bool(random_weights),
        parameters=parameter_groups(model, decoder, variant, full_semantic),
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
