"""Codec registry: adapters are chosen by name in config (``codecs.<name>.adapter``).

Each adapter module registers a factory with :func:`register`; modules are imported lazily so that a
codec whose package is not installed only fails when it is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
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

_FACTORIES: dict[str, Factory] = {}


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
    if adapter not in _FACTORIES:
        module = ADAPTER_MODULES.get(adapter)
        if module is None:
            raise ValueError(f"codecs.{name}.adapter: unknown adapter {adapter!r}; known: {sorted(ADAPTER_MODULES)}")
        importlib.import_module(module)
    return _FACTORIES[adapter](name=name, device=device, **opts)


__all__ = ["CodecAdapter", "CodecInfo", "WeightsUnavailableError", "build_codec", "register", "ADAPTER_MODULES"]
