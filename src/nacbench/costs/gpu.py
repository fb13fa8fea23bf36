"""The GPU check's figures (``benchmarks/gpu_check.py``) as cost models for the rules that run on a GPU.

A measured run on a CPU machine says nothing about GPU time. The GPU check, run once on the target GPU
machine, measures per codec the throughput of encode and decode (audio seconds per second, at the
pipeline's batch size and batching), the start-up of a fresh job process (imports, build, first call;
decode-only build for decode jobs), the peak GPU memory of a job, and the ASR throughput. This module
owns the JSON format (:data:`GPU_FIGURES_SCHEMA`, :data:`GPU_FIGURES_VERSION`): the check writes it,
:func:`read_gpu_figures` reads and checks it, :func:`gpu_cost_models` turns it into
:class:`~nacbench.costs.fit.CostModel` objects (``overhead_s`` = start-up, ``rate`` = 1 / throughput)
for the rules in :data:`GPU_RULE_FIGURES`. A rule x codec without a figure keeps its CPU measurement,
and the report says which ones do.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacbench.costs import CostError
from nacbench.costs.estimate import option_differences
from nacbench.costs.fit import GPU_CHECK_SOURCE, CostModel
from nacbench.costs.jobs import DatasetAudio
from nacbench.plan import Config

#: ``schema`` field of the GPU check's JSON
GPU_FIGURES_SCHEMA = "nacbench.gpu_check"
#: ``version`` field of the GPU check's JSON (bump when a field changes meaning)
GPU_FIGURES_VERSION = 1
#: rule -> the figure its jobs' work runs at (``encode``/``decode`` per codec, ``asr`` for Whisper)
GPU_RULE_FIGURES: dict[str, str] = {
    "encode": "encode",
    "decode": "decode",
    "enc_rtf": "encode",
    "asr_reference": "asr",
    "asr_decoded": "asr",
}
#: the batching modes the check times (nacbench.codecs.torchutil.BATCHING_MODES)
BATCHINGS = ("exact", "padded")


class GpuFiguresError(CostError):
    """A GPU-figures file that cannot be used: unreadable, another schema or version, a field missing."""


def _field(data: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    """``data[key]`` checked against ``kinds`` (bool is not a number here); names the field when not."""
    if key not in data:
        raise GpuFiguresError(f"{where}: missing field {key!r}")
    value = data[key]
    numeric = kinds in (int, float) or (isinstance(kinds, tuple) and int in kinds)
    if (numeric and isinstance(value, bool)) or not isinstance(value, kinds):
        raise GpuFiguresError(f"{where}.{key}: expected {kinds}, got {value!r}")
    return value


def _optional_number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if value is None:
        return math.nan
    return float(_field(data, key, (int, float), where))


@dataclass(frozen=True)
class Throughput:
    """One timed operation: ``seconds`` per repeat over ``audio_s`` of audio, after ``warmup`` calls."""

    audio_s: float
    seconds: tuple[float, ...]
    batch_size: int
    batching: str
    n_utterances: int
    warmup: int

    @property
    def rate(self) -> float:
        """Wall seconds per audio second (median repeat): the cost model's ``rate``."""
        return statistics.median(self.seconds) / self.audio_s

    @property
    def rate_range(self) -> tuple[float, float]:
        return min(self.seconds) / self.audio_s, max(self.seconds) / self.audio_s

    @property
    def audio_s_per_s(self) -> float:
        return 1.0 / self.rate

    @classmethod
    def parse(cls, data: Any, where: str) -> Throughput:
        if not isinstance(data, Mapping):
            raise GpuFiguresError(f"{where}: expected an object, got {data!r}")
        seconds = _field(data, "seconds", list, where)
        if not seconds or not all(isinstance(s, int | float) and s > 0 for s in seconds):
            raise GpuFiguresError(f"{where}.seconds: expected positive seconds, got {seconds!r}")
        audio = float(_field(data, "audio_s", (int, float), where))
        if audio <= 0:
            raise GpuFiguresError(f"{where}.audio_s: expected > 0, got {audio}")
        return cls(
            audio_s=audio,
            seconds=tuple(float(s) for s in seconds),
            batch_size=int(_field(data, "batch_size", int, where)),
            batching=str(_field(data, "batching", str, where)),
            n_utterances=int(_field(data, "n_utterances", int, where)),
            warmup=int(_field(data, "warmup", int, where)),
        )


@dataclass(frozen=True)
class Startup:
    """A fresh job process, timed from the parent: interpreter start to the end of its first call."""

    startup_s: float
    decode_only: bool  # the decoder alone was built (False: full build, or the adapter cannot yet)
    record: Mapping[str, Any]  # the process's own startup record (nacbench.startup format)
    peak_reserved_mb: float  # torch's caching allocator, peak
    device_used_mb: float  # the whole device's used memory grown by this process (CUDA context, CTranslate2)

    @classmethod
    def parse(cls, data: Any, where: str) -> Startup:
        if not isinstance(data, Mapping):
            raise GpuFiguresError(f"{where}: expected an object, got {data!r}")
        return cls(
            startup_s=float(_field(data, "startup_s", (int, float), where)),
            decode_only=bool(_field(data, "decode_only", bool, where)),
            record=_field(data, "record", dict, where),
            peak_reserved_mb=_optional_number(data, "peak_reserved_mb", where),
            device_used_mb=_optional_number(data, "device_used_mb", where),
        )


@dataclass(frozen=True)
class CodecFigures:
    """What the check measured of one codec (a missing figure was skipped; the file says why)."""

    name: str
    adapter: str
    options: Mapping[str, Any]
    device: str  # where it computed: "cuda:<GPU>" or "cpu" (Lyra's TFLite runs on the CPU)
    random_weights: bool
    build_s: float
    encode: Mapping[str, Throughput] = field(default_factory=dict)  # by batching mode
    decode: Mapping[str, Throughput] = field(default_factory=dict)
    startup: Mapping[str, Startup] = field(default_factory=dict)  # "full", "decode_only"
    gpu_mem_mb: float = math.nan  # in-process peak (reserved, or the device's growth)

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def job_gpu_mem_mb(self) -> float:
        """Peak GPU memory one job reserves: the in-process figure or a start-up process's, the larger."""
        values = [self.gpu_mem_mb]
        values += [v for s in self.startup.values() for v in (s.peak_reserved_mb, s.device_used_mb)]
        finite = [v for v in values if math.isfinite(v)]
        return max(finite) if finite else math.nan


@dataclass(frozen=True)
class AsrFigures:
    """Whisper through the project's ASR backend on the check's machine."""

    backend: str
    model: str
    device: str
    build_s: float
    throughput: Throughput | None
    startup: Startup | None
    gpu_mem_mb: float = math.nan  # in-process peak (reserved, or the device's growth)

    def job_gpu_mem_mb(self) -> float:
        """Peak GPU memory one ASR job takes: CTranslate2 bypasses torch's allocator, so the device's
        used memory grown by the start-up process is the figure that sees it."""
        values = [self.gpu_mem_mb]
        if self.startup is not None:
            values += [self.startup.peak_reserved_mb, self.startup.device_used_mb]
        finite = [v for v in values if math.isfinite(v)]
        return max(finite) if finite else math.nan


@dataclass(frozen=True)
class GpuFigures:
    """A GPU check's JSON, read and checked (:func:`read_gpu_figures`)."""

    path: str
    machine: Mapping[str, Any]
    quick: bool
    codecs: Mapping[str, CodecFigures]
    asr: AsrFigures | None
    skipped: tuple[str, ...]

    def describe(self) -> str:
        m = self.machine
        gpu = m.get("gpu_name") or "no GPU"
        mem = f", {m['gpu_memory_mb'] / 1024:.0f} GiB" if m.get("gpu_memory_mb") else ""
        return f"{gpu}{mem}, {m.get('cpu_count')} cores, torch {m.get('torch')} (CUDA {m.get('cuda')})"


#: keys of a ``gpu_memory_mb`` object: torch's allocator peaks, and the device's used memory grown by the
#: measured work (the only figure that sees CTranslate2's allocations and the CUDA context)
GPU_MEMORY_KEYS = ("peak_allocated", "peak_reserved", "device_used")


def _job_memory(data: Any, where: str) -> float:
    """The GPU memory one job holds: the larger of the allocator's reserved peak and the device's growth."""
    if data is None:
        return math.nan
    if not isinstance(data, Mapping) or not set(data) <= set(GPU_MEMORY_KEYS):
        raise GpuFiguresError(f"{where}: expected an object with keys among {GPU_MEMORY_KEYS}, got {data!r}")
    values = [_optional_number(data, k, where) for k in ("peak_reserved", "device_used")]
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def _parse_by_batching(data: Any, where: str) -> dict[str, Throughput]:
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not set(data) <= set(BATCHINGS):
        raise GpuFiguresError(f"{where}: expected an object keyed by {BATCHINGS}, got {data!r}")
    return {mode: Throughput.parse(v, f"{where}.{mode}") for mode, v in data.items()}


def parse_codec_figures(name: str, data: Any, where: str) -> CodecFigures:
    if not isinstance(data, Mapping):
        raise GpuFiguresError(f"{where}: expected an object")
    startup = data.get("startup") or {}
    if not isinstance(startup, Mapping) or not set(startup) <= {"full", "decode_only"}:
        raise GpuFiguresError(f"{where}.startup: expected an object keyed by 'full', 'decode_only'")
    return CodecFigures(
        name=name,
        adapter=str(_field(data, "adapter", str, where)),
        options=_field(data, "options", dict, where),
        device=str(_field(data, "device", str, where)),
        random_weights=bool(_field(data, "random_weights", bool, where)),
        build_s=_optional_number(data, "build_s", where),
        encode=_parse_by_batching(data.get("encode"), f"{where}.encode"),
        decode=_parse_by_batching(data.get("decode"), f"{where}.decode"),
        startup={k: Startup.parse(v, f"{where}.startup.{k}") for k, v in startup.items()},
        gpu_mem_mb=_job_memory(data.get("gpu_memory_mb"), f"{where}.gpu_memory_mb"),
    )


def parse_gpu_figures(data: Any, path: str = "<gpu figures>") -> GpuFigures:
    """Check a GPU-figures document and read it; :class:`GpuFiguresError` names what is wrong."""
    if not isinstance(data, Mapping):
        raise GpuFiguresError(f"{path}: not a JSON object")
    if data.get("schema") != GPU_FIGURES_SCHEMA or data.get("version") != GPU_FIGURES_VERSION:
        raise GpuFiguresError(
            f"{path}: schema {data.get('schema')!r} version {data.get('version')!r}; this estimator reads "
            f"{GPU_FIGURES_SCHEMA!r} version {GPU_FIGURES_VERSION} (rerun benchmarks/gpu_check.py)"
        )
    machine = _field(data, "machine", dict, path)
    for key, kinds in (("device", str), ("torch", str), ("cpu_count", int)):
        _field(machine, key, kinds, f"{path}.machine")
    codecs = _field(data, "codecs", dict, path)
    asr = data.get("asr")
    asr_figures = None
    if asr is not None:
        where = f"{path}.asr"
        if not isinstance(asr, Mapping):
            raise GpuFiguresError(f"{where}: expected an object")
        asr_figures = AsrFigures(
            backend=str(_field(asr, "backend", str, where)),
            model=str(_field(asr, "model", str, where)),
            device=str(_field(asr, "device", str, where)),
            build_s=_optional_number(asr, "build_s", where),
            throughput=Throughput.parse(asr["throughput"], f"{where}.throughput")
            if asr.get("throughput")
            else None,
            startup=Startup.parse(asr["startup"], f"{where}.startup") if asr.get("startup") else None,
            gpu_mem_mb=_job_memory(asr.get("gpu_memory_mb"), f"{where}.gpu_memory_mb"),
        )
    skipped = _field(data, "skipped", list, path)
    return GpuFigures(
        path=path,
        machine=machine,
        quick=bool(_field(data, "quick", bool, path)),
        codecs={n: parse_codec_figures(n, v, f"{path}.codecs.{n}") for n, v in codecs.items()},
        asr=asr_figures,
        skipped=tuple(f"{s.get('step')}: {s.get('reason')}" for s in skipped if isinstance(s, Mapping)),
    )


def read_gpu_figures(path: str | Path) -> GpuFigures:
    """The GPU check's JSON at ``path``, checked (:func:`parse_gpu_figures`)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GpuFiguresError(f"{path}: cannot read GPU figures ({exc})") from exc
    return parse_gpu_figures(data, str(path))


# ------------------------------------------------------------------------------------- figures -> models


def _model(
    rule: str,
    codec: str | None,
    overhead_s: float,
    throughput: Throughput | None,
    device: str,
    gpu_mem_mb: float,
    note: str,
    caveats: list[str],
) -> CostModel:
    """A cost model from the check: ``overhead_s`` per job plus ``throughput``'s rate (None: per-job)."""
    rate = throughput.rate if throughput else 0.0
    return CostModel(
        rule=rule,
        codec=codec,
        n_jobs=1,
        method="gpu-figures" if throughput else "per-job",
        overhead_s=overhead_s,
        rate=rate,
        rate_median=rate if throughput else math.nan,
        cpu_rate_median=math.nan,
        max_rss_mb=math.nan,
        rms_residual_s=math.nan,
        wall_median_s=math.nan,
        datasets=(),
        source=GPU_CHECK_SOURCE,
        note=note,
        rate_range=throughput.rate_range if throughput else None,
        device=device,
        gpu_mem_mb=gpu_mem_mb,
        caveats=tuple(caveats),
    )


def _startup_of(figures: CodecFigures, kinds: tuple[str, ...], caveats: list[str]) -> float | None:
    """The first of ``kinds`` the check measured in a fresh process; else the in-process build time
    (a lower bound: imports and the first call excluded), said in ``caveats``."""
    for kind in kinds:
        if kind in figures.startup:
            if kind == "decode_only" and not figures.startup[kind].decode_only:
                caveats.append("start-up of a full build: the adapter cannot build its decoder alone yet")
            return figures.startup[kind].startup_s
    if math.isfinite(figures.build_s):
        caveats.append("start-up not measured in a fresh process: the in-process build time (a lower bound)")
        return figures.build_s
    return None


def _codec_caveats(figures: GpuFigures, cf: CodecFigures, full: Config) -> list[str]:
    out = []
    if figures.quick:
        out.append("GPU check run with --quick (tiny inputs, reduced models): NOT representative")
    if cf.random_weights:
        out.append("random weights (published architecture: compute representative)")
    diffs = option_differences(cf.name, full, {"codecs": {cf.name: cf.options}})
    if diffs:
        out.append("codec options differ: " + "; ".join(diffs))
    return out


def gpu_cost_models(
    figures: GpuFigures,
    gpu_rules: Collection[str],
    full: Config,
    audio: Mapping[str, DatasetAudio],
) -> dict[tuple[str, str | None], CostModel]:
    """Cost models of ``full``'s GPU rules (those of :data:`GPU_RULE_FIGURES` in ``gpu_rules``) from the
    check's figures; a rule x codec the check did not measure has no entry (its CPU model stays).

    encode: full-build start-up + encode rate; decode: decode-only start-up (full build where the
    adapter cannot build its decoder alone) + decode rate; ASR: the ASR start-up + its rate; enc_rtf:
    one job's start-up plus its timed encodes ((repeats + 1 warm-up) x utterances at the Study B
    dataset's mean duration). Rates use the codec's configured batching (``exact`` by default).
    """
    rules = {r: f for r, f in GPU_RULE_FIGURES.items() if r in gpu_rules}
    models: dict[tuple[str, str | None], CostModel] = {}
    note = f"GPU check {figures.path} on {figures.describe()}"
    for codec, options in full["codecs"].items():
        cf = figures.codecs.get(codec)
        if cf is None:
            continue
        batching = str(options.get("batching", "exact"))
        mem = cf.job_gpu_mem_mb()
        for rule, figure in rules.items():
            if figure == "asr":
                continue
            caveats = _codec_caveats(figures, cf, full)
            throughput = (cf.encode if figure == "encode" else cf.decode).get(batching)
            startup = _startup_of(cf, ("decode_only", "full") if rule == "decode" else ("full",), caveats)
            if throughput is None or startup is None:
                continue
            text = f"{note}: batch {throughput.batch_size} ({batching}), {throughput.audio_s_per_s:.0f} audio s/s"
            if rule != "enc_rtf":
                models[(rule, codec)] = _model(
                    rule, codec, startup, throughput, cf.device, mem, text, caveats
                )
                continue
            timed = _enc_rtf_seconds(full, audio, throughput)
            if timed is None:
                caveats.append("its timed encodes are not included (the Study B dataset's audio is unknown)")
            overhead = startup + (timed or 0.0)
            models[(rule, codec)] = _model(rule, codec, overhead, None, cf.device, mem, text, caveats)
    asr = figures.asr
    if asr is not None and asr.throughput is not None:
        startup_s = asr.startup.startup_s if asr.startup else asr.build_s
        if math.isfinite(startup_s):
            caveats = _asr_caveats(figures, asr, full)
            text = f"{note}: {asr.backend} {asr.model} on {asr.device}, {asr.throughput.audio_s_per_s:.0f} audio s/s"
            for rule, figure in rules.items():
                if figure != "asr":
                    continue
                for codec in [None] if rule == "asr_reference" else list(full["codecs"]):
                    models[(rule, codec)] = _model(
                        rule,
                        codec,
                        startup_s,
                        asr.throughput,
                        asr.device,
                        asr.job_gpu_mem_mb(),
                        text,
                        caveats,
                    )
    return models


def _asr_caveats(figures: GpuFigures, asr: AsrFigures, full: Config) -> list[str]:
    out = ["GPU check run with --quick: NOT representative"] if figures.quick else []
    if asr.startup is None:
        out.append("start-up not measured in a fresh process: the in-process build time (a lower bound)")
    want = full["study_b"]["asr"]
    if (asr.backend, asr.model) != (want["backend"], want["model"]):
        out.append(
            f"ASR measured with {asr.backend} {asr.model}, full run uses {want['backend']} {want['model']}: "
            "not representative (a much smaller model is a lower bound)"
        )
    return out


def _enc_rtf_seconds(full: Config, audio: Mapping[str, DatasetAudio], throughput: Throughput) -> float | None:
    """Seconds an enc_rtf job spends encoding: (repeats + 1 warm-up) passes over its utterances."""
    dataset = audio.get(full["study_b"]["dataset"])
    if dataset is None or not dataset.n_utterances:
        return None
    rtf = full["study_b"]["enc_rtf"]
    utterances = min(int(rtf["utterances"]), dataset.n_utterances)
    seconds = utterances * dataset.total_s / dataset.n_utterances
    return (int(rtf["repeats"]) + 1) * seconds * throughput.rate
