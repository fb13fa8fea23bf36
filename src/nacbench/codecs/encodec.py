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
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

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
    pad_codes,
    pad_waveforms,
    reject_unknown_options,
    resolve_device,
    seeded,
    to_numpy_f32,
)

if TYPE_CHECKING:
    # the package is typed (py.typed): with its class named, mypy checks the calls into the model instead
    # of reading its submodules as torch's `Tensor | Module` attribute type
    from encodec import EncodecModel

SAMPLE_RATE = 24_000
HOP = 320
CODEBOOK_SIZE = 1024
#: file name the package downloads (its hash prefix is checked by the package's loader)
CHECKPOINT = "encodec_24khz-d7cc33bc.th"


def bandwidth_for(model: EncodecModel, n_codebooks: int) -> float:
    """Bandwidth (kbps) at which the model's quantizer uses exactly ``n_codebooks`` codebooks."""
    quantizer = model.quantizer
    bandwidth = n_codebooks * quantizer.get_bandwidth_per_quantizer(model.frame_rate)  # kbps per codebook
    used = quantizer.get_num_quantizers_for_bandwidth(model.frame_rate, bandwidth)
    if used != n_codebooks:
        raise ValueError(f"EnCodec: bandwidth {bandwidth} kbps gives {used} codebooks, wanted {n_codebooks}")
    return bandwidth


def init_random_codebooks(model: EncodecModel, probe_frames: int = 64) -> None:
    """Give an untrained model codebooks drawn from its own encoder's outputs (torch's current RNG).

    Untrained EnCodec codebooks are all zeros (k-means initialisation runs only in training), so every
    code would be 0; random Gaussian or unit vectors do not help either, because a random encoder's
    output is dominated by a constant bias and one entry wins every frame. As the package's training
    does with k-means (too slow here), each codebook is filled with residual vectors of a noise probe,
    sampled with replacement and jittered (5% of their spread, so duplicates are not near-ties), layer after layer; codes then follow the input.
    Marking the codebooks initialised keeps a forward pass from running k-means.
    """
    probe = 0.1 * torch.randn(1, model.channels, probe_frames * HOP)
    with torch.no_grad():
        residual = model.encoder(probe)[0].T  # [frames, dim]
        for layer in model.quantizer.vq.layers:
            book = layer._codebook
            picks = residual[torch.randint(residual.shape[0], (book.codebook_size,))]
            book.embed.copy_(picks + 0.05 * residual.std() * torch.randn_like(picks))
            book.embed_avg.copy_(book.embed)
            book.inited.fill_(1.0)
            residual = residual - book.decode(book.encode(residual))


def _pretrained_model(weights: str | None, option: str) -> tuple[EncodecModel, str]:
    """The package's 24 kHz model with its published weights (strict ``load_state_dict`` inside).

    ``weights``: a folder holding ``encodec_24khz-d7cc33bc.th`` (or that file); default the torch hub
    cache (``$TORCH_HOME/hub/checkpoints``), downloading unless ``HF_HUB_OFFLINE`` is set.
    """
    from encodec import EncodecModel

    if weights is not None:
        folder = Path(weights).expanduser()
        folder = folder.parent if folder.is_file() else folder
        if not (folder / CHECKPOINT).is_file():
            raise WeightsUnavailableError(f"{option}={weights!r}: expected {CHECKPOINT} in {folder}")
        try:
            return EncodecModel.encodec_model_24khz(
                pretrained=True, repository=folder
            ), f"file:{folder / CHECKPOINT}"
        except Exception as exc:
            raise WeightsUnavailableError(f"{option}: cannot load {folder / CHECKPOINT} ({exc})") from exc
    cached = Path(torch.hub.get_dir()) / "checkpoints" / CHECKPOINT
    where = (
        f"expected at {cached} (the torch hub cache, $TORCH_HOME/hub/checkpoints; fill it on a machine with "
        f"network by building EncodecModel.encodec_model_24khz() once) or set {option} to a folder holding {CHECKPOINT}"
    )
    if not cached.is_file() and hub_offline():
        raise WeightsUnavailableError(
            f"{option}: EnCodec 24 kHz weights not cached and HF_HUB_OFFLINE is set; {where}"
        )
    try:
        return EncodecModel.encodec_model_24khz(pretrained=True), f"encodec {CHECKPOINT}"
    except Exception as exc:  # urllib / hash / filesystem errors
        raise WeightsUnavailableError(
            f"{option}: cannot get EnCodec 24 kHz weights ({exc}); {where}"
        ) from exc


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
    ) -> None:
        self.model = model.to(device).eval()
        super().__init__(info, device, batch_size, batching)
        self.bandwidth = bandwidth

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
        audio = to_numpy_f32(self.model.decoder(emb))[:, 0, :]
        return [fit_length(a, int(f) * HOP) for a, f in zip(audio, frames, strict=True)]

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, its embeddings (after the layer's output projection, an identity here): the
        vectors whose sum the decoder consumes, ``[1024, 128]``."""
        layers = self.model.quantizer.vq.layers[: self.info.n_codebooks]
        return [to_numpy_f32(layer.project_out(layer._codebook.embed)) for layer in layers]

    def encoder_modules(self) -> list[Any]:
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
    **unknown: Any,
) -> EncodecAdapter:
    """EnCodec 24 kHz with ``n_codebooks`` codebooks (12 = 9 kbps, the paper's setting)."""
    reject_unknown_options(
        name, unknown, ("weights", "random_weights", "batch_size", "n_codebooks", "seed", "batching")
    )
    mode = batching_mode(name, batching)
    from encodec import EncodecModel

    torch_device = resolve_device(device)
    if random_weights:
        with seeded(seed):
            model = EncodecModel.encodec_model_24khz(pretrained=False)
            init_random_codebooks(model)
        weights_id = f"random-init(seed={int(seed)})"
    else:
        model, weights_id = _pretrained_model(weights, f"codecs.{name}.weights")
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
            "encoder": count_parameters(model.encoder),
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
    return EncodecAdapter(model, info, torch_device, int(batch_size), mode, bandwidth)
