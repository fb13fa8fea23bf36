"""Encoder real-time factor (paper Table 2, "encRTF"): encoder seconds per second of audio.

Only ``adapter.encode`` is timed (waveform in, integer codes out), never decoding: the paper's point is
the distilled encoder's speed. Warm-up calls come first (lazy initialisation, cuDNN autotuning and
allocator growth would otherwise land in the first measurement), CUDA work is synchronised before each
clock read (kernels run asynchronously), and the median of the repeats is reported because a single
slow repeat (another job on the machine, a page fault) should not move the figure.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nacbench.codecs.base import Capability, CodecAdapter
from nacbench.codecs.torchutil import device_label


def adapter_device(adapter: CodecAdapter) -> torch.device:
    """Where the adapter computes: its ``device`` attribute, else its encoder's parameters, else CPU."""
    device = getattr(adapter, "device", None)
    if device is not None:
        return torch.device(device)
    modules = adapter.encoder_modules() if adapter.has(Capability.ENCODER_MODULES) else []
    for module in modules:
        for param in getattr(module, "parameters", lambda: iter(()))():
            return param.device
    return torch.device("cpu")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously; a clock read needs this)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_repeats(
    call: Callable[[], object],
    device: torch.device,
    repeats: int,
    warmup: int = 1,
    budget_s: float | None = None,
) -> list[float]:
    """Wall seconds of each timed ``call()``, after ``warmup`` untimed calls.

    CUDA work is synchronised before each clock read (kernels run asynchronously, so an unsynchronised
    clock would time the launch, not the work). ``budget_s`` stops the timed repeats early, after at
    least one, once they have used that many seconds: a time-boxed check (benchmarks/gpu_check.py)
    records fewer repeats rather than overrunning; ``len(result)`` says how many ran.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"time_repeats: need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        call()
    seconds: list[float] = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        call()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
        if budget_s is not None and sum(seconds) >= budget_s:
            break
    return seconds


def encoder_rtf(
    adapter: CodecAdapter, wavs: Sequence[np.ndarray], repeats: int = 5, warmup: int = 1
) -> dict[str, Any]:
    """Time ``adapter.encode(wavs)`` and return the median encoder real-time factor.

    ``enc_rtf`` = median wall seconds of one ``encode`` over all ``wavs`` / their total duration at the
    codec's input rate. Also returned: the device, the repeat counts, the audio seconds, every repeat's
    seconds and the torch version, so a table cell can be traced back to how it was measured.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"encoder_rtf: need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    if not wavs:
        raise ValueError("encoder_rtf: no waveforms to time")
    audio_s = sum(len(w) for w in wavs) / float(adapter.info.input_sample_rate)
    if audio_s <= 0:
        raise ValueError("encoder_rtf: the waveforms hold no samples")
    device = adapter_device(adapter)
    seconds = time_repeats(lambda: adapter.encode(wavs), device, repeats, warmup)
    median_s = statistics.median(seconds)
    return {
        "enc_rtf": median_s / audio_s,
        "median_s": median_s,
        "seconds": seconds,
        "audio_s": audio_s,
        "repeats": repeats,
        "warmup": warmup,
        "device": device_label(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def host_facts() -> dict[str, Any]:
    """What a timing depends on besides the code: CPU model and cores, memory, GPU, torch and CUDA.

    Every figure that will be compared across machines (the full-run estimate, the GPU check) carries
    these, read the same way (``/proc`` for the CPU, torch for the GPU).
    """
    model = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        model = names[0] if names else model
    try:
        memory_gib: float | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory_gib = None
    cuda = torch.cuda.is_available()
    props = torch.cuda.get_device_properties(0) if cuda else None
    return {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "gpu_name": props.name if props is not None else None,
        "gpu_memory_mb": props.total_memory / 2**20 if props is not None else None,
    }
