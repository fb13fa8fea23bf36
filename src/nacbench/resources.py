"""GPU memory as a Snakemake resource, so several GPU jobs share one large GPU.

A single GPU token runs GPU jobs one after another: on a GPU with 140 GB, a decode job that needs 3 GB
leaves the device idle while it starts up, builds its model and writes audio. Instead every GPU rule
declares ``gpu_mem_mb`` (its codec's peak GPU memory, :func:`job_gpu_mem_mb`), and the workflow's
``gpu_mem_mb`` capacity is the device's memory (:func:`register_gpu_memory`): Snakemake's scheduler then
never runs GPU jobs whose summed memory exceeds the device, and fills it with as many as fit, so the
start-ups and CPU-bound parts of some overlap the GPU work of others.

Rules keep ``gpu=1`` as well: it says "this job wants a GPU" to cluster executors (the SLURM profile
asks for one GPU per such job); the local profile sets no ``gpu`` limit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

#: the Snakemake resource GPU rules declare and the workflow's capacity is given in
GPU_MEM_RESOURCE = "gpu_mem_mb"
#: share of the device's memory the scheduler may hand out: the rest covers each process's CUDA
#: context (~0.5 GB) and allocator fragmentation, which the per-codec peaks do not include
DEVICE_SHARE = 0.9
#: peak GPU memory (MB) of a Whisper job by model size (CTranslate2 / openai-whisper, batch 8);
#: estimates from the weights' size and activations until ``benchmarks/gpu_check.sh`` measures them
ASR_GPU_MEM_MB: dict[str, int] = {"tiny": 1000, "base": 1200, "small": 2500, "medium": 5500, "large": 10000}


def visible_gpu_memory_mb() -> int | None:
    """Total memory (MB) of the first GPU this process may use, from ``nvidia-smi``; None without one.

    nvidia-smi rather than torch: the Snakefile asks at start-up, and importing torch there would add
    a second to every ``snakemake`` call. ``CUDA_VISIBLE_DEVICES`` is honoured (first listed device).
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in {"", "-1"} or shutil.which("nvidia-smi") is None:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    cmd = ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"]
    if visible:
        cmd += ["-i", visible]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True).stdout
        return int(float(out.split()[0]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def gpu_capacity_mb(device: str, given: int | None, detected: int | None) -> int | None:
    """The ``gpu_mem_mb`` the scheduler may hand out, or None when jobs run on the CPU.

    ``device`` is the config's (``cpu`` never uses a GPU); ``given`` what the user passed
    (``--resources gpu_mem_mb=N`` or a profile), which wins; else :data:`DEVICE_SHARE` of the
    ``detected`` device memory.
    """
    if device == "cpu":
        return None
    if given is not None:
        return int(given)
    if detected is None:
        return None
    return int(detected * DEVICE_SHARE)


def register_gpu_memory(workflow: Any, device: str) -> int | None:
    """At start-up, give the workflow its ``gpu_mem_mb`` capacity (see :func:`gpu_capacity_mb`).

    Without a capacity, Snakemake would treat ``gpu_mem_mb`` as unlimited and start every GPU job at
    once. Returns the capacity (None: no GPU, GPU jobs run on the CPU and declare 0).
    """
    given = workflow.global_resources.get(GPU_MEM_RESOURCE)
    given = getattr(given, "value", given)  # Snakemake may wrap parsed resources
    detected = None if device == "cpu" or given is not None else visible_gpu_memory_mb()
    capacity = gpu_capacity_mb(device, given, detected)
    if capacity is not None and given is None:
        workflow.register_resource(GPU_MEM_RESOURCE, capacity)
    return capacity


def job_gpu_mem_mb(peak_mb: int, capacity: int | None, what: str) -> int:
    """What a GPU job declares: its peak GPU memory on a GPU, 0 when jobs run on the CPU.

    A peak above the capacity could never be scheduled; it is an error naming the job kind and the
    way out (a larger ``--resources gpu_mem_mb``, or the codec's ``gpu_mem_mb`` / batch size).
    """
    if capacity is None:
        return 0
    if peak_mb > capacity:
        raise ValueError(
            f"{what}: needs {peak_mb} MB of GPU memory, but only {capacity} MB may be handed out "
            f"({GPU_MEM_RESOURCE}); lower its batch size or its gpu_mem_mb, or give more with "
            f"--resources {GPU_MEM_RESOURCE}=N"
        )
    return int(peak_mb)


def asr_gpu_mem_mb(asr: Mapping[str, Any]) -> int:
    """Peak GPU memory of an ASR job: the Whisper size named in the model id (``tiny.en``, a folder
    ``whisper-small-ct2``...), or the largest size when the id does not say."""
    model = str(asr.get("model", "")).lower()
    sizes = [size for size in ASR_GPU_MEM_MB if size in model]
    return ASR_GPU_MEM_MB[sizes[0]] if sizes else max(ASR_GPU_MEM_MB.values())
