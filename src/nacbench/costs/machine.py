"""How long the estimated jobs take on a target machine (GPUs + cores), by a deliberately simple model.

Summing job wall times gives serial hours; a machine with a GPU and many cores runs jobs side by side.
The model, stated in the report as it is here:

- **GPU jobs** (rules that request a GPU, on a codec that computes on it) run side by side up to the
  GPU's memory: ``slots = floor(gpu_mem_mb / job peak GPU memory)`` (at most the cores, at least 1;
  1 where the job's memory is unknown, as the default profile's single ``gpu`` token enforces; 1 for
  ``enc_rtf``, a timing job that needs the GPU to itself). The GPU computes one job's kernels at a
  time at the throughput it was measured at, so the work of all GPU jobs adds up; their start-ups
  (imports, construction, weights: CPU-side) overlap across the slots. GPU-bound makespan =
  ``sum(work) + sum(start-up) / slots``, divided by the number of GPUs.
- **CPU jobs** (every other rule, and GPU rules of a codec that computes on the CPU, e.g. Lyra's
  TFLite) fill the cores: CPU-bound makespan = ``sum(wall) / cores``.
- The wall-time estimate is the larger of the two. It ignores the DAG's order (decode waits for its
  channel job, scoring for its decode), the tail where the last jobs leave cores idle, and the cores
  GPU jobs hold: a lower bound of a well-packed run, not a schedule.

The range runs from every job at its lowest measured fixed cost and rate to every job at its highest.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from nacbench.costs.estimate import RuleCodecEstimate
from nacbench.costs.fit import GPU_CHECK_SOURCE

#: rules whose jobs time something and so run alone on the GPU
EXCLUSIVE_GPU_RULES = frozenset({"enc_rtf"})
#: the model in one paragraph, for the report
MODEL_TEXT = (
    "GPU jobs run side by side up to the GPU memory (slots = floor(GPU memory / the job's peak GPU "
    "memory), 1 where unknown or for enc_rtf); the GPU computes one job at a time at its measured "
    "throughput, so GPU work adds up while start-ups overlap across slots: GPU-bound = (sum of work + "
    "sum of start-ups / slots) / GPUs. CPU jobs fill the cores: CPU-bound = sum of wall times / cores. "
    "Estimate = the larger of the two; DAG order, the tail and the cores GPU jobs hold are ignored "
    "(a lower bound of a well-packed run)."
)


@dataclass(frozen=True)
class TargetMachine:
    """The machine the full run is estimated for; ``gpu_mem_mb`` None: one GPU job at a time."""

    gpus: int = 1
    cores: int = 16
    gpu_mem_mb: float | None = None

    def __post_init__(self) -> None:
        if self.gpus < 0 or self.cores < 1:
            raise ValueError(f"target machine: need gpus >= 0 and cores >= 1, got {self.gpus}, {self.cores}")


@dataclass(frozen=True)
class Share:
    """One rule x codec on the target machine: its pool, slots and makespan contribution (seconds)."""

    rule: str
    codec: str | None
    pool: str  # "gpu" or "cpu"
    slots: int
    fixed_s: tuple[float, float, float]  # low, point, high: the jobs' summed fixed costs
    work_s: tuple[float, float, float]  # low, point, high: the rest of their wall time
    makespan_s: tuple[float, float, float]  # low, point, high


@dataclass(frozen=True)
class Makespan:
    """The target machine's wall-time estimate over the estimated (measured) jobs."""

    machine: TargetMachine
    gpu_s: tuple[float, float, float]
    cpu_s: tuple[float, float, float]
    shares: tuple[Share, ...]

    @property
    def wall_s(self) -> tuple[float, float, float]:
        low, point, high = (max(g, c) for g, c in zip(self.gpu_s, self.cpu_s, strict=True))
        return low, point, high

    @property
    def bound(self) -> str:
        return "GPU" if self.gpu_s[1] >= self.cpu_s[1] else "CPU"


def runs_on_gpu(e: RuleCodecEstimate, gpu_rules: Collection[str]) -> bool:
    """A job of a GPU rule whose figures do not say it computes on the CPU (Lyra's TFLite does)."""
    if e.rule not in gpu_rules:
        return False
    device = e.model.device if e.model else None
    return not (e.model is not None and e.model.source == GPU_CHECK_SOURCE and device == "cpu")


def gpu_slots(e: RuleCodecEstimate, machine: TargetMachine) -> int:
    """Jobs of this rule x codec that fit on one GPU side by side (see the module docstring)."""
    if e.rule in EXCLUSIVE_GPU_RULES or machine.gpu_mem_mb is None or e.model is None:
        return 1
    mem = e.model.gpu_mem_mb
    if not math.isfinite(mem) or mem <= 0:
        return 1
    return max(1, min(machine.cores, int(machine.gpu_mem_mb // mem)))


def _split(e: RuleCodecEstimate) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Summed fixed cost and work (low, point, high) of the estimate's jobs, from its model."""
    assert e.model is not None and e.wall_s is not None
    m = e.model
    low_a, high_a = m.overhead_range_s or (m.overhead_s, m.overhead_s)
    fixed = (e.jobs * low_a, e.jobs * m.overhead_s, e.jobs * high_a)
    low_w, high_w = e.wall_range_s or (e.wall_s, e.wall_s)
    walls = (low_w, e.wall_s, high_w)
    work = tuple(max(0.0, w - f) for w, f in zip(walls, fixed, strict=True))
    return fixed, (work[0], work[1], work[2])


def makespan(
    estimates: Sequence[RuleCodecEstimate], gpu_rules: Collection[str], machine: TargetMachine
) -> Makespan:
    """The GPU-bound and CPU-bound makespans of the estimated jobs on ``machine`` (module docstring)."""
    shares = []
    gpu = [0.0, 0.0, 0.0]
    cpu = [0.0, 0.0, 0.0]
    for e in estimates:
        if e.wall_s is None or e.model is None:
            continue
        fixed, work = _split(e)
        if runs_on_gpu(e, gpu_rules) and machine.gpus > 0:
            slots = gpu_slots(e, machine)
            span = tuple((w + f / slots) / machine.gpus for f, w in zip(fixed, work, strict=True))
            pool, total = "gpu", gpu
        else:
            slots = machine.cores
            span = tuple((f + w) / machine.cores for f, w in zip(fixed, work, strict=True))
            pool, total = "cpu", cpu
        for i in range(3):
            total[i] += span[i]
        shares.append(Share(e.rule, e.codec, pool, slots, fixed, work, (span[0], span[1], span[2])))
    return Makespan(machine, (gpu[0], gpu[1], gpu[2]), (cpu[0], cpu[1], cpu[2]), tuple(shares))
