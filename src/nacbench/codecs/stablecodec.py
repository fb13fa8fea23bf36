"""StableCodec (stabilityai/stable-codec-speech-16k) with the paper's post-hoc FSQ bottleneck.

Paper Sec. 5: StableCodec's FSQ can be replaced after training; the paper uses levels {8,8,8,8,4,4}
(2^16 codes, one codebook, like NeuCodec) at 25 frames/s, 16 kHz in and out.

Environment: stable-codec 0.1.2 declares torch 2.4 / torchaudio 2.4 / stable-audio-tools 0.0.17 /
pytorch-lightning 2.1, but the model runs on the main environment's torch 2.11: ``tools/setup.sh``
installs the two packages and what they import with ``pip install --no-deps``
(``envs/requirements-stable-codec-nodeps.txt``). The conda environment ``envs/stable-codec.yaml`` (torch
2.4, ``snakemake --use-conda``) remains an option. This module imports ``stable_codec`` only when an
adapter is built, and says clearly how to install it when it is missing.

Random weights without the gated hub repository: with ``random_weights`` and no ``model_config`` the
architecture comes from :mod:`nacbench.codecs.stablecodec_config`, a reconstruction from the published
description; ``info.extra["config"]`` then reads ``"reconstructed"``, ``weights_id`` and the display name
say so, and nothing built on it is a result (it is random anyway). A given ``model_config.json`` (or the
one beside real weights) is always preferred.

Latent access (the quantizer swap): :meth:`StableCodecAdapter.encode_latent` gives the encoder's
pre-bottleneck latent as the post-hoc FSQ consumes it, i.e. after its ``tanh`` (``ResidualFSQBottleneck.
encode``) and before rounding: 6 bounded components per 25 Hz frame. That is the space the decoder
consumes (the FSQ grid lies in it), so :meth:`StableCodecAdapter.decode_latent` hands such vectors to the
decoder unchanged, and the quantizer's reconstruction decodes exactly as the codes do. (The raw latent
before ``tanh`` could not serve: the grid's outer levels +-1 have no finite preimage.)

Index layout, read from the sources (stable-codec 0.1.2 ``stable_codec/fsq.py`` and
stable-audio-tools ``models/fsq.py``, class ``DitheredFSQ``, identical on these points):

* ``_basis = cumprod([1] + levels[:-1])`` and ``index = sum(level_d * basis_d)``: dimension 0 is the
  least significant digit, as in NeuCodec;
* a level index ``l`` of an ``L``-level dimension decodes to ``l * 2 * scale / (L - 1) - scale``, a
  grid symmetric in [-scale, scale] (unlike vector-quantize-pytorch's ``(l - L//2) / (L//2)``);
* encoding rounds ``(z + scale) / (2 * scale / (L - 1))`` after ``tanh`` (post-hoc: ``tanh`` in
  ``ResidualFSQBottleneck.encode``, then a leaky clip in ``quantize(skip_tanh=True)``).

The pure functions below implement exactly that, so the channel stage and the codeword vectors do not
need the package. Loudness: the package's file-path ``encode`` normalises the input to -20 LUFS
(``VolumeNorm([-20, 0])``, no random gain) before encoding; this adapter does the same on arrays
(``normalize=True``), so the decoder's output comes at that loudness, not the input's. The adapter
reports the gain it applied (:meth:`StableCodecAdapter.input_gain_db`, measured on the normalised
signal by :func:`applied_gain_db`); the encode stage records it per utterance and the decode stage
divides it out, so the audio that is scored is the codec's output at the input's level.

Building by parts. ``StableCodec(...)`` builds its model through stable-audio-tools'
``create_autoencoder_from_config``, which calls one module-level factory per part (encoder, decoder,
bottleneck, pretransform). While it runs, :func:`_parts_apart` wraps those factories so that each part
is built from its own seed (``torchutil.seeded_part``; random weights then do not depend on the order
of the parts) and, for a decode-only build (``decode_only=True``), the top-level encoder is built on
PyTorch's meta device (no memory, no initialisation), counted, and replaced by :class:`_AbsentEncoder`.
The decode path (post-hoc FSQ, pretransform, decoder) is the full build's, weight for weight; real
weights are read without the encoder's keys. tests/test_codec_paper.py checks this against a stand-in
package of the same shape (the factories' call pattern) and, on the real package, both builds of the
reconstructed architecture.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nacbench.codecs import register
from nacbench.codecs.base import DIM0_LEAST_SIGNIFICANT, CodecInfo, WeightsUnavailableError
from nacbench.codecs.revisions import HubRevisionMismatchError, commit_of, hub_file, hub_pin
from nacbench.codecs.stablecodec_config import RECONSTRUCTED_CONFIG_ID, reconstructed_model_config
from nacbench.codecs.torchutil import (
    BatchedTorchAdapter,
    BatchingMode,
    as_mono_float32,
    batching_mode,
    count_parameters,
    fit_length,
    frames_for_length,
    load_checkpoint,
    load_parts_strictly,
    pad_codes,
    pad_latents,
    random_init_id,
    reject_unknown_options,
    resolve_device,
    seeded_part,
    to_numpy_f32,
)
from nacbench.fsq import indices_to_levels, levels_to_indices
from nacbench.startup import phase

SAMPLE_RATE = 16_000
HUB_ID = "stabilityai/stable-codec-speech-16k"
#: the paper's post-hoc bottleneck: one FSQ stage, 8*8*8*8*4*4 = 65536 codes, scale 1
POSTHOC_LEVELS: tuple[int, ...] = (8, 8, 8, 8, 4, 4)
POSTHOC_SCALE = 1.0
ENV_HINT = (
    "StableCodec needs the stable-codec package: `bash tools/setup.sh` installs it into .venv "
    "(`pip install --no-deps -r envs/requirements-stable-codec-nodeps.txt`, after envs/requirements.txt); "
    "or run its rules in their own environment with `snakemake --use-conda` (envs/stable-codec.yaml, "
    "torch 2.4)"
)
#: ``info.extra["config"]``: where the architecture came from
CONFIG_RECONSTRUCTED = "reconstructed"
CONFIG_GIVEN = "model_config.json"


# --- pure FSQ layout (DitheredFSQ) ----------------------------------------------------------------------


def dithered_fsq_level_values(levels: Sequence[int], scale: float = 1.0) -> list[np.ndarray]:
    """Per dimension, the latent value of each level index: ``l * 2 * scale / (L - 1) - scale``."""
    return [np.arange(n, dtype=np.float64) * (2.0 * scale / (n - 1)) - scale for n in levels]


def stablecodec_indices_to_latents(
    indices: np.ndarray, levels: Sequence[int] = POSTHOC_LEVELS, scale: float = 1.0
) -> np.ndarray:
    """Flat indices ``[...]`` -> bottleneck latents ``[..., D]`` (``DitheredFSQ.indices_to_codes``)."""
    digits = indices_to_levels(np.asarray(indices, dtype=np.int64), levels)
    half_width = 2.0 * scale / (np.asarray(levels, dtype=np.float64) - 1.0)
    return digits * half_width - scale


def stablecodec_latents_to_indices(
    latents: np.ndarray, levels: Sequence[int] = POSTHOC_LEVELS, scale: float = 1.0
) -> np.ndarray:
    """Bounded latents ``[..., D]`` in [-scale, scale] -> flat indices (``DitheredFSQ._codes_to_indices``)."""
    half_width = 2.0 * scale / (np.asarray(levels, dtype=np.float64) - 1.0)
    digits = np.rint((np.asarray(latents, dtype=np.float64) + scale) / half_width).astype(np.int64)
    return levels_to_indices(digits, levels)


def stablecodec_codeword_vectors(levels: Sequence[int] = POSTHOC_LEVELS, scale: float = 1.0) -> np.ndarray:
    """Every grid point as the latent the decoder consumes: ``[prod(levels), D]`` float32."""
    return stablecodec_indices_to_latents(np.arange(math.prod(levels)), levels, scale).astype(np.float32)


def applied_gain_db(before: np.ndarray, after: np.ndarray) -> float:
    """The gain (dB) that turned ``before`` into ``after``, when ``after`` is ``before`` times a scalar.

    ``VolumeNorm`` multiplies by one factor (the loudness gain, then a division by the peak if that
    would clip, or nothing for near-silence), so the least-squares factor is exact. Anything that is not
    a positive scalar multiple raises: the inverse gain would then not undo it.
    """
    x = np.asarray(before, dtype=np.float64).ravel()
    y = np.asarray(after, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"normalisation changed the length: {x.size} -> {y.size} samples")
    energy = float(x @ x)
    if energy == 0.0:
        if np.any(y):
            raise ValueError("normalisation turned digital silence into signal")
        return 0.0
    factor = float(x @ y) / energy
    residual = float(np.sum((y - factor * x) ** 2))
    if factor <= 0 or residual > 1e-8 * max(float(y @ y), np.finfo(float).tiny):
        raise ValueError("input normalisation is not a positive gain: it cannot be undone after decoding")
    return 20.0 * math.log10(factor)


# --- loading --------------------------------------------------------------------------------------------


def import_stable_codec(name: str) -> Any:
    """The ``stable_codec.StableCodec`` class, or a clear error saying which environment to use."""
    try:
        with phase("imports"):
            from stable_codec import StableCodec
    except ImportError as exc:
        raise RuntimeError(f"codecs.{name}: cannot import stable_codec ({exc}). {ENV_HINT}") from exc
    return StableCodec


def _local_files(
    source: str, option: str, revision: str | None = None, floating: bool = False
) -> tuple[Path, Path, str]:
    """``model_config.json`` and the checkpoint from a local folder or the hub (gated: needs a token) at
    the pinned commit (``revision``; no commit was found for this repository, so by default the one
    recorded in the lock file at first download: :mod:`nacbench.codecs.revisions`)."""
    folder = Path(source).expanduser()
    revision_option = f"{option.rsplit('.', 1)[0]}.revision"
    if folder.is_dir():
        if revision is not None:
            raise ValueError(
                f"{revision_option}: {source!r} is a local folder; a revision applies to a hub id"
            )
        config = folder / "model_config.json"
        ckpts = [folder / f for f in ("model.safetensors", "model.ckpt") if (folder / f).is_file()]
        if not config.is_file() or not ckpts:
            raise WeightsUnavailableError(
                f"{option}={source!r}: needs model_config.json and model.safetensors (or model.ckpt)"
            )
        return config, ckpts[0], f"file:{folder.resolve()}"
    hint = (
        "the repo is gated: accept its licence on huggingface.co and log in (`huggingface-cli login`) "
        f"first; or set {option} to a local folder holding model_config.json and the checkpoint"
    )
    pin = hub_pin(source, revision, floating=floating, option=revision_option)
    config = hub_file(pin, "model_config.json", hint=hint)
    pin = pin.settled(commit_of(config))  # both files from the commit the first came from
    try:
        ckpt = hub_file(pin, "model.safetensors", hint=hint)
    except HubRevisionMismatchError:
        raise  # another commit cached: trying the older file name would only hide that
    except WeightsUnavailableError as first:
        try:
            ckpt = hub_file(pin, "model.ckpt", hint=hint)  # the older checkpoint name
        except WeightsUnavailableError as second:
            raise WeightsUnavailableError(
                f"{first}\n(model.ckpt, the older name, failed too: {second})"
            ) from first
    return config, ckpt, f"{source}@{commit_of(ckpt) or pin.revision}"


#: the module-level factories of ``stable_audio_tools.models.autoencoders``, by the part each builds
PART_FACTORIES: dict[str, str] = {
    "encoder": "create_encoder_from_config",
    "decoder": "create_decoder_from_config",
    "bottleneck": "create_bottleneck_from_config",
    "pretransform": "create_pretransform_from_config",
}
AUTOENCODER_FACTORY = "create_autoencoder_from_config"


class _AbsentEncoder(torch.nn.Module):
    """Where a decode-only build's model would have its encoder: no parameters, and no way to encode."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("this StableCodec model was built decode-only: it has no encoder")


@contextlib.contextmanager
def _parts_apart(seed: int, decode_only: bool) -> Iterator[dict[str, int]]:
    """Build the model's parts apart while ``StableCodec(...)`` runs (see the module doc).

    Each factory call runs in ``seeded_part(seed, <part path>)`` (a pretransform's own autoencoder
    nests: ``pretransform.encoder``, ...). With ``decode_only`` the top-level encoder is made on the meta
    device and, once the top-level autoencoder is assembled, replaced by :class:`_AbsentEncoder`; the
    yielded dict then holds its parameter count as ``encoder_parameters``. The factories are restored
    when the block ends.
    """
    from stable_audio_tools.models import autoencoders

    names = [*PART_FACTORIES.values(), AUTOENCODER_FACTORY]
    originals = {n: getattr(autoencoders, n, None) for n in names}
    missing = [n for n, f in originals.items() if f is None]
    if missing:
        raise RuntimeError(
            f"stable_audio_tools.models.autoencoders lacks {missing}: this adapter drives "
            "stable-audio-tools 0.0.17 (envs/stable-codec.yaml)"
        )
    scope: list[str] = []  # the parts being built, outermost first
    autoencoders_open: list[None] = []  # one entry per autoencoder being built (a pretransform nests one)
    found: dict[str, int] = {}

    def part_factory(part: str, factory: Any) -> Any:
        def build(*args: Any, **kwargs: Any) -> Any:
            scope.append(part)
            try:
                if decode_only and scope == ["encoder"] and len(autoencoders_open) == 1:
                    with torch.device("meta"):  # the top-level encoder: counted, then dropped
                        return factory(*args, **kwargs)
                with seeded_part(seed, ".".join(scope)):
                    return factory(*args, **kwargs)
            finally:
                scope.pop()

        return build

    def autoencoder_factory(factory: Any) -> Any:
        def build(*args: Any, **kwargs: Any) -> Any:
            autoencoders_open.append(None)
            try:
                model = factory(*args, **kwargs)
            finally:
                autoencoders_open.pop()
            if decode_only and not autoencoders_open:  # the top-level model, not a pretransform's
                found["encoder_parameters"] = count_parameters(model.encoder)
                model.encoder = _AbsentEncoder()
            return model

        return build

    try:
        for part, factory_name in PART_FACTORIES.items():
            setattr(autoencoders, factory_name, part_factory(part, originals[factory_name]))
        setattr(autoencoders, AUTOENCODER_FACTORY, autoencoder_factory(originals[AUTOENCODER_FACTORY]))
        yield found
    finally:
        for factory_name, factory in originals.items():
            setattr(autoencoders, factory_name, factory)


def _read_state(ckpt: Path, option: str, skip: tuple[str, ...]) -> Mapping[str, torch.Tensor]:
    """The checkpoint's state dict without the keys under ``skip`` (a decode-only build's encoder):
    safetensors files are opened lazily and only the wanted tensors read; a ``.ckpt`` is memory-mapped
    (``torchutil.load_checkpoint``). Same keys as the package's ``load_ckpt_state_dict``."""
    if ckpt.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(ckpt), framework="pt", device="cpu") as handle:
            return {k: handle.get_tensor(k) for k in handle.keys() if not k.startswith(skip)}  # noqa: SIM118
    state = load_checkpoint(ckpt, option)
    try:
        return state["state_dict"]  # a training checkpoint, as load_ckpt_state_dict reads it
    except (KeyError, TypeError) as exc:
        raise WeightsUnavailableError(f"{option}: {ckpt} holds no 'state_dict'") from exc


@dataclass(frozen=True)
class _Built:
    """What :func:`_build` hands the factory besides the model."""

    weights_id: str
    #: :data:`CONFIG_RECONSTRUCTED` or :data:`CONFIG_GIVEN`
    config: str
    #: sha256 of the config text the model was built from (the reconstruction's too)
    config_sha256: str
    #: a decode-only build's encoder parameters (counted on the meta device), else None
    absent_encoder: int | None


def _construct(codec_cls: Any, config_text: str, device: torch.device) -> Any:
    """``StableCodec(model_config_path=...)`` on ``config_text``: the package only reads configs from a
    path, so the text goes through a temporary file (the reconstruction has no file of its own).

    The package prints while it builds: the (temporary) config path, and for every attention layer
    (56 in speech-16k) that its sliding window is ignored without FlashAttention. Those prints are
    caught and each distinct notice but the path becomes one RuntimeWarning, so a job log says it once.
    """
    printed = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="nacbench-stablecodec-") as folder:
        path = Path(folder) / "model_config.json"
        path.write_text(config_text)
        with contextlib.redirect_stdout(printed):
            codec = codec_cls(model_config_path=str(path), device=device)
    lines = (line.strip() for line in printed.getvalue().splitlines())
    for line in dict.fromkeys(x for x in lines if x and not x.startswith("Loading config from")):
        warnings.warn(f"stable_codec: {line}", RuntimeWarning, stacklevel=2)
    return codec


def _build(
    name: str,
    weights: str | None,
    random_weights: bool,
    model_config: str | None,
    seed: int,
    device: torch.device,
    decode_only: bool,
    revision: str | None = None,
    floating: bool = False,
) -> tuple[Any, _Built]:
    """The StableCodec object and what the factory records about it (see :class:`_Built`)."""
    codec_cls = import_stable_codec(name)
    ckpt: Path | None = None
    if random_weights:
        weights_id = random_init_id(seed)
        if model_config is None:
            # no architecture file given: the reconstruction (module doc), marked as such everywhere
            config_text, config = json.dumps(reconstructed_model_config(), indent=1), CONFIG_RECONSTRUCTED
            weights_id += f", config reconstructed ({RECONSTRUCTED_CONFIG_ID})"
        elif Path(model_config).is_file():
            config_text, config = Path(model_config).read_text(), CONFIG_GIVEN
        else:
            raise WeightsUnavailableError(
                f"codecs.{name}.model_config: no file {model_config!r} (the model_config.json of {HUB_ID}; "
                "leave model_config out to build the reconstructed architecture)"
            )
    else:
        config_path, ckpt, weights_id = _local_files(
            weights or HUB_ID, f"codecs.{name}.weights", revision, floating
        )
        config_text, config = config_path.read_text(), CONFIG_GIVEN
    # anything drawn outside the part factories comes from a part of its own ("model")
    with phase("construct"), _parts_apart(seed, decode_only) as found, seeded_part(seed, "model"):
        codec = _construct(codec_cls, config_text, device)
    if ckpt is not None:
        skip = ("encoder.",) if decode_only else ()
        with phase("weights"):
            state = _read_state(ckpt, f"codecs.{name}.weights", skip)
            parts = {n: m for n, m in codec.model.named_children() if not (decode_only and n == "encoder")}
            # strict: the package's own ckpt path copies only matching keys
            load_parts_strictly(parts, state, str(ckpt), "StableCodec model", skipped=skip)
    digest = hashlib.sha256(config_text.encode()).hexdigest()
    return codec, _Built(weights_id, config, digest, found.get("encoder_parameters"))


# --- the adapter ----------------------------------------------------------------------------------------


class StableCodecAdapter(BatchedTorchAdapter):
    """StableCodec with a one-stage post-hoc FSQ bottleneck (default: the paper's levels)."""

    def __init__(
        self,
        codec: Any,
        info: CodecInfo,
        device: torch.device,
        batch_size: int,
        batching: BatchingMode,
        normalize: bool,
        decode_only: bool = False,
    ) -> None:
        self.codec = codec
        super().__init__(info, device, batch_size, batching)
        self.normalize = normalize
        self.decode_only = decode_only
        self.hop = int(codec.model.downsampling_ratio)

    def _preprocess(self, wav: np.ndarray) -> torch.Tensor:
        """One input padded to the hop, as the package's file-path ``encode`` does: ``[1, 1, T']``."""
        return self.codec.model.preprocess_audio_for_encoder(
            torch.from_numpy(wav)[None].to(self.device), SAMPLE_RATE
        )

    def _normalise(self, audio: torch.Tensor) -> torch.Tensor:
        """-20 LUFS (the package's ``VolumeNorm``) when ``normalize``; otherwise as it is."""
        if not self.normalize:
            return audio
        return self.codec.volume_norm(audio.squeeze(0)).unsqueeze(0)

    def _prepare(self, wav: np.ndarray) -> torch.Tensor:
        """One input as the package's file-path ``encode`` prepares it: padded to the hop, -20 LUFS."""
        return self._normalise(self._preprocess(wav))  # [1, 1, T']

    @torch.inference_mode()
    def input_gain_db(self, wav: np.ndarray) -> float:
        """The loudness normalisation's gain on this input (0 with ``normalize=False``)."""
        if not self.normalize:
            return 0.0
        audio = self._preprocess(as_mono_float32(wav, f"codec {self.info.name!r} input"))
        return applied_gain_db(to_numpy_f32(audio), to_numpy_f32(self._normalise(audio)))

    def _encode_prepared(self, wavs: list[np.ndarray]) -> tuple[torch.Tensor, list[Any]]:
        """The package's encode on one group: (pre-bottleneck latents ``[B, D, S]``, post-hoc tokens)."""
        prepared = [self._prepare(w) for w in wavs]
        width = max(a.shape[-1] for a in prepared)
        batch = torch.cat([torch.nn.functional.pad(a, (0, width - a.shape[-1])) for a in prepared])
        latents, tokens = self.codec.encode(batch, posthoc_bottleneck=True)
        return latents, tokens

    @torch.inference_mode()
    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        _, tokens = self._encode_prepared(wavs)
        codes = tokens[0][..., 0].to("cpu", torch.int64).numpy()  # one stage: [B, S, 1] -> [B, S]
        return [
            np.ascontiguousarray(c[None, : frames_for_length(len(w), self.hop)])
            for c, w in zip(codes, wavs, strict=True)
        ]

    @torch.inference_mode()
    def _decode_batch(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_codes(codes)
        tokens = [batch[:, 0, :, None].to(self.device)]  # [B, S, 1] per stage
        return self._fitted(self.codec.decode(tokens, posthoc_bottleneck=True), frames)

    def _fitted(self, audio: torch.Tensor, frames: np.ndarray) -> list[np.ndarray]:
        """Decoder output ``[B, 1, T]`` as one waveform per item, fitted to ``hop * frames`` samples."""
        return [
            fit_length(a, int(f) * self.hop)
            for a, f in zip(to_numpy_f32(audio)[:, 0, :], frames, strict=True)
        ]

    @property
    def latent_dim(self) -> int:
        """Channels of the encoder's output: what the post-hoc FSQ quantizes (6 for speech-16k)."""
        return int(self.codec.model.latent_dim)

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per waveform, the pre-bottleneck latent as the post-hoc FSQ consumes it: ``tanh`` of the
        encoder output (in float64, as ``ResidualFSQBottleneck.encode`` computes it), ``[latent_dim,
        frames]`` float32 with frames as :meth:`encode` gives them; the input is prepared exactly as for
        :meth:`encode` (padding, -20 LUFS), so rounding it to the FSQ grid gives encode's codes."""
        return self.map_waveforms(wavs, "encode_latent", self._encode_latent_batch)

    @torch.inference_mode()
    def _encode_latent_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        latents, _ = self._encode_prepared(wavs)
        bounded = to_numpy_f32(torch.tanh(latents.to(torch.float64)))  # [B, D, S]
        return [
            np.ascontiguousarray(x[:, : frames_for_length(len(w), self.hop)])
            for x, w in zip(bounded, wavs, strict=True)
        ]

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The decoder (with the pretransform) on ``[latent_dim, frames]`` vectors in the bounded space
        the FSQ grid lies in: what :meth:`decode` does after looking the codes up, ``hop * frames``
        samples per input."""
        return self.map_latents(latents, self.latent_dim, self._decode_latent_batch)

    @torch.inference_mode()
    def _decode_latent_batch(self, latents: list[np.ndarray]) -> list[np.ndarray]:
        batch, frames = pad_latents(latents)
        return self._fitted(self.codec.model.decode_audio(batch.to(self.device)), frames)

    def codeword_vectors(self) -> list[np.ndarray]:
        return [stablecodec_codeword_vectors(self.info.fsq_levels or POSTHOC_LEVELS, POSTHOC_SCALE)]

    def encoder_modules(self) -> list[Any]:
        self.require_encoder("give its encoder modules")
        return _encoder_modules(self.codec.model)


def _encoder_modules(model: Any) -> list[Any]:
    return [m for m in (getattr(model, "pretransform", None), model.encoder) if m is not None]


@register("stablecodec")
def build_stablecodec(
    name: str,
    device: str = "cpu",
    weights: str | None = None,
    random_weights: bool = False,
    batch_size: int = 8,
    posthoc_levels: Sequence[int] = POSTHOC_LEVELS,
    model_config: str | None = None,
    normalize: bool = True,
    seed: int = 0,
    batching: str = "exact",
    decode_only: bool = False,
    revision: str | None = None,
    revision_floating: bool = False,
    **unknown: Any,
) -> StableCodecAdapter:
    """StableCodec speech 16 kHz. ``weights``: hub id (default, gated) or a local folder with
    ``model_config.json`` + ``model.safetensors``. ``random_weights``: the architecture of
    ``model_config`` (a model_config.json), or without it the reconstructed one (module doc).
    ``decode_only``: no encoder (see the module doc). ``revision``: the hub commit (default: the one
    recorded in the lock file, :mod:`nacbench.codecs.revisions`; a branch or tag only with
    ``revision_floating``)."""
    reject_unknown_options(
        name,
        unknown,
        (
            "weights",
            "random_weights",
            "batch_size",
            "posthoc_levels",
            "model_config",
            "normalize",
            "seed",
            "batching",
            "revision",
            "revision_floating",
        ),
    )
    mode = batching_mode(name, batching)
    levels = tuple(int(v) for v in posthoc_levels)
    if not levels or any(v < 2 for v in levels):
        raise ValueError(
            f"codecs.{name}.posthoc_levels: need FSQ level counts >= 2, got {list(posthoc_levels)}"
        )
    with phase("device"):
        torch_device = resolve_device(device)
    codec, built = _build(
        name,
        weights,
        bool(random_weights),
        model_config,
        int(seed),
        torch_device,
        bool(decode_only),
        revision,
        bool(revision_floating),
    )
    absent_encoder = built.absent_encoder
    codec.set_posthoc_bottleneck([(list(levels), POSTHOC_SCALE)])
    model = codec.model
    hop = int(model.downsampling_ratio)
    reconstructed = built.config == CONFIG_RECONSTRUCTED
    info = CodecInfo(
        name=name,
        # every table and figure names the codec by this: a reconstructed architecture says so there too
        display_name="StableCodec (config reconstructed)" if reconstructed else "StableCodec",
        input_sample_rate=SAMPLE_RATE,
        output_sample_rate=int(codec.sample_rate),
        frame_rate=SAMPLE_RATE / hop,
        codebook_sizes=(math.prod(levels),),
        quantizer="fsq",
        fsq_levels=levels,
        fsq_index_order=DIM0_LEAST_SIGNIFICANT,
        weights_id=built.weights_id,
        random_weights=bool(random_weights),
        # a decode-only build counts its encoder on the meta device (absent_encoder): same totals
        parameters={
            "encoder": count_parameters(*_encoder_modules(model)) + (absent_encoder or 0),
            "decoder": count_parameters(model.decoder),
            "total": count_parameters(model) + (absent_encoder or 0),
        },
        extra={
            "posthoc_scale": POSTHOC_SCALE,
            "fsq_level_values": [v.tolist() for v in dithered_fsq_level_values(levels, POSTHOC_SCALE)],
            "input_loudness_lufs": -20.0 if normalize else None,
            "hop": hop,
            "batching": batching,
            "config": built.config,
            "config_id": RECONSTRUCTED_CONFIG_ID if reconstructed else None,
            "config_sha256": built.config_sha256,
        },
    )
    return StableCodecAdapter(
        codec, info, torch_device, int(batch_size), mode, bool(normalize), bool(decode_only)
    )
