"""Codec registry: adapters are chosen by name in config (``codecs.<name>.adapter``).

:data:`ADAPTERS` is the one table of adapters: per adapter, the module that registers its factory with
:func:`register` (imported lazily, so that a codec whose package is not installed only fails when it is
asked for) and its static layout (codebook sizes, FSQ levels, optional capabilities), which start-up
checks read without building anything.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nacbench.codecs.base import (
    Capability,
    CodecAdapter,
    CodecInfo,
    DecodeOnlyError,
    MissingCapabilityError,
    WeightsUnavailableError,
)
from nacbench.startup import phase

Factory = Callable[..., CodecAdapter]
Options = Mapping[str, Any]

#: a codec whose artifacts are written by its own rule file (``codecs.<name>.rules``), not by an adapter
EXTERNAL_ADAPTER = "external"

_FACTORIES: dict[str, Factory] = {}


@dataclass(frozen=True)
class StaticLayout:
    """What start-up checks may know of a codec without building it (building NeuCodec takes a minute).

    Must agree with the built adapter's :class:`CodecInfo` and capabilities (tests/test_codec_table.py).
    """

    codebook_sizes: tuple[int, ...]
    fsq_levels: tuple[int, ...] | None
    capabilities: frozenset[Capability]
    #: True when a fit decides the layout (post-hoc FSQ with reverse water-filling): ``codebook_sizes``
    #: is then one codebook of the largest size the fit can give, so every check that holds for it
    #: holds for whatever the fit gives (all post-hoc codebooks are powers of two)
    fitted: bool = False
    #: False for a codec whose packets are entropy coded (Opus's range coder): one flipped bit garbles the
    #: rest of its packet, so that a flipped bit is a lost packet, not a small error in one index. Config
    #: validation refuses such a codec under the bit-error channels (BSC, Gilbert-Elliott) with that
    #: reason; the packet-loss channels, with the codec's own concealment, are where it is measured
    bit_errors: bool = True

    @property
    def has_codeword_vectors(self) -> bool:
        return Capability.CODEWORD_VECTORS in self.capabilities


@dataclass(frozen=True)
class AdapterEntry:
    """One adapter: the module that registers its factory (imported on first use) and its static layout.

    ``layout(options)`` computes the code layout from the codec's config entry without importing the
    module (adapter modules import torch and codec packages; config validation must stay fast). It
    raises ValueError naming the option when the options cannot be laid out.
    """

    module: str
    layout: Callable[[Options], StaticLayout]
    #: memory (MB) a job that builds this codec reserves from Snakemake's ``mem_mb`` pool
    mem_mb: int = 4000
    #: peak GPU memory (MB) of its encode and decode jobs at the default batch size: the share of the
    #: GPU the scheduler reserves for one job (:mod:`nacbench.resources`). Estimates from weights and
    #: activations until ``benchmarks/gpu_check.sh`` measures them; ``codecs.<name>.gpu_mem_mb`` overrides
    gpu_mem_mb: int = 4000
    #: (option, bits per unit, most units) when the codec's rate is a count of codebooks (Lyra's
    #: ``num_quantizers``: 4 bits each, at most 46): the quantizer swap runs the native quantizer at
    #: other budgets through it
    rate: tuple[str, int, int] | None = None
    #: dimension of the latent ``encode_latent`` gives (a post-hoc quantizer's budget must fit in it)
    latent_dim: int | None = None


def _count(options: Options, key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key}: expected a positive integer, got {value!r}")
    return value


#: DAC, EnCodec, StableCodec: codeword vectors, the encoder's modules and latent access (what the
#: quantizer consumes, and the decoder on such vectors: DAC's and EnCodec's encoder output, StableCodec's
#: pre-bottleneck latent after the post-hoc FSQ's tanh)
_TORCH_CODEC = frozenset(
    {
        Capability.CODEWORD_VECTORS,
        Capability.ENCODER_MODULES,
        Capability.ENCODE_LATENT,
        Capability.DECODE_LATENT,
    }
)
#: NeuCodec: also the code-level views of Study B and the labelling study
_NEUCODEC = _TORCH_CODEC | {Capability.QUANTIZER_OUTPUT}
#: Codec2 bits per frame by mode (libcodec2's codec2_bits_per_frame; mode 700 is 700C)
CODEC2_BITS_PER_FRAME: dict[int, int] = {3200: 64, 2400: 48, 1600: 64, 1400: 56, 1300: 52, 1200: 48, 700: 28}


#: Lyra v2: codeword vectors and its encoder's 64-d latent (LyraGAN decodes any 64-d vector)
_LYRA = frozenset({Capability.CODEWORD_VECTORS, Capability.ENCODE_LATENT, Capability.DECODE_LATENT})


def _lyra_layout(options: Options) -> StaticLayout:
    return StaticLayout((16,) * _count(options, "num_quantizers", 30), None, _LYRA)


def _codec2_layout(options: Options) -> StaticLayout:
    mode = options.get("mode", 3200)
    if isinstance(mode, bool) or mode not in CODEC2_BITS_PER_FRAME:
        raise ValueError(
            f"mode: {mode!r} is not a Codec2 mode; choose one of {sorted(CODEC2_BITS_PER_FRAME)}"
        )
    # one 1-bit "codebook" per transmitted bit
    return StaticLayout((2,) * CODEC2_BITS_PER_FRAME[mode], None, frozenset())


def _neucodec_layout(options: Options) -> StaticLayout:
    del options  # both variants and both decoder rates share the encoder's FSQ
    return StaticLayout((4**8,), (4,) * 8, _NEUCODEC)


def _stablecodec_layout(options: Options) -> StaticLayout:
    levels = tuple(int(v) for v in options.get("posthoc_levels", (8, 8, 8, 8, 4, 4)))
    if not levels or any(v < 2 for v in levels):
        raise ValueError(f"posthoc_levels: need FSQ level counts >= 2, got {list(levels)}")
    return StaticLayout((math.prod(levels),), levels, _TORCH_CODEC)


def _dac_layout(options: Options) -> StaticLayout:
    return StaticLayout((1024,) * _count(options, "n_codebooks", 6), None, _TORCH_CODEC)


def _encodec_layout(options: Options) -> StaticLayout:
    return StaticLayout((1024,) * _count(options, "n_codebooks", 12), None, _TORCH_CODEC)


#: Opus packets: 20 ms, so 50 per second, each bitrate / 400 bytes at constant bitrate
OPUS_PACKET_RATE = 50
#: the bitrates Opus is made for (RFC 6716: 6 to 510 kbit/s), capped where libopus caps one channel
#: (OPUS_SET_BITRATE takes 300000 for anything above). Below 6 kbit/s libopus 1.3.1 still emits packets
#: of the requested size, but they decode to silence (800 bit/s) or noise (2400)
OPUS_MIN_BITRATE, OPUS_MAX_BITRATE = 6000, 300_000


@dataclass(frozen=True)
class OpusSettings:
    """The Opus adapter's options, checked and defaulted (:func:`opus_settings`)."""

    #: bits per second; constant (hard CBR), so every packet has :attr:`bytes_per_packet` bytes
    bitrate: int
    #: in-band FEC: each packet also carries a low-rate copy of the previous one (SILK's LBRR)
    fec: bool
    #: the loss rate (%) the encoder plans for: it sets how much FEC it spends and how much it leans on
    #: the previous frame
    packet_loss_perc: int
    #: encoder effort, 0-10
    complexity: int

    @property
    def bytes_per_packet(self) -> int:
        return self.bitrate // (8 * OPUS_PACKET_RATE)


def _option_int(options: Options, key: str, default: int | None, low: int, high: int, what: str) -> int:
    value = options.get(key, default)
    if value is None:
        raise ValueError(f"{key}: required ({what})")
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key}: expected an integer from {low} to {high} ({what}), got {value!r}")
    return value


def opus_settings(options: Options) -> OpusSettings:
    """The Opus options in ``options`` (a codec entry), checked; ValueError names the option.

    Shared by the static layout and the adapter's factory, so config validation refuses what the
    factory would. ``bitrate`` must give whole bytes per 20 ms packet (a multiple of 400 bit/s: 9000
    would be 22.5 bytes). ``packet_loss_perc`` defaults to 10 with FEC, 0 without; FEC at 0 % is refused,
    since libopus spends nothing on FEC when it expects no loss (``decide_fec`` in opus_encoder.c).
    Whether it spends any at a given bitrate is known only by running it: the factory checks
    (:func:`nacbench.codecs.opus.spends_fec`), so ``fec`` below about 19 kbit/s passes here and is
    refused when the codec is built.
    """
    bitrate = options.get("bitrate")
    if bitrate is None:
        raise ValueError("bitrate: required (bits per second, a multiple of 400, e.g. 6000, 9600 or 12000)")
    if isinstance(bitrate, bool) or not isinstance(bitrate, int) or bitrate < 1:
        raise ValueError(f"bitrate: expected a positive integer (bits per second), got {bitrate!r}")
    per_byte = 8 * OPUS_PACKET_RATE
    if bitrate % per_byte:
        below, above = bitrate - bitrate % per_byte, bitrate - bitrate % per_byte + per_byte
        raise ValueError(
            f"bitrate: {bitrate} bit/s is {bitrate / per_byte:g} bytes per 20 ms packet; constant-bitrate "
            f"packets have whole bytes, so take a multiple of {per_byte} bit/s (e.g. {below} or {above})"
        )
    if not OPUS_MIN_BITRATE <= bitrate <= OPUS_MAX_BITRATE:
        raise ValueError(
            f"bitrate: {bitrate} bit/s is outside Opus's range for one channel "
            f"({OPUS_MIN_BITRATE}-{OPUS_MAX_BITRATE} bit/s)"
        )
    fec = options.get("fec", False)
    if not isinstance(fec, bool):
        raise ValueError(f"fec: expected true or false, got {fec!r}")
    loss = _option_int(options, "packet_loss_perc", 10 if fec else 0, 0, 100, "expected loss in %")
    if fec and loss == 0:
        raise ValueError(
            "packet_loss_perc: 0 with fec: libopus spends no bits on FEC when it expects no loss; give the "
            "loss rate to plan for (e.g. 10)"
        )
    complexity = _option_int(options, "complexity", 10, 0, 10, "encoder complexity")
    return OpusSettings(bitrate, fec, loss, complexity)


def _opus_layout(options: Options) -> StaticLayout:
    settings = opus_settings(options)
    # one 256-entry codebook per byte of the packet; range coded, so a flipped bit loses the packet
    return StaticLayout(
        (256,) * settings.bytes_per_packet, None, frozenset({Capability.CONCEAL}), bit_errors=False
    )


def _transformers_layout(options: Options) -> StaticLayout:
    """From the model's config as config validation can read it without torch (nacbench.codecs.hf_layout:
    the family's config defaults, a folder's or the hub cache's config.json)."""
    from nacbench.codecs.hf_layout import FAMILY_CAPABILITIES, static_code_layout

    layout = static_code_layout(options)
    return StaticLayout(layout.codebook_sizes, layout.fsq_levels, FAMILY_CAPABILITIES)


#: a swapped codec: the base's latent access, and codeword vectors from the fitted quantizer
_POSTHOC = frozenset({Capability.CODEWORD_VECTORS, Capability.ENCODE_LATENT, Capability.DECODE_LATENT})


def _posthoc_layout(options: Options) -> StaticLayout:
    """From the fit settings the quantizer swap derives (:func:`nacbench.swap.fit_settings`)."""
    fit = options.get("fit")
    if not isinstance(fit, Mapping):
        raise ValueError("fit: a post-hoc codec needs its fit settings (derived by nacbench.swap)")
    bits = _count(fit, "bits_per_frame", 1)
    if fit.get("kind") == "rvq":
        return StaticLayout((2 ** _count(fit, "bits", 1),) * _count(fit, "stages", 1), None, _POSTHOC)
    if fit.get("allocation") == "fixed":
        per = _count(fit, "bits_per_component", 2)
        return StaticLayout((2**per,) * (bits // per), None, _POSTHOC)
    from nacbench.posthoc import MAX_COMPONENT_BITS

    return StaticLayout((2**MAX_COMPONENT_BITS,), None, _POSTHOC, fitted=True)


#: adapter name (``codecs.<name>.adapter``) -> where it lives and what it declares; the one codec table
ADAPTERS: dict[str, AdapterEntry] = {
    # TFLite, libcodec2 and libopus run on the CPU: no GPU memory at all
    "lyra": AdapterEntry(
        "nacbench.codecs.lyra", _lyra_layout, gpu_mem_mb=0, rate=("num_quantizers", 4, 46), latent_dim=64
    ),
    "codec2": AdapterEntry("nacbench.codecs.codec2", _codec2_layout, gpu_mem_mb=0),
    # libopus: a few hundred kB of state per encoder or decoder
    "opus": AdapterEntry("nacbench.codecs.opus", _opus_layout, mem_mb=1000, gpu_mem_mb=0),
    # NeuCodec's semantic encoder alone is ~580 M parameters (~4.5 GB on CPU)
    "neucodec": AdapterEntry(
        "nacbench.codecs.neucodec", _neucodec_layout, mem_mb=12000, gpu_mem_mb=8000, latent_dim=2048
    ),
    "dac": AdapterEntry(
        "nacbench.codecs.dac", _dac_layout, gpu_mem_mb=6000, rate=("n_codebooks", 10, 32), latent_dim=1024
    ),
    "encodec": AdapterEntry(
        "nacbench.codecs.encodec",
        _encodec_layout,
        gpu_mem_mb=3000,
        rate=("n_codebooks", 10, 32),
        latent_dim=128,
    ),
    # the 6-d latent the post-hoc FSQ quantizes (every published post-hoc preset has 6 dimensions)
    "stablecodec": AdapterEntry(
        "nacbench.codecs.stablecodec", _stablecodec_layout, mem_mb=12000, gpu_mem_mb=8000, latent_dim=6
    ),
    # any codec Transformers ships (Mimi, X-Codec2); sized for the largest, X-Codec2 (629 M parameters)
    "transformers": AdapterEntry("nacbench.codecs.hf", _transformers_layout, mem_mb=8000, gpu_mem_mb=6000),
    # its memory is its base codec's (see _resource_options)
    "posthoc": AdapterEntry("nacbench.codecs.posthoc", _posthoc_layout),
}

#: codec options the pipeline reads and the adapter never sees (its environment, its GPU share)
PIPELINE_OPTIONS = frozenset({"conda_env", "gpu_mem_mb"})


def static_layout(adapter: str, options: Options) -> StaticLayout:
    """The code layout and capabilities an adapter will declare for ``options``, without building it."""
    entry = ADAPTERS.get(adapter)
    if entry is None:
        raise ValueError(f"no static layout known for adapter {adapter!r}; known: {sorted(ADAPTERS)}")
    return entry.layout(options)


def _resource_options(options: Options) -> Options:
    """The entry whose adapter sizes a job: a post-hoc codec runs its base codec (plus a quantizer of
    a few MB), so it reserves what its base reserves."""
    base = options.get("base_options")
    return base if options.get("adapter") == "posthoc" and isinstance(base, Mapping) else options


def job_mem_mb(options: Options) -> int:
    """Memory (MB) a job building the codec configured with ``options`` reserves; an external codec's
    rule file sets its own, so this covers the jobs the generic rules run for it (channel, score)."""
    options = _resource_options(options)
    entry = ADAPTERS.get(str(options.get("adapter")))
    return entry.mem_mb if entry is not None else AdapterEntry.mem_mb


def codec_gpu_mem_mb(options: Options) -> int:
    """Peak GPU memory (MB) of a job that builds the codec: ``gpu_mem_mb`` in its config entry (a
    measurement), else its adapter's estimate; an external codec's rule file declares its own."""
    options = _resource_options(options)
    if "gpu_mem_mb" in options:
        return _count(options, "gpu_mem_mb", 1)
    entry = ADAPTERS.get(str(options.get("adapter")))
    return entry.gpu_mem_mb if entry is not None else AdapterEntry.gpu_mem_mb


def register(adapter: str) -> Callable[[Factory], Factory]:
    """Decorator: make ``factory(name=..., device=..., **options)`` available as ``adapter``."""

    def wrap(factory: Factory) -> Factory:
        _FACTORIES[adapter] = factory
        return factory

    return wrap


def build_codec(
    name: str, options: dict[str, Any], device: str = "cpu", decode_only: bool = False
) -> CodecAdapter:
    """Build the codec configured as ``codecs.<name>`` (its options dict holds ``adapter``).

    ``decode_only`` builds the decoder path alone (a decode job needs no encoder): the adapter's
    ``decode`` gives exactly the audio of the full build, its ``info`` equals the full build's, and
    ``encode`` (and the encoder capabilities) raise :class:`DecodeOnlyError` naming the codec. A
    factory that takes no ``decode_only`` keyword (a third-party adapter) builds in full.
    """
    opts = dict(options)
    adapter = opts.pop("adapter", None)
    if adapter is None:
        raise ValueError(f"codecs.{name}: missing 'adapter'")
    if adapter == EXTERNAL_ADAPTER:
        raise ValueError(
            f"codecs.{name} is an external codec: its rule file ({opts.get('rules')}) makes its artifacts"
        )
    if adapter not in _FACTORIES:
        entry = ADAPTERS.get(adapter)
        if entry is None:
            raise ValueError(f"codecs.{name}.adapter: unknown adapter {adapter!r}; known: {sorted(ADAPTERS)}")
        with phase("imports"):  # the adapter module imports torch (or the TFLite runtime, pycodec2)
            importlib.import_module(entry.module)
    factory = _FACTORIES[adapter]
    if decode_only and "decode_only" in inspect.signature(factory).parameters:
        opts["decode_only"] = True
    return factory(name=name, device=device, **opts)


__all__ = [
    "ADAPTERS",
    "EXTERNAL_ADAPTER",
    "PIPELINE_OPTIONS",
    "AdapterEntry",
    "Capability",
    "CodecAdapter",
    "CodecInfo",
    "DecodeOnlyError",
    "MissingCapabilityError",
    "OpusSettings",
    "StaticLayout",
    "WeightsUnavailableError",
    "build_codec",
    "codec_gpu_mem_mb",
    "job_mem_mb",
    "opus_settings",
    "register",
    "static_layout",
]
