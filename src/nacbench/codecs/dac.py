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

The model is assembled part by part (:func:`build_dac_model`, mirroring ``DAC.__init__``): ``encoder``,
``quantizer`` and ``decoder``, each built as the constructor builds it and, for random weights, from its
own seed (``torchutil.seeded_part``). A decode-only build (``decode_only=True``) leaves the encoder out:
it has the full build's quantizer and decoder weights, reads only their keys from the weights file
(memory-mapped), and states the encoder's parameter count (:data:`DAC_24KHZ_ENCODER_PARAMETERS`, or for
another architecture counted on the meta device), so its ``info`` equals the full build's.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    load_checkpoint,
    load_parts_strictly,
    pad_codes,
    pad_latents,
    pad_waveforms,
    random_init_id,
    reject_unknown_options,
    resolve_device,
    seeded_part,
    to_numpy_f32,
)
from nacbench.startup import phase

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


#: the model's parts, as ``DAC.__init__`` builds them (each followed by ``apply(init_weights)``)
PARTS: tuple[str, ...] = ("encoder", "quantizer", "decoder")
#: the 24 kHz encoder's parameter count (tests/test_codec_paper.py counts the package's Encoder): a
#: decode-only build states it without building the encoder. Counting it on the meta device instead
#: would cost about a second: the first weight_norm on that device imports torch's compiler stack.
DAC_24KHZ_ENCODER_PARAMETERS = 21_521_536


def build_dac_model(config: dict[str, Any], seed: int, decode_only: bool) -> tuple[DAC, int]:
    """The package's ``DAC(**config)`` made part by part, each part from its own seed part; without
    the encoder when ``decode_only``. Returns the model and the encoder's parameter count.

    Mirrors ``DAC.__init__`` of descript-audio-codec 1.0.0: the same attributes, and each part built
    with the constructor's arguments and initialised as it does (``apply(init_weights)``), so the state
    dict is the package model's (a test compares them). A decode-only model has no ``encoder`` and no
    ``delay`` (which ``get_delay`` computes over the encoder's layers; only the package's chunked
    ``compress`` reads it).
    """
    from dac.model import dac as dac_model
    from dac.nn.quantize import ResidualVectorQuantize

    options = {**_dac_defaults(), **config}
    latent_dim = options["latent_dim"]
    if latent_dim is None:
        latent_dim = options["encoder_dim"] * (2 ** len(options["encoder_rates"]))
    model = dac_model.DAC.__new__(dac_model.DAC)
    torch.nn.Module.__init__(model)
    for attribute in ("encoder_dim", "encoder_rates", "decoder_dim", "decoder_rates", "sample_rate"):
        setattr(model, attribute, options[attribute])
    model.latent_dim = latent_dim
    model.hop_length = np.prod(options["encoder_rates"])
    for attribute in ("n_codebooks", "codebook_size", "codebook_dim"):
        setattr(model, attribute, options[attribute])

    def encoder() -> torch.nn.Module:
        return dac_model.Encoder(options["encoder_dim"], options["encoder_rates"], latent_dim)

    builders = {
        "encoder": encoder,
        "quantizer": lambda: ResidualVectorQuantize(
            input_dim=latent_dim,
            n_codebooks=options["n_codebooks"],
            codebook_size=options["codebook_size"],
            codebook_dim=options["codebook_dim"],
            quantizer_dropout=options["quantizer_dropout"],
        ),
        "decoder": lambda: dac_model.Decoder(latent_dim, options["decoder_dim"], options["decoder_rates"]),
    }
    for part in PARTS:
        if part == "encoder" and decode_only:
            continue
        with seeded_part(seed, part):
            module = builders[part]()
            module.apply(dac_model.init_weights)
        setattr(model, part, module)
    if not decode_only:
        model.delay = model.get_delay()
        return model, count_parameters(model.encoder)
    if {k: options[k] for k in ("encoder_dim", "encoder_rates", "latent_dim")} == {
        k: DAC_24KHZ_CONFIG[k] for k in ("encoder_dim", "encoder_rates", "latent_dim")
    }:
        return model, DAC_24KHZ_ENCODER_PARAMETERS
    with torch.device("meta"):  # another architecture (a weights file's own config): count it there
        return model, count_parameters(encoder())


def _dac_defaults() -> dict[str, Any]:
    """``DAC.__init__``'s keyword defaults (a weights file's metadata may leave some out)."""
    import inspect

    from dac.model.dac import DAC

    return {
        k: p.default
        for k, p in inspect.signature(DAC).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _weights_config(state: Any, path: Path, option: str) -> dict[str, Any]:
    """The model arguments a DAC weights file records (``metadata["kwargs"]``, as ``DAC.load`` reads
    them: arguments the class does not take are dropped)."""
    try:
        kwargs = dict(state["metadata"]["kwargs"])
        state["state_dict"].keys()
    except (KeyError, TypeError, AttributeError) as exc:
        raise WeightsUnavailableError(
            f"{option}: {path} is not a DAC weights file (no state_dict / metadata.kwargs)"
        ) from exc
    known = _dac_defaults()
    return {k: v for k, v in kwargs.items() if k in known}


def _load_model(path: Path, option: str, decode_only: bool) -> tuple[DAC, int]:
    """The model a DAC weights file describes, its parts loaded strictly (the package's ``DAC.load``
    defaults to ``strict=False``, which hides missing keys); a decode-only build reads no encoder key."""
    with phase("weights"):
        state = load_checkpoint(path, option)
    config = _weights_config(state, path, option)
    with phase("construct"):
        model, encoder_parameters = build_dac_model(config, seed=0, decode_only=decode_only)
    if int(model.sample_rate) != SAMPLE_RATE or int(model.hop_length) != HOP:
        raise WeightsUnavailableError(
            f"{option}: {path} is a {model.sample_rate} Hz / hop {model.hop_length} model, not DAC 24 kHz / hop 320"
        )
    parts = {part: getattr(model, part) for part in PARTS if hasattr(model, part)}
    with phase("weights"):
        load_parts_strictly(
            parts, state["state_dict"], str(path), "DAC model", skipped=("encoder.",) if decode_only else ()
        )
    return model, encoder_parameters


class DacAdapter(BatchedTorchAdapter):
    """DAC 24 kHz with the first ``n_codebooks`` RVQ codebooks."""

    def __init__(
        self,
        model: DAC,
        info: CodecInfo,
        device: torch.device,
        batch_size: int,
        batching: BatchingMode,
        decode_only: bool = False,
    ) -> None:
        with phase("device"):
            self.model = model.to(device).eval()
        super().__init__(info, device, batch_size, batching)
        self.decode_only = decode_only

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
        return self._audio(latent, frames)

    def _audio(self, latent: torch.Tensor, frames: np.ndarray) -> list[np.ndarray]:
        """The decoder on ``[B, latent_dim, F]``, each output fitted to its ``320 * frames`` samples."""
        audio = to_numpy_f32(self.model.decode(latent))[:, 0, :]
        return [fit_length(a, int(f) * HOP) for a, f in zip(audio, frames, strict=True)]

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The encoder's output z, ``[latent_dim, frames]`` (1024-d for the 24 kHz model, frames as
        :meth:`encode`): what the RVQ quantizes. Each stage projects its residual down to 8-d codebook
        space and the codeword back up (``in_proj`` / ``out_proj``), so z and the RVQ's sum of
        out-projected codewords live in the same space, the one the decoder consumes."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def _encode_latent_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        batch, lengths = pad_waveforms(wavs, multiple=HOP)
        z = to_numpy_f32(self.model.encoder(batch.to(self.device)))
        return [
            np.ascontiguousarray(x[:, : frames_for_length(int(n), HOP)])
            for x, n in zip(z, lengths, strict=True)
        ]

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The decoder on ``[latent_dim, frames]`` vectors (the RVQ's sums or another quantizer's
        reconstruction of z), ``320 * frames`` samples as :meth:`decode` gives."""
        return self.map_latents(latents, int(self.model.latent_dim), self._decode_latent_batch)

    @torch.inference_mode()
    def _decode_latent_batch(self, latents: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_latents(latents)
        return self._audio(batch.to(self.device), frames)

    @torch.inference_mode()
    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, every codebook vector after ``out_proj``: ``[1024, latent_dim]`` (decoder input space)."""
        out = []
        for vq in self.model.quantizer.quantizers[: self.info.n_codebooks]:
            table = vq.codebook.weight.T[None]  # [1, codebook_dim, 1024]: each entry as one time step
            out.append(to_numpy_f32(vq.out_proj(table))[0].T)
        return out

    def encoder_modules(self) -> list[Any]:
        self.require_encoder("give its encoder modules")
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
    decode_only: bool = False,
    **unknown: Any,
) -> DacAdapter:
    """DAC 24 kHz. ``weights``: local weights file (default: the package's cached download).
    ``random_weights``: the 24 kHz architecture with a seeded random init, part by part (tests/offline
    only). ``decode_only``: no encoder (see the module doc)."""
    reject_unknown_options(
        name, unknown, ("weights", "random_weights", "batch_size", "n_codebooks", "seed", "batching")
    )
    mode = batching_mode(name, batching)
    check_choice(name, "n_codebooks", int(n_codebooks), range(1, DAC_24KHZ_CONFIG["n_codebooks"] + 1))
    with phase("device"):
        torch_device = resolve_device(device)
    with phase("imports"):
        import dac.model.dac  # noqa: F401  # audiotools and the package (seconds)
    if random_weights:
        with phase("construct"):
            model, encoder_parameters = build_dac_model(DAC_24KHZ_CONFIG, int(seed), bool(decode_only))
        weights_id = random_init_id(seed)
    else:
        path, weights_id = _weights_file(weights, f"codecs.{name}.weights")
        model, encoder_parameters = _load_model(path, f"codecs.{name}.weights", bool(decode_only))
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
            "encoder": encoder_parameters,
            "quantizer": count_parameters(model.quantizer),
            "quantizer_used": count_parameters(*model.quantizer.quantizers[:n]),
            "decoder": count_parameters(model.decoder),
        },
        extra={"n_codebooks_total": len(model.quantizer.quantizers), "batching": batching},
    )
    return DacAdapter(model, info, torch_device, int(batch_size), mode, bool(decode_only))
