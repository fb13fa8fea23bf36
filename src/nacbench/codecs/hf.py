"""Any audio codec Transformers ships, by config: the ``transformers`` adapter (Mimi, X-Codec2, DAC,
EnCodec, NeuCodec).

One config entry runs a codec from the Hugging Face hub (or a local folder) through Transformers' own
model classes and loading conventions::

    mimi: {adapter: transformers, model: kyutai/mimi, revision: <commit>, n_quantizers: 8}
    xcodec2: {adapter: transformers, model: HKUSTAudio/xcodec2-hf, revision: <commit>}
    dac-hf: {adapter: transformers, model: descript/dac_24khz, family: dac, n_quantizers: 6}

A backend per codec entry. DAC, EnCodec and NeuCodec also have package adapters (``dac``,
``encodec``, ``neucodec``: descript-audio-codec, encodec, neucodec); the entry's ``adapter`` chooses
the backend. The two backends of one codec give the same layout when their codebook counts match
(``n_quantizers`` here is the package adapters' ``n_codebooks``), the same frames for a given length
(each family below keeps the package adapter's frame count) and, on the same weights
(:mod:`nacbench.codecs.hf_weights` maps a package state dict onto the Transformers model), the same
codes and audio: measured in tests/test_codec_backends.py, DAC and EnCodec bit for bit; NeuCodec's
decoder within 1e-5 of the peak (measured ~2e-6) and its codes identical given the same semantic
features, which the two backends compute with different filter banks (SeamlessM4T's numpy one in the
package, torchaudio's Kaldi ``fbank`` here: ~1e-5 of their peak apart on real speech, more in nearly
empty mel bins), so a code near an FSQ rounding boundary can differ end to end.

The code layout (codebook sizes and count, FSQ levels and index order, frame rate, sample rates) is read
from the model's config object, through the config fields its family names
(:data:`nacbench.codecs.hf_layout.FAMILIES`); config validation reads the same fields without torch
(:mod:`nacbench.codecs.hf_layout`, which also says where it finds the config before any download). A
config whose ``model_type`` is no family here stops with :class:`NotAnAudioCodecError`, an unreadable
layout with :class:`CodecLayoutError`.

Weights: ``from_pretrained(model, revision=..., local_files_only=HF_HUB_OFFLINE)`` in float32 (Transformers
5 would otherwise keep a checkpoint's own dtype), from the Hugging Face cache (``HF_HOME`` /
``HF_HUB_CACHE``); offline and not cached, a :class:`WeightsUnavailableError` says where to put them.
The revision is pinned (a commit, or the lock file's: :mod:`nacbench.codecs.revisions`); another commit
in the cache is refused, and ``weights_id`` records the hub commit the files came from.
``random_weights: true`` builds the family's default architecture (``<Family>Config()``, plus
``config_overrides`` for smaller test models) from a seed, marked random like every other random codec.

Families, as Transformers 5.24 implements them:

- **Mimi** (``MimiModel``): RVQ, ``n_quantizers`` of its 32 codebooks of 2048 (the first is the semantic
  split's), 12.5 frames/s, 24 kHz. ``ceil(T / 1920)`` frames (``get_encoded_length``); the decoder gives
  ``1920 * F`` samples from the input's time origin (Transformers' own ``forward`` trims the end only).
  A random initialisation leaves every codebook at zero (``_init_weights``), so every code would be 0:
  as with EnCodec, the codebooks are drawn from the random encoder's own outputs
  (:func:`init_random_mimi_codebooks`).
- **X-Codec2** (``Xcodec2Model`` with ``Xcodec2FeatureExtractor``): FSQ, levels ``quantization_levels``
  (``[4] * 8``: one codebook of 65536) with index ``sum(level_d * prod(levels[:d]))`` (the quantizer's
  ``basis`` buffer, checked at build: dimension 0 least significant), 50 frames/s, 16 kHz. The feature
  extractor appends one zero sample and pads to a multiple of the hop, so ``ceil((T + 1) / 320)`` frames;
  the ISTFT head gives ``320 * F`` samples.

- **DAC** (``DacModel``): RVQ, ``n_quantizers`` of its ``n_codebooks`` codebooks of ``codebook_size``
  (``descript/dac_24khz``: 32 of 1024; ``DacConfig()`` is the 16 kHz model, 9 of 1024 at hop 512), hop
  ``prod(downsampling_ratios)`` at ``sampling_rate`` (the frame rate is ``rate / hop``, not the config's
  ``frame_rate``, which Transformers rounds up to an integer). As the package adapter: the input padded
  to a multiple of the hop, ``ceil(T / hop)`` frames, the decoder's output fitted to ``hop * F``
  samples.
- **EnCodec** (``EncodecModel``): RVQ, ``n_quantizers`` codebooks of ``codebook_size``; the model's count
  is not a config field but computed from its largest target bandwidth (``num_quantizers``: 32 for the
  24 kHz model, :func:`nacbench.codecs.hf_layout.encodec_codebook_count`). ``model.encode`` takes only
  the preset bandwidths (1.5/3/6/12/24 kbps) and the paper's 12 codebooks are 9 kbps, so the adapter runs
  its steps as the package adapter does: encoder, then the quantizer at ``n * 0.75`` kbps (checked to use
  exactly n codebooks). Models that normalise the volume or cut chunks (the 48 kHz one) are refused.
  Random codebooks are zero in Transformers, so they are drawn from the random encoder's outputs
  (:func:`init_random_encodec_codebooks`, the package adapter's rule).
- **NeuCodec** (``NeuCodecModel`` with ``NeuCodecFeatureExtractor``): X-Codec2's structure; FSQ levels
  ``quantization_levels`` (``[4] * 8``), index basis checked as X-Codec2's (dimension 0 least
  significant: the package's vector-quantize-pytorch order, tested on the same indices), 50 frames/s
  in at 16 kHz, decoded at ``output_sampling_rate`` (24 kHz, 480 samples per frame). Both backends pad
  the input to ``320 * (floor(T / 320) + 1)`` samples and give that many frames; the adapter keeps
  ``floor(T / 320)``, as the package adapter does (the last frame covers mostly padding). The semantic
  encoder is a 16-layer w2v-BERT whose last hidden state is the package's ``hidden_states[16]`` of the
  24-layer one. Random weights spread the FSQ input projection as the package adapter does, so codes vary.

Batching (measured on the CPU with random weights, full-size default configs; the tests keep the
findings true). Padding a batch is *not* transparent for either family, so ``batching: exact`` (equal
lengths only) stays the default:

- X-Codec2 passes the feature extractor's masks (``padding_mask``, ``input_features_mask``: the
  semantic encoder's attention uses the latter), yet its acoustic encoder's convolutions and the
  semantic encoder's convolution modules see the padding: in a padded batch of 1.0 s and 0.6 s the
  shorter input's latent changes in its last 4 frames (by up to 0.1 at a scale of 0.14), and 3 of its 31
  codes change. A batch of equal lengths gives exactly the codes and latents of one input at a time.
- Mimi's encoder takes a ``padding_mask`` but does not use it yet (Transformers 5.24: "TODO ... support
  padding_mask"); its convolutions and attention are causal, so padding changes only the shorter
  input's last frame (latent change 4.7 at a scale of 18.5). But its transformers are not batch-invariant
  either: a batch of two equal-length inputs changes the latent by ~1e-5 against one input at a time,
  and that moves nearest-codeword choices that are near ties (random codebooks have many: 8 of 13
  frames changed). So Mimi's default ``batch_size`` is 1 (every input alone, whatever else is in the
  shard); a larger one is faster on a GPU at that cost.

``batching: padded`` passes the masks Transformers defines and trims each output to its own frames.
DAC, EnCodec and NeuCodec keep ``batching: exact`` too, as their package adapters do (their convolutions
see a padded batch's padding at each input's end; not measured for the Transformers backend).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from nacbench.codecs import register
from nacbench.codecs.base import DIM0_LEAST_SIGNIFICANT, CodecInfo, WeightsUnavailableError
from nacbench.codecs.hf_layout import (
    CodecLayoutError,
    CodeLayout,
    Family,
    ModelNotCachedError,
    NotAnAudioCodecError,
    cached_config_file,
    check_same_layout,
    family_of_config,
    is_local_folder,
    read_layout,
    static_code_layout,
)
from nacbench.codecs.revisions import check_cached, commit_of, confirm, download_command, hub_pin
from nacbench.codecs.torchutil import (
    BatchedTorchAdapter,
    BatchingMode,
    batching_mode,
    count_parameters,
    fit_length,
    frames_for_length,
    pad_codes,
    pad_latents,
    pad_waveforms,
    random_init_id,
    reject_unknown_options,
    resolve_device,
    seed_codebooks_from_residuals,
    seeded_part,
    to_numpy_f32,
)
from nacbench.codecs.weights import hf_cache_dir, hub_offline
from nacbench.fsq import fsq_basis
from nacbench.startup import phase

__all__ = [
    "CodecLayoutError",
    "DacAdapter",
    "EncodecAdapter",
    "MimiAdapter",
    "NeuCodecAdapter",
    "NotAnAudioCodecError",
    "TransformersCodecAdapter",
    "Xcodec2Adapter",
    "build_transformers_codec",
    "config_layout",
]


def config_layout(
    family: Family, config: Any, n_quantizers: int | None, source: str, prefix: str = ""
) -> CodeLayout:
    """The code layout a Transformers config object gives (its layout fields, as the family names them)."""
    fields = {f: getattr(config, f, None) for f in family.layout_fields}
    return read_layout(family, fields, n_quantizers, source, prefix)


class TransformersCodecAdapter(BatchedTorchAdapter):
    """What the families share: the model on its device, the layout, the batching loop.

    A family's subclass says how its model encodes and decodes a batch and where its latent is;
    :meth:`rates` reads its sample and frame rates from its config.
    """

    #: the family this class runs (its ``model_type``)
    model_type: ClassVar[str]
    #: ``batch_size`` when the entry gives none (see the module doc on batching)
    default_batch_size: ClassVar[int] = 8

    def __init__(
        self,
        model: nn.Module,
        info: CodecInfo,
        device: torch.device,
        batch_size: int,
        batching: BatchingMode,
        hop: int,
        output_hop: int | None = None,
    ) -> None:
        with phase("device"):
            # Any: the family's Transformers model (typed per family would mean one import per family)
            self.model: Any = model.to(device).eval()
        super().__init__(info, device, batch_size, batching)
        #: input samples per code frame
        self.hop = hop
        #: output samples per code frame: the decoder gives ``output_hop * frames`` samples (``hop`` where
        #: the rates in and out are equal; NeuCodec decodes 16 kHz codes at 24 kHz)
        self.output_hop = hop if output_hop is None else output_hop

    @staticmethod
    @abstractmethod
    def rates(config: Any) -> tuple[int, float, int]:
        """(sample rate, frame rate, input samples per frame) from the config object."""

    @staticmethod
    def output_rate(config: Any, rate: int, hop: int) -> tuple[int, int]:
        """(output sample rate, output samples per frame): the input's, unless the family decodes at
        another rate."""
        return rate, hop

    @staticmethod
    def extra_info(config: Any, n_codebooks: int) -> dict[str, Any]:
        """Family-specific facts the codec's ``info.extra`` records (EnCodec: its bandwidth)."""
        return {}

    @staticmethod
    def initialise(model: Any, seed: int, hop: int) -> None:
        """Family-specific completion of a random initialisation (on the CPU, before the adapter)."""

    def load_preprocessing(self, source: str | None, revision: str | None, option: str) -> None:
        """The family's input preprocessing: the checkpoint's (``source``: its hub id or folder) or, for
        random weights (None), the defaults at the config's rates."""

    @property
    @abstractmethod
    def latent_dim(self) -> int:
        """Dimension of the latent :meth:`encode_latent` gives and :meth:`decode_latent` takes."""

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Audio from ``[latent_dim, frames]`` vectors in the space the decoder consumes (see the family's
        :meth:`encode_latent`), ``hop * frames`` samples as :meth:`decode` gives."""
        return self.map_latents(latents, self.latent_dim, self._decode_latent_batch)

    @torch.inference_mode()
    def _decode_latent_batch(self, latents: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_latents(latents)
        return self._audio(self._decoder(batch.to(self.device)), frames)

    @abstractmethod
    def _decoder(self, latents: torch.Tensor) -> torch.Tensor:
        """The decoder on ``[B, latent_dim, F]``: audio ``[B, 1, samples]``."""

    @torch.inference_mode()
    def _decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_codes(codes)
        return self._audio(self._decode_codes(batch.to(self.device)), frames)

    @abstractmethod
    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The model's own decode of ``[B, K, F]`` codes: audio ``[B, 1, samples]``."""

    def _audio(self, audio: torch.Tensor, frames: np.ndarray) -> list[np.ndarray]:
        """Each output fitted to its ``output_hop * frames`` samples."""
        out = to_numpy_f32(audio)[:, 0, :]
        return [fit_length(a, int(f) * self.output_hop) for a, f in zip(out, frames, strict=True)]


# --- Mimi ------------------------------------------------------------------------------------------------


def mimi_rvqs(model: Any) -> list[Any]:
    """Mimi's two RVQs, semantic first: together they give the codebooks in code order."""
    split = model.quantizer
    return [split.semantic_residual_vector_quantizer, split.acoustic_residual_vector_quantizer]


def reset_mimi_codebook_cache(model: Any) -> None:
    """Forget every codebook's cached ``embed`` (computed once from ``embed_sum`` on first use, and not
    moved by ``.to(device)``): after new codebooks, or a move to another device."""
    for rvq in mimi_rvqs(model):
        for layer in rvq.layers:
            layer.codebook._embed = None


def init_random_mimi_codebooks(model: Any, hop: int, probe_frames: int = 64) -> None:
    """Give a randomly initialised Mimi codebooks drawn from its own encoder's outputs (torch's RNG).

    Transformers initialises Mimi's codebooks to zero (``embed_sum = 0``), so every code of a random
    model would be 0 and the decoder would ignore the channel. As for EnCodec (its
    ``init_random_codebooks``), each codebook is filled with residual vectors of a noise probe, sampled
    with replacement and jittered (5 % of their spread), stage after stage; both RVQs quantize the same
    encoder output, each through its own input projection.
    """
    probe = 0.1 * torch.randn(1, 1, probe_frames * hop)
    with torch.no_grad():
        latents = model.encoder(probe).latents  # [1, hidden, F]
        for rvq in mimi_rvqs(model):
            x = rvq.input_proj(latents) if rvq.input_proj is not None else latents
            residual = x[0].T  # [F, codebook_dim]
            for layer in rvq.layers:
                book = layer.codebook
                picks = residual[torch.randint(residual.shape[0], (book.codebook_size,))]
                book.embed_sum.copy_(picks + 0.05 * residual.std() * torch.randn_like(picks))
                book.cluster_usage.fill_(1.0)
                book._embed = None
                residual = residual - book.decode(book.encode(residual))
    reset_mimi_codebook_cache(model)


class MimiAdapter(TransformersCodecAdapter):
    """Mimi with its first ``n_quantizers`` codebooks (semantic, then acoustic)."""

    model_type = "mimi"
    default_batch_size = 1  # its transformers are not batch-invariant (module doc)

    @staticmethod
    def rates(config: Any) -> tuple[int, float, int]:
        rate, frame_rate = int(config.sampling_rate), float(config.frame_rate)
        hop = rate / frame_rate
        if hop != int(hop):
            raise CodecLayoutError(f"model: Mimi at {rate} Hz and {frame_rate} frames/s has no whole hop")
        return rate, frame_rate, int(hop)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reset_mimi_codebook_cache(self.model)  # `embed` is computed again, on the model's device

    @staticmethod
    def initialise(model: Any, seed: int, hop: int) -> None:
        with phase("construct"), seeded_part(seed, "quantizer.codebooks"):
            init_random_mimi_codebooks(model, hop)

    @property
    def latent_dim(self) -> int:
        return int(self.model.config.hidden_size)

    def _frames(self, lengths: np.ndarray) -> list[int]:
        return [int(f) for f in self.model.get_encoded_length(torch.as_tensor(lengths)).tolist()]

    def _inputs(self, wavs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor | None, list[int]]:
        """The batch ``[B, 1, T]``, its padding mask when padded (else None) and each input's frames."""
        batch, lengths = pad_waveforms(wavs)
        mask = None
        if (lengths != lengths[0]).any():
            mask = (torch.arange(batch.shape[-1])[None, :] < torch.as_tensor(lengths)[:, None]).long()
            mask = mask[:, None, :].to(self.device)
        return batch.to(self.device), mask, self._frames(lengths)

    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, mask, frames = self._inputs(wavs)
        codes = self.model.encode(batch, padding_mask=mask, num_quantizers=self.info.n_codebooks).audio_codes
        codes = codes.to("cpu", torch.int64).numpy()  # [B, K, F]
        return [np.ascontiguousarray(c[:, :f]) for c, f in zip(codes, frames, strict=True)]

    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes).audio_values

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The encoder's output, ``[hidden_size, frames]`` (512-d; frames as :meth:`encode`): what both
        RVQs quantize, each through its input projection. The decoder consumes the sum of their output
        projections, a vector in this same space; Mimi was trained with quantization applied to only half
        of the training sequences (the Moshi paper's audio tokenizer), so its decoder also takes the
        unquantized latent."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def _encode_latent_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, mask, frames = self._inputs(wavs)
        latents = to_numpy_f32(self.model.encoder(batch, padding_mask=mask).latents)
        return [np.ascontiguousarray(x[:, :f]) for x, f in zip(latents, frames, strict=True)]

    def _decoder(self, latents: torch.Tensor) -> torch.Tensor:
        return self.model.decoder(latents).audio_values

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, every entry after its RVQ's output projection: ``[2048, hidden_size]``, the
        vectors whose sum the decoder consumes."""
        stages = [(rvq, layer) for rvq in mimi_rvqs(self.model) for layer in rvq.layers]
        out = []
        for rvq, layer in stages[: self.info.n_codebooks]:
            table = layer.codebook.embed.T[None]  # [1, codebook_dim, size]: each entry a time step
            projected = rvq.output_proj(table) if rvq.output_proj is not None else table
            out.append(to_numpy_f32(projected)[0].T)
        return out

    def encoder_modules(self) -> list[Any]:
        return [self.model.encoder, self.model.quantizer]


# --- X-Codec2 --------------------------------------------------------------------------------------------


class Xcodec2Adapter(TransformersCodecAdapter):
    """X-Codec2: one FSQ codebook, semantic (Wav2Vec2-BERT) and acoustic encoders fused."""

    model_type = "xcodec2"
    extractor: Any = None
    #: the feature extractor's class in ``transformers``
    extractor_class: ClassVar[str] = "Xcodec2FeatureExtractor"

    @staticmethod
    def rates(config: Any) -> tuple[int, float, int]:
        rate, hop = int(config.sampling_rate), int(config.hop_length)
        return rate, rate / hop, hop

    def load_preprocessing(self, source: str | None, revision: str | None, option: str) -> None:
        """The feature extractor: the checkpoint's own (``preprocessor_config.json``), or for random
        weights the class's defaults at the config's rate and hop; both must agree with the config."""
        import transformers

        extractor_class = getattr(transformers, self.extractor_class)
        if source is None:
            self.extractor = extractor_class(sampling_rate=self.info.input_sample_rate, hop_length=self.hop)
        else:
            try:
                self.extractor = extractor_class.from_pretrained(source, **_hub_kwargs(source, revision))
            except Exception as exc:  # as for the weights: hub and file errors of many types
                raise WeightsUnavailableError(
                    f"{option}: cannot load the feature extractor of {source!r} ({type(exc).__name__}: {exc})"
                ) from exc
        if (int(self.extractor.sampling_rate), int(self.extractor.hop_length)) != (
            self.info.input_sample_rate,
            self.hop,
        ):
            raise CodecLayoutError(
                f"model: the feature extractor works at {self.extractor.sampling_rate} Hz with hop "
                f"{self.extractor.hop_length}, the model at {self.info.input_sample_rate} Hz with hop {self.hop}"
            )

    @property
    def latent_dim(self) -> int:
        return int(self.model.quantizer.project_out.out_features)

    def _features(self, wavs: list[np.ndarray]) -> tuple[dict[str, torch.Tensor], list[int]]:
        """The model's inputs (padded audio, its mel features and both masks), each input's frames."""
        # on the CPU (its mel filter bank is cheap), then moved
        features = self.extractor(wavs, sampling_rate=self.info.input_sample_rate, return_tensors="pt")
        names = ("input_values", "input_features", "padding_mask", "input_features_mask")
        inputs = {k: features[k] for k in names}
        frames = [self._frame_count(len(w)) for w in wavs]
        return {k: v.to(self.device) for k, v in inputs.items()}, frames

    def _frame_count(self, n_samples: int) -> int:
        """Frames kept for ``n_samples`` input samples: the extractor appends one zero sample, then pads
        to a multiple of the hop."""
        return frames_for_length(n_samples + 1, self.hop)

    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        inputs, frames = self._features(wavs)
        codes = self.model.encode(**inputs).audio_codes.to("cpu", torch.int64).numpy()  # [B, 1, F]
        return [np.ascontiguousarray(c[:, :f]) for c, f in zip(codes, frames, strict=True)]

    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(audio_codes=codes).audio_values

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The FSQ output projection of the bounded, unrounded quantizer input, ``[2048, frames]``
        (frames as :meth:`encode`): the codes' quantizer output is this with the 8 bounded components
        rounded (:meth:`unrounded_output`), as NeuCodec's adapter defines its latent. It runs the model's
        own ``encode`` and takes the quantizer's input as it passes."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def _encode_latent_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        inputs, frames = self._features(wavs)
        seen: list[torch.Tensor] = []
        hook = self.model.quantizer.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
        try:
            self.model.encode(**inputs)
        finally:
            hook.remove()
        (x,) = seen  # [B, F, 2048]: the fused encoder output, as the quantizer received it
        latents = to_numpy_f32(self.unrounded_output(x)).transpose(0, 2, 1)
        return [np.ascontiguousarray(z[:, :f]) for z, f in zip(latents, frames, strict=True)]

    def bounded(self, x: torch.Tensor) -> torch.Tensor:
        """The FSQ components the quantizer rounds for its input ``x`` ``[..., 2048]``: ``project_in``,
        then ``bound`` twice (Transformers' ``Xcodec2Quantizer.forward`` bounds once "for consistency with
        the original checkpoint", and the FSQ bounds again)."""
        quantizer = self.model.quantizer
        fsq = quantizer.quantizer
        return fsq.bound(fsq.bound(quantizer.project_in(x)))

    def unrounded_output(self, x: torch.Tensor) -> torch.Tensor:
        """The quantizer's output for ``x`` with the rounding left out, ``[..., 2048]``."""
        quantizer = self.model.quantizer
        half_width = (quantizer.quantizer.levels // 2).to(x.dtype)
        return quantizer.project_out(self.bounded(x) / half_width)

    def _decoder(self, latents: torch.Tensor) -> torch.Tensor:
        return self.model.decode(latents=latents).audio_values

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """The quantizer output for every grid point: ``[prod(levels), 2048]`` (65536 x 2048 float32,
        512 MB, for the default levels)."""
        quantizer = self.model.quantizer
        return [to_numpy_f32(quantizer.project_out(quantizer.quantizer.codebook.to(torch.float32)))]

    @torch.inference_mode()
    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """The quantizer's output for ``codes`` alone, ``[2048, frames]`` (not the 512 MB table of
        :meth:`codeword_vectors` the default would build)."""
        codes = np.asarray(codes, dtype=np.int64)
        self.check_codes(codes)
        out = self.model.quantizer.from_codes(torch.from_numpy(codes).T[None].to(self.device))
        return np.ascontiguousarray(to_numpy_f32(out)[0].T)

    def encoder_modules(self) -> list[Any]:
        m = self.model
        return [m.semantic_encoder, m.semantic_adapter, m.acoustic_encoder, m.fc_encoder, m.quantizer]


# --- DAC and EnCodec: the encoder's output is the latent -------------------------------------------------


class EncoderDecoderFamily(TransformersCodecAdapter):
    """A family whose latent is ``model.encoder``'s output, ``[B, hidden_size, F]``, and whose
    ``model.decoder`` takes it back (DAC, EnCodec): their latent paths are these same calls."""

    @abstractmethod
    def _inputs(self, wavs: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
        """The batch on the device as the family's encoder takes it, and each input's frames."""

    @property
    def latent_dim(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def _encode_latent_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = self._inputs(wavs)
        latents = to_numpy_f32(self.model.encoder(batch))
        return [np.ascontiguousarray(x[:, :f]) for x, f in zip(latents, frames, strict=True)]

    def _decoder(self, latents: torch.Tensor) -> torch.Tensor:
        return self.model.decoder(latents)

    def encoder_modules(self) -> list[Any]:
        return [self.model.encoder, self.model.quantizer]


# --- DAC -------------------------------------------------------------------------------------------------


class DacAdapter(EncoderDecoderFamily):
    """DAC (Transformers' ``DacModel``) with its first ``n_quantizers`` codebooks."""

    model_type = "dac"

    @staticmethod
    def rates(config: Any) -> tuple[int, float, int]:
        # not config.frame_rate: Transformers rounds it up to an integer (16 kHz / 512 = 31.25 -> 32)
        rate, hop = int(config.sampling_rate), int(math.prod(config.downsampling_ratios))
        return rate, rate / hop, hop

    def _inputs(self, wavs: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
        """The batch padded to a multiple of the hop, as the package adapter pads it, and each input's
        ``ceil(T / hop)`` frames."""
        batch, lengths = pad_waveforms(wavs, multiple=self.hop)
        return batch.to(self.device), [frames_for_length(int(n), self.hop) for n in lengths]

    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = self._inputs(wavs)
        k = self.info.n_codebooks
        codes = self.model.encode(batch, n_quantizers=k).audio_codes[:, :k]
        codes = codes.to("cpu", torch.int64).numpy()  # [B, K, F]
        return [np.ascontiguousarray(c[:, :f]) for c, f in zip(codes, frames, strict=True)]

    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(audio_codes=codes).audio_values[:, None, :]

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The encoder's output z, ``[hidden_size, frames]`` (frames as :meth:`encode`): what the RVQ
        quantizes; its stages' out-projected codewords sum to a vector in this space, the decoder's input
        (as the package adapter's)."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, every entry after ``out_proj``: ``[codebook_size, hidden_size]``."""
        out = []
        for vq in self.model.quantizer.quantizers[: self.info.n_codebooks]:
            table = vq.codebook.weight.T[None]  # [1, codebook_dim, size]: each entry as one time step
            out.append(to_numpy_f32(vq.out_proj(table))[0].T)
        return out


# --- EnCodec ---------------------------------------------------------------------------------------------


def init_random_encodec_codebooks(model: Any, hop: int, probe_frames: int = 64) -> None:
    """Give a randomly initialised Transformers EnCodec codebooks drawn from its own encoder's outputs:
    Transformers initialises them to zero, so every code would be 0. The package adapter's rule
    (:func:`nacbench.codecs.torchutil.seed_codebooks_from_residuals`) on a noise probe."""
    probe = 0.1 * torch.randn(1, int(model.config.audio_channels), probe_frames * hop)
    with torch.no_grad():
        residual = model.encoder(probe)[0].T  # [frames, dim]
    seed_codebooks_from_residuals(residual, [layer.codebook for layer in model.quantizer.layers])


class EncodecAdapter(EncoderDecoderFamily):
    """EnCodec (Transformers' ``EncodecModel``) with its first ``n_quantizers`` codebooks."""

    model_type = "encodec"

    @staticmethod
    def rates(config: Any) -> tuple[int, float, int]:
        if config.normalize or config.chunk_length_s is not None or int(config.audio_channels) != 1:
            raise CodecLayoutError(
                "model: the transformers adapter runs EnCodec models that neither normalise the volume nor "
                "cut the input into chunks, on one channel (the 24 kHz model); this one has normalize="
                f"{config.normalize}, chunk_length_s={config.chunk_length_s}, audio_channels={config.audio_channels}"
            )
        rate, hop = int(config.sampling_rate), int(math.prod(config.upsampling_ratios))
        return rate, rate / hop, hop

    @staticmethod
    def bandwidth(config: Any, n_codebooks: int) -> float:
        """The bandwidth (kbps) at which the quantizer uses exactly ``n_codebooks`` codebooks, by its own
        rule (``log2(codebook_size) * frame_rate`` bits/s per codebook: 0.75 kbps for the 24 kHz model)."""
        return n_codebooks * math.log2(int(config.codebook_size)) * int(config.frame_rate) / 1000

    @staticmethod
    def extra_info(config: Any, n_codebooks: int) -> dict[str, Any]:
        return {"bandwidth_kbps": EncodecAdapter.bandwidth(config, n_codebooks)}

    @staticmethod
    def initialise(model: Any, seed: int, hop: int) -> None:
        with phase("construct"), seeded_part(seed, "quantizer.codebooks"):
            init_random_encodec_codebooks(model, hop)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        k = self.info.n_codebooks
        self.kbps = self.bandwidth(self.model.config, k)
        used = self.model.quantizer.get_num_quantizers_for_bandwidth(self.kbps)
        if used != k:
            raise CodecLayoutError(f"model: EnCodec at {self.kbps} kbps uses {used} codebooks, not {k}")

    def _inputs(self, wavs: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
        batch, lengths = pad_waveforms(wavs)
        return batch.to(self.device), [frames_for_length(int(n), self.hop) for n in lengths]

    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = self._inputs(wavs)
        # the model's encode steps (encoder, then the quantizer at an explicit bandwidth): its `encode`
        # takes only the preset bandwidths, and the paper's 12 codebooks are 9 kbps, no preset
        codes = self.model.quantizer.encode(self.model.encoder(batch), self.kbps)  # [K, B, F]
        per_item = codes.transpose(0, 1).to("cpu", torch.int64).numpy()
        return [np.ascontiguousarray(c[:, :f]) for c, f in zip(per_item, frames, strict=True)]

    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decoder(self.model.quantizer.decode(codes.transpose(0, 1)))

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The encoder's output, ``[hidden_size, frames]``: what the RVQ quantizes and the space its
        codewords' sum (the decoder's input) lives in (no projections)."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, its entries ``[codebook_size, hidden_size]``: the vectors whose sum the decoder consumes."""
        return [
            to_numpy_f32(layer.codebook.embed)
            for layer in self.model.quantizer.layers[: self.info.n_codebooks]
        ]


# --- NeuCodec --------------------------------------------------------------------------------------------


class NeuCodecAdapter(Xcodec2Adapter):
    """NeuCodec (Transformers' ``NeuCodecModel``): X-Codec2's structure (its quantizer, latent and encoder
    modules carry the same names) with its own feature extractor, frames and a 24 kHz decoder."""

    model_type = "neucodec"
    extractor_class = "NeuCodecFeatureExtractor"
    #: one frame at least, as the package adapter needs
    min_input_samples = 320

    @staticmethod
    def rates(config: Any) -> tuple[int, float, int]:
        rate, hop = int(config.input_sampling_rate), int(config.encoder_hop_length)
        return rate, rate / hop, hop

    @staticmethod
    def output_rate(config: Any, rate: int, hop: int) -> tuple[int, int]:
        return int(config.output_sampling_rate), int(config.hop_length)

    @staticmethod
    def initialise(model: Any, seed: int, hop: int) -> None:
        """The package adapter's spread of the FSQ input projection (gain 8 / sqrt(fan_in), no bias):
        with the default init every frame would land on the same code."""
        from nacbench.codecs.neucodec import RANDOM_FSQ_GAIN

        with phase("construct"), seeded_part(seed, "quantizer.project_in"):
            proj = model.quantizer.project_in
            nn.init.normal_(proj.weight, std=RANDOM_FSQ_GAIN / math.sqrt(proj.in_features))
            nn.init.zeros_(proj.bias)

    def _frame_count(self, n_samples: int) -> int:
        """``floor(T / hop)``: the package adapter's frames (:func:`nacbench.codecs.neucodec.
        neucodec_frame_count`). Both implementations pad the input to ``hop * (floor(T / hop) + 1)`` and
        give that many frames; the last one covers mostly padding and is dropped, as the package adapter
        drops it."""
        return n_samples // self.hop


ADAPTER_CLASSES: dict[str, type[TransformersCodecAdapter]] = {
    cls.model_type: cls for cls in (MimiAdapter, Xcodec2Adapter, DacAdapter, EncodecAdapter, NeuCodecAdapter)
}


def _fsq_index_order(model: Any, levels: tuple[int, ...], prefix: str) -> str:
    """The index order X-Codec2's quantizer defines (its ``basis``), checked against its levels."""
    fsq = model.quantizer.quantizer
    model_levels = tuple(int(v) for v in fsq.levels.tolist())
    basis = tuple(int(v) for v in fsq.basis.tolist())
    if model_levels != levels:
        raise CodecLayoutError(
            f"{prefix}model: the quantizer has levels {list(model_levels)}, its config {list(levels)}"
        )
    if basis != tuple(int(v) for v in fsq_basis(levels)):
        raise CodecLayoutError(
            f"{prefix}model: the quantizer's index basis {list(basis)} is not dimension 0 least significant, "
            "the one FSQ index order the channel's labellings know"
        )
    return DIM0_LEAST_SIGNIFICANT


# --- loading ---------------------------------------------------------------------------------------------


def _hub_kwargs(model: str, revision: str | None) -> dict[str, Any]:
    """What Transformers' loaders get: the revision, the offline switch and the cache, read now."""
    kwargs: dict[str, Any] = {"local_files_only": hub_offline()}
    if not is_local_folder(model):
        kwargs["cache_dir"] = str(hf_cache_dir())
        if revision is not None:
            kwargs["revision"] = revision
    return kwargs


def _pretrained(
    model: str, revision: str | None, prefix: str, floating: bool = False
) -> tuple[Any, Family, str]:
    """The model ``from_pretrained`` gives (float32), its family, and a weights id with the hub commit
    (a hub model at its pinned revision, checked: :mod:`nacbench.codecs.revisions`)."""
    with phase("imports"):
        import transformers

    option = f"{prefix}model"
    pin = None
    if not is_local_folder(model):
        pin = hub_pin(model, revision, floating=floating, option=f"{prefix}revision")
        check_cached(pin)
        revision = pin.revision
    kwargs = _hub_kwargs(model, revision)
    where = (
        f"Expected in the Hugging Face cache {hf_cache_dir()} (fill it on a machine with network: "
        f"`{download_command(model, revision)}` with the same "
        f"HF_HOME), or set {option} to a local folder holding config.json and the weights"
    )
    try:
        config = transformers.AutoConfig.from_pretrained(model, **kwargs)
    except Exception as exc:  # hub errors come in many types (offline, HTTP, gated, missing entry)
        raise WeightsUnavailableError(
            f"{option}: cannot get the config of {model!r} ({type(exc).__name__}: {exc}). {where}"
        ) from exc
    family = family_of_config(config.to_dict(), repr(model), prefix)
    if pin is not None:
        # the weights from the commit the config came from (a first `locked` download follows main,
        # which may move between the two files): the config's commit is recorded, the weights must match
        cached = cached_config_file(model, revision)
        commit = confirm(pin, commit_of(cached) if cached is not None else "")
        if commit:
            pin, revision = pin.settled(commit), commit
            kwargs = _hub_kwargs(model, revision)
    try:
        with phase("weights"):
            net = getattr(transformers, family.model_class).from_pretrained(
                model, config=config, dtype=torch.float32, **kwargs
            )
    except Exception as exc:
        raise WeightsUnavailableError(
            f"{option}: cannot load the weights of {model!r} ({type(exc).__name__}: {exc}). {where}"
        ) from exc
    if is_local_folder(model):
        return net, family, f"file:{Path(model).expanduser().resolve()}"
    assert pin is not None
    cached = cached_config_file(model, revision)
    commit = confirm(pin, commit_of(cached) if cached is not None else "")
    return net, family, f"hf:{model}@{commit or revision}"


def _parameters(model: nn.Module) -> dict[str, int]:
    """Parameter counts by the model's top-level parts (Mimi: encoder, decoder, quantizer; X-Codec2:
    semantic and acoustic encoders, adapter, fusion, quantizer, decoder)."""
    return {name: count_parameters(part) for name, part in model.named_children()}


@register("transformers")
def build_transformers_codec(
    name: str,
    device: str = "cpu",
    model: str | None = None,
    revision: str | None = None,
    revision_floating: bool = False,
    family: str | None = None,
    n_quantizers: int | None = None,
    random_weights: bool = False,
    config_overrides: Mapping[str, Any] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    batching: str = "exact",
    **unknown: Any,
) -> TransformersCodecAdapter:
    """A codec Transformers ships. ``model``: a hub id or a local folder (``revision``: a hub commit);
    ``family``: its ``model_type`` (needed only before a hub model's config is cached, and for random
    weights); ``n_quantizers``: codebooks kept of an RVQ (default: all); ``random_weights``: the family's
    default architecture, seeded (``config_overrides``: fields changed, for small test models);
    ``batch_size``: default per family (Mimi 1, X-Codec2 8: see the module doc on batching)."""
    known = (
        "model",
        "revision",
        "revision_floating",
        "family",
        "n_quantizers",
        "random_weights",
        "config_overrides",
        "seed",
        "batch_size",
        "batching",
    )
    reject_unknown_options(name, unknown, known)
    mode = batching_mode(name, batching)
    prefix = f"codecs.{name}."
    options = {
        "model": model,
        "revision": revision,
        "revision_floating": revision_floating,
        "family": family,
        "n_quantizers": n_quantizers,
        "random_weights": random_weights,
        "config_overrides": config_overrides,
    }
    try:
        static = static_code_layout(options)  # before any download: what config validation saw
    except ModelNotCachedError as exc:
        raise WeightsUnavailableError(f"{prefix}{exc}") from exc
    except ValueError as exc:
        raise type(exc)(f"{prefix}{exc}") from exc
    with phase("device"):
        torch_device = resolve_device(device)
    with phase("imports"):
        import transformers

    cls = ADAPTER_CLASSES[static.family.model_type]
    net: Any
    if random_weights:
        config = getattr(transformers, static.family.config_class)(**dict(config_overrides or {}))
        with phase("construct"), seeded_part(int(seed), "model"):
            net = getattr(transformers, static.family.model_class)(config)
        weights_id, described = random_init_id(seed), f"{static.family.config_class}()"
    else:
        assert model is not None  # static_code_layout refuses a pretrained entry without one
        net, loaded, weights_id = _pretrained(model, revision, prefix, bool(revision_floating))
        if loaded is not static.family:
            raise CodecLayoutError(
                f"{prefix}family: {static.family.model_type!r}, but {model!r} is a {loaded.model_type!r} model"
            )
        described = repr(model)
    built = config_layout(static.family, net.config, n_quantizers, described, prefix)
    check_same_layout(built, static, str(model), prefix)
    sample_rate, frame_rate, hop = cls.rates(net.config)
    output_rate, output_hop = cls.output_rate(net.config, sample_rate, hop)
    if random_weights:
        cls.initialise(net.eval(), int(seed), hop)
    fsq_order = None
    if built.fsq_levels is not None:
        fsq_order = _fsq_index_order(net, built.fsq_levels, prefix)
    info = CodecInfo(
        name=name,
        display_name=static.family.display_name,
        input_sample_rate=sample_rate,
        output_sample_rate=output_rate,
        frame_rate=frame_rate,
        codebook_sizes=built.codebook_sizes,
        quantizer=static.family.quantizer,
        fsq_levels=built.fsq_levels,
        fsq_index_order=fsq_order,
        weights_id=weights_id,
        random_weights=bool(random_weights),
        parameters=_parameters(net),
        extra={
            "family": static.family.model_type,
            "model": model,
            "revision": revision,
            "transformers": transformers.__version__,
            "n_codebooks_total": built.model_codebooks,
            "config_overrides": dict(config_overrides or {}),
            "batching": batching,
            **cls.extra_info(net.config, len(built.codebook_sizes)),
        },
    )
    size = cls.default_batch_size if batch_size is None else int(batch_size)
    adapter = cls(net, info, torch_device, size, mode, hop, output_hop)
    if not random_weights and not is_local_folder(str(model)):  # the weights' commit (recorded by now)
        revision = hub_pin(str(model), revision, floating=bool(revision_floating)).revision
    adapter.load_preprocessing(None if random_weights else model, revision, f"{prefix}model")
    return adapter
