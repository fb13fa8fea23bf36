"""Descript Audio Codec, 24 kHz model, through the ``descript-audio-codec`` package (paper Table 3: RVQ,
6 codebooks of 1024 = 10 bits each, 75 frames/s).

The 24 kHz model has 32 codebooks; the paper transmits the first 6. Encoding stops the residual chain
after 6 codebooks (the package's ``n_quantizers``), which gives exactly the first 6 rows of a full
encode, and decoding sums those 6 rows through ``quantizer.from_codes``.

Lengths: the package pads the input up to a multiple of the hop (320), so ``ceil(T / 320)`` frames; its
decoder returns ``320 * F - 8`` samples (the last transposed convolutions lose a few samples). We pad
the output with zeros to exactly ``320 * F`` so the length is a documented function of the frame count.
The output starts at the input's time origin (the package's own ``forward`` trims ``[:length]``), so
there is no delay to remove.
"""

from __future__ import annotations

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
    # the package ships no type information (an Any to mypy), yet naming the class documents the model
    # and keeps mypy from reading its submodules as torch's `Tensor | Module` attribute type
    from dac.model.dac import DAC

SAMPLE_RATE = 24_000
HOP = 320
CODEBOOK_SIZE = 1024
#: the package's 24 kHz configuration (descript-audio-codec conf/final/24khz.yml)
DAC_24KHZ_CONFIG: dict[str, Any] = {
    "encoder_dim": 64,
    "encoder_rates": [2, 4, 5, 8],
    "latent_dim": None,
    "decoder_dim": 1536,
    "decoder_rates": [8, 5, 4, 2],
    "n_codebooks": 32,
    "codebook_size": CODEBOOK_SIZE,
    "codebook_dim": 8,
    "quantizer_dropout": False,
    "sample_rate": SAMPLE_RATE,
}


def _weights_file(weights: str | None, option: str) -> tuple[Path, str]:
    """The 24 kHz weights: a local file, else the package's download cache (``dac.utils.download``)."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(f"{option}={weights!r}: file not found")
        return path, f"file:{path.resolve()}"
    from dac.utils import __MODEL_LATEST_TAGS__

    tag = __MODEL_LATEST_TAGS__[("24khz", "8kbps")]
    # where dac.utils.download keeps it (~ is $HOME at call time)
    cached = Path.home() / ".cache" / "descript" / "dac" / f"weights_24khz_8kbps_{tag}.pth"
    where = (
        f"expected at {cached} (fill it on a machine with network: `python -m dac download --model_type 24khz`) "
        f"or set {option} to a local weights file"
    )
    if not cached.is_file() and hub_offline():
        raise WeightsUnavailableError(
            f"{option}: DAC 24 kHz weights not cached and HF_HUB_OFFLINE is set; {where}"
        )
    try:
        from dac.utils import download

        path = Path(download(model_type="24khz", model_bitrate="8kbps", tag=tag))
    except Exception as exc:  # requests / HTTP / filesystem errors
        raise WeightsUnavailableError(
            f"{option}: cannot download DAC 24 kHz weights ({exc}); {where}"
        ) from exc
    return path, f"descript/dac 24khz 8kbps {tag}"


def _load_model(path: Path, option: str) -> DAC:
    """The package's loader with strict key matching (its default, ``strict=False``, hides missing keys)."""
    from dac.model.dac import DAC

    try:
        model = DAC.load(str(path), strict=True)
    except Exception as exc:
        raise WeightsUnavailableError(f"{option}: cannot load DAC weights from {path} ({exc})") from exc
    if int(model.sample_rate) != SAMPLE_RATE or int(model.hop_length) != HOP:
        raise WeightsUnavailableError(
            f"{option}: {path} is a {model.sample_rate} Hz / hop {model.hop_length} model, not DAC 24 kHz / hop 320"
        )
    return model


class DacAdapter(BatchedTorchAdapter):
    """DAC 24 kHz with the first ``n_codebooks`` RVQ codebooks."""

    def __init__(
        self, model: DAC, info: CodecInfo, device: torch.device, batch_size: int, batching: BatchingMode
    ) -> None:
        self.model = model.to(device).eval()
        super().__init__(info, device, batch_size, batching)

    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, lengths = pad_waveforms(wavs, multiple=HOP)
        _, codes, *_ = self.model.encode(batch.to(self.device), n_quantizers=self.info.n_codebooks)
        codes = codes.to("cpu", torch.int64).numpy()
        return [
            np.ascontiguousarray(c[:, : frames_for_length(int(n), HOP)])
            for c, n in zip(codes, lengths, strict=True)
        ]

    @torch.inference_mode()
    def _decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_codes(codes)
        latent, _, _ = self.model.quantizer.from_codes(batch.to(self.device))
        audio = to_numpy_f32(self.model.decode(latent))[:, 0, :]
        return [fit_length(a, int(f) * HOP) for a, f in zip(audio, frames, strict=True)]

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, every codebook vector after ``out_proj``: ``[1024, latent_dim]`` (decoder input space)."""
        out = []
        for vq in self.model.quantizer.quantizers[: self.info.n_codebooks]:
            table = vq.codebook.weight.T[None]  # [1, codebook_dim, 1024]: each entry as one time step
            out.append(to_numpy_f32(vq.out_proj(table))[0].T)
        return out

    def encoder_modules(self) -> list[Any]:
        return [self.model.encoder, self.model.quantizer]


@register("dac")
def build_dac(
    name: str,
    device: str = "cpu",
    weights: str | None = None,
    random_weights: bool = False,
    batch_size: int = 8,
    n_codebooks: int = 6,
    seed: int = 0,
    batching: str = "exact",
    **unknown: Any,
) -> DacAdapter:
    """DAC 24 kHz. ``weights``: local weights file (default: the package's cached download).
    ``random_weights``: the 24 kHz architecture with a seeded random init (tests/offline only)."""
    reject_unknown_options(
        name, unknown, ("weights", "random_weights", "batch_size", "n_codebooks", "seed", "batching")
    )
    mode = batching_mode(name, batching)
    check_choice(name, "n_codebooks", int(n_codebooks), range(1, DAC_24KHZ_CONFIG["n_codebooks"] + 1))
    torch_device = resolve_device(device)
    if random_weights:
        from dac.model.dac import DAC

        with seeded(seed):
            model = DAC(**DAC_24KHZ_CONFIG)
        weights_id = f"random-init(seed={int(seed)})"
    else:
        path, weights_id = _weights_file(weights, f"codecs.{name}.weights")
        model = _load_model(path, f"codecs.{name}.weights")
    n = int(n_codebooks)
    info = CodecInfo(
        name=name,
        display_name="DAC 24 kHz",
        input_sample_rate=SAMPLE_RATE,
        output_sample_rate=SAMPLE_RATE,
        frame_rate=SAMPLE_RATE / HOP,
        codebook_sizes=(CODEBOOK_SIZE,) * n,
        quantizer="rvq",
        weights_id=weights_id,
        random_weights=bool(random_weights),
        parameters={
            "encoder": count_parameters(model.encoder),
            "quantizer": count_parameters(model.quantizer),
            "quantizer_used": count_parameters(*model.quantizer.quantizers[:n]),
            "decoder": count_parameters(model.decoder),
        },
        extra={"n_codebooks_total": len(model.quantizer.quantizers), "batching": batching},
    )
    return DacAdapter(model, info, torch_device, int(batch_size), mode)
