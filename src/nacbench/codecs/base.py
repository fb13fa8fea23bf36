"""The codec adapter interface: what every codec must say about itself and do.

A codec is seen by the rest of the pipeline only through :class:`CodecInfo` (metadata, written to
``results/codes/{codec}/codec.json``) and :class:`CodecAdapter` (encode / decode). Code indices are
integers ``[n_codebooks, frames]`` per utterance; the channel stage writes each index as a bit string
of ``bits_per_codebook[k]`` bits, so the codebook sizes declared here define what is transmitted.

Beyond encode / decode an adapter may offer optional :class:`Capability` s (codeword vectors for the
distortion-aware labelling, the quantizer's output for the Study B code analysis, the encoder's torch
modules for encRTF, the decoder's own concealment of lost packets). An adapter has a capability exactly
when it overrides that method; callers ask :meth:`CodecAdapter.has` or :meth:`CodecAdapter.require`
rather than trying the method, so a codec that lacks one fails with an error naming the codec and the
capability, before any work is done.

A decode job needs no encoder, so an adapter may be built decode-only (``build_codec(...,
decode_only=True)``): it decodes exactly as the full build does, its ``info`` is the full build's, and
``encode`` and the encoder capabilities (:data:`ENCODER_CAPABILITIES`) raise :class:`DecodeOnlyError`
naming the codec.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

QuantizerKind = Literal["fsq", "rvq", "parametric", "other"]

#: FSQ index order used by NeuCodec and StableCodec: index = sum(level_d * prod(levels[:d])).
DIM0_LEAST_SIGNIFICANT = "dim0-least-significant"

#: the warning every figure stamp, table note and notebook label carries for anything built on a codec
#: whose :attr:`CodecInfo.random_weights` is set: one wording, so a search for it finds them all
RANDOM_WEIGHTS_LABEL = "RANDOM WEIGHTS - not a result"


@dataclass(frozen=True)
class CodecInfo:
    """Everything downstream stages need to know about a codec's code layout and audio interface."""

    name: str
    display_name: str
    input_sample_rate: int
    output_sample_rate: int
    frame_rate: float
    codebook_sizes: tuple[int, ...]
    quantizer: QuantizerKind
    fsq_levels: tuple[int, ...] | None = None
    fsq_index_order: str | None = None
    #: samples of output delay (at ``output_sample_rate``) that must be removed before scoring
    delay_samples: int = 0
    #: where the weights came from (hub id + revision, file checksum, or "random-init")
    weights_id: str = ""
    #: True when the weights are a random initialisation: nothing built on it is a result
    random_weights: bool = False
    #: parameter counts by module group, counted from the modules (e.g. {"acoustic_encoder": ...})
    parameters: dict[str, int] = field(default_factory=dict)
    #: adapter-specific settings worth recording (bandwidth, mode, number of quantizers, ...)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.codebook_sizes or any(int(s) < 2 for s in self.codebook_sizes):
            raise ValueError(
                f"codec {self.name!r}: every codebook needs at least 2 entries, got {self.codebook_sizes}"
            )
        if self.fsq_levels is not None and math.prod(self.fsq_levels) != self.codebook_sizes[0]:
            raise ValueError(
                f"codec {self.name!r}: FSQ levels {self.fsq_levels} give {math.prod(self.fsq_levels)} codes, "
                f"but codebook 0 has {self.codebook_sizes[0]}"
            )

    @property
    def n_codebooks(self) -> int:
        return len(self.codebook_sizes)

    @property
    def bits_per_codebook(self) -> tuple[int, ...]:
        """Fixed bit width of each codebook's index: ceil(log2(size))."""
        return tuple(int(math.ceil(math.log2(s))) for s in self.codebook_sizes)

    @property
    def bits_per_frame(self) -> int:
        return sum(self.bits_per_codebook)

    @property
    def bitrate_bps(self) -> float:
        return self.bits_per_frame * self.frame_rate

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["bits_per_codebook"] = list(self.bits_per_codebook)
        out["bits_per_frame"] = self.bits_per_frame
        out["bitrate_bps"] = self.bitrate_bps
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodecInfo:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("codebook_sizes", "fsq_levels"):
            if fields.get(key) is not None:
                fields[key] = tuple(int(v) for v in fields[key])
        return cls(**fields)

    def write(self, path: str | Path) -> None:
        from nacbench import artifacts  # pandas and pyarrow: not needed to build or run a codec

        artifacts.write_json(self.to_json(), path)  # atomic, like every artifact

    @classmethod
    def read(cls, path: str | Path) -> CodecInfo:
        from nacbench import artifacts

        return cls.from_json(artifacts.read_json(path))  # a damaged file names itself


class WeightsUnavailableError(RuntimeError):
    """Raised when a codec's weights cannot be loaded; the message says where to put them."""


class Capability(str, Enum):
    """An optional part of the adapter interface; the value is the name of the method that provides it."""

    #: ``codeword_vectors()``: per codebook, the vectors the decoder consumes (distortion-aware labelling)
    CODEWORD_VECTORS = "codeword_vectors"
    #: ``quantizer_output(codes)``: what the decoder receives for given codes (Study B code analysis)
    QUANTIZER_OUTPUT = "quantizer_output"
    #: ``encoder_modules()``: the torch modules of the encoder alone (encRTF device, parameter counts)
    ENCODER_MODULES = "encoder_modules"
    #: ``encode_latent(wavs)``: the continuous vectors the quantizer consumes, ``[dim, frames]`` each
    #: (a quantizer fitted post hoc replaces the codec's own: the quantizer swap)
    ENCODE_LATENT = "encode_latent"
    #: ``decode_latent(latents)``: audio from vectors in the space the decoder consumes
    DECODE_LATENT = "decode_latent"
    #: ``decode_lost(codes, lost)``: the codec's own concealment of lost frames: its decoder's packet-loss
    #: concealment (PLC), and in-band FEC when the codec was built with it (Opus). A codec without it has
    #: its losses concealed on the codes or the audio by the pipeline (:mod:`nacbench.erasure`)
    CONCEAL = "decode_lost"


#: the capabilities that need the encoder: a decode-only build does not provide them
ENCODER_CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.ENCODER_MODULES, Capability.ENCODE_LATENT}
)


def conceals_in_latent(capabilities: Collection[Capability], decode_only: bool = False) -> bool:
    """Whether a codec with these capabilities can take ``mean-latent`` concealment: it needs the encoder's
    latent (to average over the fit set; not asked of a ``decode_only`` build, which gets the mean from
    a file), the decoder on latents, and the latent of received codes (:meth:`CodecAdapter.dequantize`:
    its quantizer's output, or its codeword vectors summed)."""
    caps = set(capabilities)
    needs = {Capability.DECODE_LATENT} | (set() if decode_only else {Capability.ENCODE_LATENT})
    return needs <= caps and bool(caps & {Capability.QUANTIZER_OUTPUT, Capability.CODEWORD_VECTORS})


class MissingCapabilityError(NotImplementedError):
    """A codec asked for an optional capability it does not provide; the message names both."""


class DecodeOnlyError(RuntimeError):
    """A decode-only build was asked to encode (or for its encoder); the message names the codec."""


def capabilities_of(cls: type[CodecAdapter]) -> frozenset[Capability]:
    """The capabilities an adapter class provides: the optional methods it overrides."""
    return frozenset(c for c in Capability if getattr(cls, c.value) is not getattr(CodecAdapter, c.value))


class CodecAdapter(ABC):
    """One codec behind a small, batched interface.

    ``encode`` takes mono float32 waveforms at ``info.input_sample_rate`` and returns one int64 array
    ``[n_codebooks, frames]`` per input; ``decode`` inverts it to float32 waveforms at
    ``info.output_sample_rate``. Batching (padding plus true lengths) is the adapter's business: the
    lists in and out always have one entry per utterance, already trimmed.
    """

    info: CodecInfo
    #: True for a decode-only build: no encoder; ``encode`` and the encoder capabilities refuse by name
    decode_only: bool = False

    @abstractmethod
    def encode(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Waveforms -> integer codes ``[n_codebooks, frames]``."""

    @abstractmethod
    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Integer codes -> waveforms at ``info.output_sample_rate`` (delay not yet removed)."""

    def input_gain_db(self, wav: np.ndarray) -> float:
        """Gain (dB) this adapter applies to ``wav`` before encoding (0: it encodes the input as given).

        A codec that normalises its input (StableCodec: -20 LUFS) decodes to the normalised level, not
        the input's, and the level-dependent metrics (mel-MSE) would charge it that offset. The encode
        stage records this gain per utterance (``input_gain_db`` in the codes npz), the channel stage
        carries it, and the decode stage applies its inverse, so decoded audio comes back at the input's
        level. Computed from the same preprocessing ``encode`` applies, so both always agree.
        """
        return 0.0

    # optional capabilities ------------------------------------------------------------------------------
    @property
    def capabilities(self) -> frozenset[Capability]:
        """The optional capabilities this adapter provides (see :class:`Capability`); a decode-only build
        lacks the encoder's (:data:`ENCODER_CAPABILITIES`)."""
        provided = capabilities_of(type(self))
        return provided - ENCODER_CAPABILITIES if self.decode_only else provided

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability, purpose: str = "") -> CodecAdapter:
        """Return ``self`` if it provides ``capability``; else raise naming the codec and the capability."""
        if capability not in self.capabilities:
            if self.decode_only and capability in capabilities_of(type(self)):
                why = f" for {purpose}" if purpose else ""
                raise self.decode_only_error(f"provide {capability.value!r}{why}")
            raise self._missing(capability, purpose)
        return self

    def require_encoder(self, what: str) -> None:
        """Raise :class:`DecodeOnlyError` if this is a decode-only build (call before using the encoder)."""
        if self.decode_only:
            raise self.decode_only_error(what)

    def decode_only_error(self, what: str) -> DecodeOnlyError:
        """The error a decode-only build raises when asked to ``what`` (e.g. "encode")."""
        return DecodeOnlyError(
            f"codec {self.info.name!r} ({type(self).__name__}) was built decode-only (no encoder): it cannot "
            f"{what}; build it without decode_only=True for that"
        )

    def _missing(self, capability: Capability, purpose: str = "") -> MissingCapabilityError:
        provided = sorted(c.value for c in self.capabilities) or "none"
        why = f", which {purpose} needs" if purpose else ""
        return MissingCapabilityError(
            f"codec {self.info.name!r} ({type(self).__name__}) does not provide {capability.value!r}{why}; "
            f"its optional capabilities: {provided}"
        )

    def codeword_vectors(self) -> list[np.ndarray]:
        """Per codebook, the vectors the decoder consumes for each index: ``[size, dim]``.

        Used by the distortion-aware labelling (:attr:`Capability.CODEWORD_VECTORS`).
        """
        raise self._missing(Capability.CODEWORD_VECTORS)

    def quantizer_output(self, codes: np.ndarray) -> np.ndarray:
        """What the decoder receives for ``codes`` ``[n_codebooks, frames]``: ``[frames, dim]``.

        Used by the Study B code analysis (:attr:`Capability.QUANTIZER_OUTPUT`).
        """
        raise self._missing(Capability.QUANTIZER_OUTPUT)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """The latent :meth:`decode_latent` consumes for ``codes`` (``[n_codebooks, frames]``): ``[dim,
        frames]`` float32, so ``decode_latent([dequantize(c)])`` decodes like ``decode([c])``.

        From :meth:`quantizer_output` where the codec has it, else the sum over codebooks of each code's
        :meth:`codeword_vectors` entry (residual quantizers add their stages; one codebook is its own
        sum). The codeword vectors are read once per adapter. Used by ``mean-latent`` concealment.
        """
        codes = np.asarray(codes, dtype=np.int64)
        self.check_codes(codes)
        if self.has(Capability.QUANTIZER_OUTPUT):
            return np.ascontiguousarray(self.quantizer_output(codes).T, dtype=np.float32)
        parts = [v[c] for v, c in zip(self._codeword_table, codes, strict=True)]  # [frames, dim] each
        return np.ascontiguousarray(np.sum(parts, axis=0, dtype=np.float32).T)

    @cached_property
    def _codeword_table(self) -> list[np.ndarray]:
        """:meth:`codeword_vectors`, read once (Lyra's take hundreds of model calls)."""
        return self.codeword_vectors()

    def encoder_modules(self) -> list[Any]:
        """Torch modules that make up the encoder alone (:attr:`Capability.ENCODER_MODULES`)."""
        raise self._missing(Capability.ENCODER_MODULES)

    def encode_latent(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per waveform (at the input rate), the unquantized vectors the quantizer consumes:
        ``[dim, frames]`` float32, one frame per code frame (:attr:`Capability.ENCODE_LATENT`)."""
        raise self._missing(Capability.ENCODE_LATENT)

    def decode_latent(self, latents: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Audio (at the output rate) from ``[dim, frames]`` vectors in the space the decoder consumes:
        what a quantizer other than the codec's own hands to the decoder
        (:attr:`Capability.DECODE_LATENT`)."""
        raise self._missing(Capability.DECODE_LATENT)

    def decode_lost(self, codes: Sequence[np.ndarray], lost: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Audio from codes of which some frames' packets were lost, concealed by the codec itself.

        ``codes``: ``[n_codebooks, frames]`` per utterance; ``lost``: a bool ``[frames]`` per utterance,
        True where that frame's packet was lost, so its codes are to be ignored (whatever they hold).
        Returns audio at ``info.output_sample_rate``, the same length as ``decode`` would give. A codec's
        decoder knows more than any generic concealment (its state, its pitch, a redundant copy of the
        lost frame in the next packet), which is what an erasure condition with the codec's own
        concealment measures (:attr:`Capability.CONCEAL`).
        """
        raise self._missing(Capability.CONCEAL)

    def latent_array(self, latent: np.ndarray, dim: int, index: int) -> np.ndarray:
        """``latent`` as float32, refused unless ``[dim, frames]`` (for ``decode_latent``; ``index`` names it)."""
        array = np.asarray(latent, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] != dim:
            raise ValueError(
                f"codec {self.info.name!r}: latent {index} has shape {array.shape}, expected ({dim}, frames)"
            )
        return array

    def check_codes(self, codes: np.ndarray) -> None:
        """Raise if ``codes`` does not fit this codec's layout (shape, dtype, range)."""
        if codes.ndim != 2 or codes.shape[0] != self.info.n_codebooks:
            raise ValueError(
                f"codec {self.info.name!r}: codes must be [{self.info.n_codebooks}, frames], got {codes.shape}"
            )
        sizes = np.asarray(self.info.codebook_sizes)[:, None]
        if codes.size and ((codes < 0).any() or (codes >= sizes).any()):
            raise ValueError(f"codec {self.info.name!r}: code index outside its codebook")
