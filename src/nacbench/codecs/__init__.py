"""Codec registry: adapters are chosen by name in config (``codecs.<name>.adapter``).

Each adapter module registers a factory with :func:`register`; modules are imported lazily so that a
codec whose package is not installed only fails when it is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nacbench.codecs.base import CodecAdapter, CodecInfo, WeightsUnavailableError

Factory = Callable[..., CodecAdapter]

#: adapter name -> module that registers it
ADAPTER_MODULES: dict[str, str] = {
    "lyra": "nacbench.codecs.lyra",
    "codec2": "nacbench.codecs.codec2",
    "neucodec": "nacbench.codecs.neucodec",
    "dac": "nacbench.codecs.dac",
    "encodec": "nacbench.codecs.encodec",
    "stablecodec": "nacbench.codecs.stablecodec",
}

#: a codec whose artifacts are written by its own rule file (``codecs.<name>.rules``), not by an adapter
EXTERNAL_ADAPTER = "external"

_FACTORIES: dict[str, Factory] = {}


@dataclass(frozen=True)
class StaticLayout:
    """What start-up checks may know of a codec without building it (building NeuCodec takes a minute)."""

    codebook_sizes: tuple[int, ...]
    fsq_levels: tuple[int, ...] | None
    has_codeword_vectors: bool


def static_layout(adapter: str, options: dict[str, Any]) -> StaticLayout:
    """The code layout an adapter will declare for ``options``; must agree with the adapter's CodecInfo."""
    if adapter == "lyra":
        return StaticLayout((16,) * int(options.get("num_quantizers", 30)), None, True)
    if adapter == "codec2":  # one 1-bit "codebook" per transmitted bit
        return StaticLayout((2,), None, False)
    if adapter == "neucodec":
        return StaticLayout((4**8,), (4,) * 8, True)
    if adapter == "stablecodec":
        return StaticLayout((2**16,), (8, 8, 8, 8, 4, 4), True)
    if adapter == "dac":
        return StaticLayout((1024,) * int(options.get("n_codebooks", 6)), None, True)
    if adapter == "encodec":
        return StaticLayout((1024,) * 12, None, True)
    raise ValueError(f"no static layout known for adapter {adapter!r}")


def register(adapter: str) -> Callable[[Factory], Factory]:
    """Decorator: make ``factory(name=..., device=..., **options)`` available as ``adapter``."""

    def wrap(factory: Factory) -> Factory:
        _FACTORIES[adapter] = factory
        return factory

    return wrap


def build_codec(name: str, options: dict[str, Any], device: str = "cpu") -> CodecAdapter:
    """Build the codec configured as ``codecs.<name>`` (its options dict holds ``adapter``)."""
    opts = dict(options)
    adapter = opts.pop("adapter", None)
    if adapter is None:
        raise ValueError(f"codecs.{name}: missing 'adapter'")
    if adapter == EXTERNAL_ADAPTER:
        raise ValueError(
            f"codecs.{name} is an external codec: its rule file ({opts.get('rules')}) makes its artifacts"
        )
    if adapter not in _FACTORIES:
        module = ADAPTER_MODULES.get(adapter)
        if module is None:
            raise ValueError(
                f"codecs.{name}.adapter: unknown adapter {adapter!r}; known: {sorted(ADAPTER_MODULES)}"
            )
        importlib.import_module(module)
    return _FACTORIES[adapter](name=name, device=device, **opts)


__all__ = [
    "ADAPTER_MODULES",
    "EXTERNAL_ADAPTER",
    "CodecAdapter",
    "CodecInfo",
    "StaticLayout",
    "WeightsUnavailableError",
    "build_codec",
    "register",
    "static_layout",
]
