"""EnCodec 24 kHz through the ``encodec`` package (paper Table 3: RVQ, 12 codebooks of 1024 = 9 kbps,
75 frames/s).

9 kbps is not one of the model's preset bandwidths (1.5/3/6/12/24), so ``set_target_bandwidth(9.0)``
raises. The residual quantizer itself takes any bandwidth: ``quantizer.encode(emb, frame_rate,
bandwidth)`` uses ``floor(bandwidth / 0.75)`` codebooks, i.e. exactly 12 at 9.0 kbps. The adapter
therefore runs the model's own encode steps (encoder, then quantizer with an explicit bandwidth), which
for the 24 kHz model (no segmenting, no volume normalisation) is what ``EncodecModel.encode`` does.

The 24 kHz model is causal, yet ``batching="padded"`` is not exact: the last frame's strided windows
reach past the end, where a padded batch holds activations of the padding instead of the zeros a lone
input gets (measured: only the last frame changes). Frames: ``ceil(T / 320)``; the decoder returns
``320 * F`` samples starting at the input's time origin.

The model is built as the package's ``EncodecModel.encodec_model_24khz`` builds it
(:func:`build_encodec_model`), part by part: ``encoder``, ``decoder`` and ``quantizer``, each from its
own seed for random weights (``torchutil.seeded_part``), then the random codebooks
(``quantizer.codebooks``, :func:`init_random_codebooks`). A decode-only build (``decode_only=True``) keeps
no encoder: it has the full build's quantizer and decoder, reads only their keys from the checkpoint
(memory-mapped), and states the encoder's parameter count (:data:`ENCODER_PARAMETERS`), so its ``info``
equals the full build's. One exception to "no encoder": random codebooks are drawn from the random
encoder's outputs, so a random-weight decode-only build makes the encoder (from its seed, as the full
build does), draws the codebooks and drops it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from nacbench.codecs import register
from nacbench.codecs.base import CodecInfo, WeightsUnavailableError
from nacbench.codecs.torchutil import (
    BatchedTorchAdapter,
    BatchingMode,
    batching_mode,
    check_choice,
    count_parameters,
    fit_length,
    frames_for_length,
    hub_offline,
    load_checkpoint,
    load_parts_strictly,
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
from nacbench.codecs.weights import sha256_file
from nacbench.startup import phase

if TYPE_CHECKING:
    # the package is typed (py.typed): with its class named, mypy checks the calls into the model instead
    # of reading its submodules as torch's `Tensor | Module` attribute type
    from encodec import EncodecModel

SAMPLE_RATE = 24_000
HOP = 320
CODEBOOK_SIZE = 1024
#: file name the package downloads (its hash prefix is checked by the package's loader, and here)
CHECKPOINT = "encodec_24khz-d7cc33bc.th"
#: the arguments ``EncodecModel.encodec_model_24khz`` builds the model with (encodec 0.1.1)
TARGET_BANDWIDTHS: list[float] = [1.5, 3.0, 6, 12.0, 24.0]
PARTS: tuple[str, ...] = ("encoder", "decoder", "quantizer")
#: the 24 kHz encoder's parameter count (tests/test_codec_paper.py counts the package's SEANetEncoder):
#: a decode-only build states it without building the encoder. Counting it on the meta device instead
#: would cost about a second: the first weight_norm on that device imports torch's compiler stack.
ENCODER_PARAMETERS = 7_425_792


def bandwidth_for(model: EncodecModel, n_codebooks: int) -> float:
    """Bandwidth (kbps) at which the model's quantizer uses exactly ``n_codebooks`` codebooks."""
    quantizer = model.quantizer
    bandwidth = n_codebooks * quantizer.get_bandwidth_per_quantizer(model.frame_rate)  # kbps per codebook
    used = quantizer.get_num_quantizers_for_bandwidth(model.frame_rate, bandwidth)
    if used != n_codebooks:
        raise ValueError(f"EnCodec: bandwidth {bandwidth} kbps gives {used} codebooks, wanted {n_codebooks}")
    return bandwidth


def init_random_codebooks(model: EncodecModel, probe_frames: int = 64) -> None:
    """Give an untrained model codebooks drawn from its own encoder's outputs (torch's current RNG): the
    residuals of a noise probe (:func:`nacbench.codecs.torchutil.seed_codebooks_from_residuals`)."""
    probe = 0.1 * torch.randn(1, model.channels, probe_frames * HOP)
    with torch.no_grad():
        residual = model.encoder(probe)[0].T  # [frames, dim]
    seed_codebooks_from_residuals(residual, [layer._codebook for layer in model.quantizer.vq.layers])


class _StridesOnly(nn.Module):
    """What ``EncodecModel.__init__`` reads of its encoder (the strides, for the frame rate), standing in
    for the encoder of a build that has none; removed once the model is made."""

    def __init__(self, ratios: list[int]) -> None:
        super().__init__()
        self.ratios = list(ratios)


def build_encodec_model(
    seed: int, random_weights: bool, decode_only: bool, pretrained_name: bool
) -> tuple[EncodecModel, int]:
    """The 24 kHz model as ``EncodecModel._get_model`` makes it for ``encodec_model_24khz``, each part
    (encoder, decoder, quantizer, and for random weights the codebooks) from its own seed part. Returns the
    model (without its encoder when ``decode_only``) and the encoder's parameter count.

    A decode-only build makes no encoder (the decoder has the same strides and dimension) and states its
    parameter count (:data:`ENCODER_PARAMETERS`), except with random weights, whose codebooks are drawn
    from the real encoder's outputs (see the module doc). ``pretrained_name``: the model's ``name`` as
    the package sets it (``encodec_24khz`` when pretrained, else ``unset``).
    """
    from encodec import EncodecModel
    from encodec import modules as m
    from encodec import quantization as qt

    with seeded_part(seed, "decoder"):
        decoder = m.SEANetDecoder(channels=1, norm="weight_norm", causal=True)
    encoder: nn.Module
    if decode_only and not random_weights:
        encoder = _StridesOnly(decoder.ratios)
    else:
        with seeded_part(seed, "encoder"):
            encoder = m.SEANetEncoder(channels=1, norm="weight_norm", causal=True)
    n_q = int(1000 * TARGET_BANDWIDTHS[-1] // (math.ceil(SAMPLE_RATE / decoder.hop_length) * 10))
    with seeded_part(seed, "quantizer"):
        quantizer = qt.ResidualVectorQuantizer(dimension=decoder.dimension, n_q=n_q, bins=CODEBOOK_SIZE)
    model = EncodecModel(
        encoder,  # type: ignore[arg-type]  # a decode-only build's stand-in: the constructor reads .ratios
        decoder,
        quantizer,
        TARGET_BANDWIDTHS,
        SAMPLE_RATE,
        1,
        normalize=False,
        segment=None,
        name="encodec_24khz" if pretrained_name else "unset",
    )
    if random_weights:
        with seeded_part(seed, "quantizer.codebooks"):
            init_random_codebooks(model)
    encoder_parameters = ENCODER_PARAMETERS if decode_only else count_parameters(model.encoder)
    if decode_only:
        del model.encoder
    return model.eval(), encoder_parameters


def _checkpoint_file(weights: str | None, option: str) -> tuple[Path, str]:
    """The 24 kHz checkpoint: ``encodec_24khz-d7cc33bc.th`` in the folder ``weights`` (or that file);
    default the torch hub cache (``$TORCH_HOME/hub/checkpoints``), downloading it unless
    ``HF_HUB_OFFLINE`` is set. The file's sha256 must start with the name's hash, as the package checks."""
    if weights is not None:
        folder = Path(weights).expanduser()
        folder = folder.parent if folder.is_file() else folder
        path = folder / CHECKPOINT
        if not path.is_file():
            raise WeightsUnavailableError(f"{option}={weights!r}: expected {CHECKPOINT} in {folder}")
        weights_id = f"file:{path}"
    else:
        path = Path(torch.hub.get_dir()) / "checkpoints" / CHECKPOINT
        weights_id = f"encodec {CHECKPOINT}"
        where = (
            f"expected at {path} (the torch hub cache, $TORCH_HOME/hub/checkpoints; fill it on a machine with "
            f"network by building EncodecModel.encodec_model_24khz() once) or set {option} to a folder holding "
            f"{CHECKPOINT}"
        )
        if not path.is_file() and hub_offline():
            raise WeightsUnavailableError(
                f"{option}: EnCodec 24 kHz weights not cached and HF_HUB_OFFLINE is set; {where}"
            )
        if not path.is_file():
            try:
                from encodec.model import ROOT_URL

                path.parent.mkdir(parents=True, exist_ok=True)
                torch.hub.download_url_to_file(ROOT_URL + CHECKPOINT, str(path), hash_prefix=_hash_prefix())
            except Exception as exc:  # urllib / hash / filesystem errors
                raise WeightsUnavailableError(
                    f"{option}: cannot get EnCodec 24 kHz weights ({exc}); {where}"
                ) from exc
    _check_hash(str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns, option)
    return path, weights_id


def _hash_prefix() -> str:
    return Path(CHECKPOINT).stem.split("-")[1]


@functools.lru_cache(maxsize=8)
def _check_hash(path: str, size: int, mtime_ns: int, option: str) -> None:
    """The package's checksum check (sha256 prefix in the file name), once per file version and process."""
    del size, mtime_ns  # part of the cache key: a replaced file is checked again
    if not sha256_file(path).startswith(_hash_prefix()):
        raise WeightsUnavailableError(f"{option}: {path} has the wrong sha256 (expected {_hash_prefix()}...)")


def _pretrained_model(weights: str | None, option: str, decode_only: bool) -> tuple[EncodecModel, int, str]:
    """The 24 kHz model with its published weights, loaded strictly (memory-mapped); a decode-only
    build reads no encoder key. Returns the model, the encoder's parameter count and a weights id."""
    path, weights_id = _checkpoint_file(weights, option)
    with phase("weights"):
        state = load_checkpoint(path, option)
    with phase("construct"):
        model, encoder_parameters = build_encodec_model(0, False, decode_only, pretrained_name=True)
    parts = {part: getattr(model, part) for part in PARTS if hasattr(model, part)}
    with phase("weights"):
        load_parts_strictly(
            parts, state, str(path), "EnCodec 24 kHz model", skipped=("encoder.",) if decode_only else ()
        )
    return model, encoder_parameters, weights_id


class EncodecAdapter(BatchedTorchAdapter):
    """EnCodec 24 kHz at ``n_codebooks * 0.75`` kbps."""

    def __init__(
        self,
        model: EncodecModel,
        info: CodecInfo,
        device: torch.device,
        batch_size: int,
        batching: BatchingMode,
        bandwidth: float,
        decode_only: bool = False,
    ) -> None:
        with phase("device"):
            self.model = model.to(device).eval()
        super().__init__(info, device, batch_size, batching)
        self.bandwidth = bandwidth
        self.decode_only = decode_only

    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, lengths = pad_waveforms(wavs)
        emb = self.model.encoder(batch.to(self.device))
        codes = self.model.quantizer.encode(emb, self.model.frame_rate, self.bandwidth)  # [K, B, F]
        per_item = codes.transpose(0, 1).to("cpu", torch.int64).numpy()  # [B, K, F]
        return [
            np.ascontiguousarray(c[:, : frames_for_length(int(n), HOP)])
            for c, n in zip(per_item, lengths, strict=True)
        ]

    @torch.inference_mode()
    def _decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_codes(codes)
        emb = self.model.quantizer.decode(batch.transpose(0, 1).to(self.device))
        return self._audio(emb, frames)

    def _audio(self, emb: torch.Tensor, frames: np.ndarray) -> list[np.ndarray]:
        """The decoder on ``[B, 128, F]``, each output fitted to its ``320 * frames`` samples."""
        audio = to_numpy_f32(self.model.decoder(emb))[:, 0, :]
        return [fit_length(a, int(f) * HOP) for a, f in zip(audio, frames, strict=True)]

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The encoder's output, ``[128, frames]`` (frames as :meth:`encode`): what the RVQ quantizes.
        The 24 kHz model neither normalises the volume nor segments (checked at build), so this is the
        whole of its encoding before the quantizer, and its RVQ's projections are identities: the
        codewords' sum, which the decoder consumes, lives in this same space."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def _encode_latent_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, lengths = pad_waveforms(wavs)
        emb = to_numpy_f32(self.model.encoder(batch.to(self.device)))
        return [
            np.ascontiguousarray(x[:, : frames_for_length(int(n), HOP)])
            for x, n in zip(emb, lengths, strict=True)
        ]

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The decoder on ``[128, frames]`` vectors, ``320 * frames`` samples as :meth:`decode` gives."""
        return self.map_latents(latents, int(self.model.decoder.dimension), self._decode_latent_batch)

    @torch.inference_mode()
    def _decode_latent_batch(self, latents: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_latents(latents)
        return self._audio(batch.to(self.device), frames)

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, its embeddings (after the layer's output projection, an identity here): the
        vectors whose sum the decoder consumes, ``[1024, 128]``."""
        layers = self.model.quantizer.vq.layers[: self.info.n_codebooks]
        return [to_numpy_f32(layer.project_out(layer._codebook.embed)) for layer in layers]

    def encoder_modules(self) -> list[Any]:
        self.require_encoder("give its encoder modules")
        return [self.model.encoder, self.model.quantizer]


@register("encodec")
def build_encodec(
    name: str,
    device: str = "cpu",
    weights: str | None = None,
    random_weights: bool = False,
    batch_size: int = 8,
    n_codebooks: int = 12,
    seed: int = 0,
    batching: str = "exact",
    decode_only: bool = False,
    **unknown: Any,
) -> EncodecAdapter:
    """EnCodec 24 kHz with ``n_codebooks`` codebooks (12 = 9 kbps, the paper's setting);
    ``decode_only``: no encoder (see the module doc)."""
    reject_unknown_options(
        name, unknown, ("weights", "random_weights", "batch_size", "n_codebooks", "seed", "batching")
    )
    mode = batching_mode(name, batching)
    with phase("imports"):
        import encodec  # noqa: F401

    with phase("device"):
        torch_device = resolve_device(device)
    if random_weights:
        with phase("construct"):
            model, encoder_parameters = build_encodec_model(
                int(seed), True, bool(decode_only), pretrained_name=False
            )
        weights_id = random_init_id(seed)
    else:
        model, encoder_parameters, weights_id = _pretrained_model(
            weights, f"codecs.{name}.weights", bool(decode_only)
        )
    check_choice(name, "n_codebooks", int(n_codebooks), range(1, model.quantizer.n_q + 1))
    if model.normalize or model.segment is not None:
        raise RuntimeError("EnCodec 24 kHz is expected to run unsegmented without volume normalisation")
    n = int(n_codebooks)
    bandwidth = bandwidth_for(model, n)
    info = CodecInfo(
        name=name,
        display_name="EnCodec 24 kHz",
        input_sample_rate=SAMPLE_RATE,
        output_sample_rate=SAMPLE_RATE,
        frame_rate=float(model.frame_rate),
        codebook_sizes=(CODEBOOK_SIZE,) * n,
        quantizer="rvq",
        weights_id=weights_id,
        random_weights=bool(random_weights),
        parameters={
            "encoder": encoder_parameters,
            # EnCodec's codebooks are EMA-trained buffers, not parameters: count their entries
            "quantizer_codebooks": sum(layer._codebook.embed.numel() for layer in model.quantizer.vq.layers),
            "decoder": count_parameters(model.decoder),
        },
        extra={
            "bandwidth_kbps": bandwidth,
            "n_codebooks_total": int(model.quantizer.n_q),
            "batching": batching,
        },
    )
    if not math.isclose(info.bitrate_bps, bandwidth * 1000):
        raise RuntimeError(
            f"EnCodec: declared bitrate {info.bitrate_bps} bps != quantizer bandwidth {bandwidth} kbps"
        )
    return EncodecAdapter(model, info, torch_device, int(batch_size), mode, bandwidth, bool(decode_only))
