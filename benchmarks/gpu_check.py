"""The GPU machine's figures for the full-run estimate, measured in a few minutes with no network.

The full paper run (~1800 jobs with one seed) is estimated from a measured run on a CPU machine; its GPU rules
(encode, decode, ASR, encRTF) need figures from the GPU they will run on. A GPU machine is lent for
minutes, so this script measures exactly what the estimator (``nacbench.costs.gpu``) reads, within a
hard time budget, from the repository and ``../shared`` alone:

- per codec: CUDA encode and decode throughput (audio seconds per second) at the adapter's batch size,
  under the pipeline's ``exact`` batching and under ``padded`` batching (warm-up excluded, CUDA
  synchronised: :func:`nacbench.timing.time_repeats`), whether the two give the same codes and audio
  (max abs difference), and the job's peak GPU memory (torch's allocated and reserved peaks);
- per codec: the start-up of a job on the GPU, in a fresh process (interpreter, imports, decode-only
  build where the adapter has one, first decode; and imports, full build, first encode), with the
  process's own startup record (:mod:`nacbench.startup`);
- Whisper through the project's ASR backend (faster-whisper, the CTranslate2 tiny.en in ../shared):
  throughput, start-up and the device memory it takes.

The paper's codecs are built at full size with RANDOM weights (the published architectures, as
``configs/offline.yaml`` builds them but with NeuCodec's full 24-layer semantic encoder): compute cost
is representative, the audio is not. Lyra v2 (real weights, TFLite) computes on the CPU even here,
which the JSON says (``device: cpu``). StableCodec needs its own environment and is skipped, saying so.

Every step first checks the time left (``--budget-s``) and is recorded as skipped, with the reason,
when it would not fit; the JSON is rewritten after every step, so a run killed by the shell's timeout
still leaves what it measured. The format is ``nacbench.costs.gpu`` (schema ``nacbench.gpu_check``).

    bash benchmarks/gpu_check.sh                                     # the lent GPU machine (<= 8 min)
    python benchmarks/gpu_check.py --out results/gpu_check.json      # the same, without the wrapper
    python benchmarks/gpu_check.py --device cpu --quick --out /tmp/gpu_check.json   # smoke run (tests)
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

if TYPE_CHECKING:
    from nacbench.codecs.base import CodecAdapter

REPO = Path(__file__).resolve().parents[1]
#: codec -> rough seconds to build it on the GPU machine, before it was ever built here (decides
#: whether a build fits the budget; a measured build time replaces it for the start-up probes)
BUILD_PRIOR_S = {"neucodec": 60.0, "dac": 10.0, "encodec": 10.0, "lyra": 5.0}
#: seconds a fresh process spends importing torch and the package, before it builds anything
PROBE_IMPORT_PRIOR_S = 15.0
#: kept free at the end of the budget for writing the JSON and exiting
RESERVE_S = 5.0
#: Whisper model the check runs (../shared: the only Whisper weights available offline)
WHISPER_DIR = "models/whisper-tiny.en-ct2"


# ------------------------------------------------------------------------------------------ the budget


@dataclass(frozen=True)
class Settings:
    device: str
    quick: bool
    repeats: int
    warmup: int
    utterances: int
    crop_s: float | None  # --quick: every utterance cut to this length
    shared: Path

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "quick": self.quick,
            "repeats": self.repeats,
            "warmup": self.warmup,
            "utterances": self.utterances,
            "crop_s": self.crop_s,
            "shared": str(self.shared),
        }


@dataclass
class Budget:
    """Seconds left of a hard limit; a step that would not fit is skipped (and recorded), never cut."""

    total_s: float
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return self.total_s - self.elapsed() - RESERVE_S

    def fits(self, need_s: float) -> bool:
        return self.left() >= need_s


@dataclass
class Check:
    """The JSON being built, written after every step (atomically: a kill leaves the last whole one)."""

    out: Path
    budget: Budget
    settings: Settings
    doc: dict[str, Any]

    def save(self) -> None:
        from nacbench.artifacts import write_json
        from nacbench.costs.report import json_safe

        self.doc["elapsed_s"] = round(self.budget.elapsed(), 2)
        write_json(json_safe(self.doc), self.out)

    def skip(self, step: str, reason: str) -> None:
        print(f"[gpu_check] SKIP {step}: {reason}", flush=True)
        self.doc["skipped"].append({"step": step, "reason": reason})
        self.save()

    def fail(self, step: str, exc: BaseException) -> None:
        print(f"[gpu_check] ERROR {step}: {type(exc).__name__}: {exc}", flush=True)
        tail = "".join(traceback.format_exception(exc)[-3:])
        self.doc["errors"].append({"step": step, "error": f"{type(exc).__name__}: {exc}", "traceback": tail})
        self.doc["skipped"].append({"step": step, "reason": f"failed: {type(exc).__name__}: {exc}"})
        self.save()

    def fits(self, step: str, need_s: float) -> bool:
        """Whether ``step`` (about ``need_s`` seconds) fits; if not, record it as skipped."""
        if self.budget.fits(need_s):
            print(f"[gpu_check] {step} (~{need_s:.0f} s; {self.budget.left():.0f} s left)", flush=True)
            return True
        self.skip(step, f"needs ~{need_s:.0f} s, {max(0.0, self.budget.left()):.0f} s left of the budget")
        return False


# ------------------------------------------------------------------------------------------- settings


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def codec_options(name: str, settings: Settings) -> dict[str, Any] | str:
    """The options the check builds codec ``name`` with, or why it cannot build it here.

    The full configuration's entry (``config.yaml``; Lyra from ``configs/offline.yaml``) with random
    weights for the paper's codecs (no hub) and the shared Lyra model; NeuCodec keeps its full semantic
    encoder except under ``--quick`` (2 layers; Distill-NeuCodec 1), where only the schema matters.
    """
    entry = load_yaml(REPO / "config.yaml")["codecs"].get(name)
    if entry is None:
        entry = load_yaml(REPO / "configs" / "offline.yaml")["codecs"].get(name)
    if entry is None or "adapter" not in entry:
        return f"codec {name!r} has no adapter entry in config.yaml or configs/offline.yaml"
    options = dict(entry)
    if options.get("conda_env"):
        return f"runs in its own environment ({options['conda_env']}): not buildable in this .venv"
    if options["adapter"] == "lyra":
        options["model_dir"] = str(settings.shared / "models" / "lyra-v2")
    elif options["adapter"] in ("neucodec", "dac", "encodec", "stablecodec"):
        options["random_weights"] = True
        if settings.quick and options["adapter"] == "neucodec":
            options["random_semantic_layers"] = 1 if options.get("variant") == "distill" else 2
    return options


def default_codecs() -> list[str]:
    """The full configuration's Study A codecs, then Lyra (the real-weights codec of the offline run)."""
    config = load_yaml(REPO / "config.yaml")
    return list(dict.fromkeys([*config["study_a"]["codecs"], "lyra"]))


# ------------------------------------------------------------------------------------------- the audio


def speech_inputs(settings: Settings) -> tuple[list[np.ndarray], str]:
    """Real 16 kHz speech from ../shared (LibriSpeech, then CMU-Arctic), or noise under a syllable-rate
    envelope when the corpus is not there; ``--quick`` crops every utterance (two of equal length, so
    exact batching still forms a real batch)."""
    from nacbench.audio import read_audio

    corpus = settings.shared / "corpus"
    paths = sorted((corpus / "LibriSpeech").rglob("*.flac")) + sorted((corpus / "cmu_arctic").rglob("*.wav"))
    paths = paths[: settings.utterances]
    if paths:
        wavs, source = [read_audio(p) for p in paths], f"{len(paths)} utterances from {corpus}"
    else:
        rng = np.random.default_rng(0)
        wavs = [_speechlike(rng, int(16_000 * (3 + i % 5))) for i in range(settings.utterances)]
        source = f"{settings.utterances} synthetic speech-like signals (no corpus at {corpus})"
    if settings.crop_s is not None:
        n = int(settings.crop_s * 16_000)
        wavs = [np.resize(w, n if i < 2 else n // 2 * 3) for i, w in enumerate(wavs)]
    return wavs, source


def _speechlike(rng: np.random.Generator, n: int, rate: int = 16_000) -> np.ndarray:
    t = np.arange(n) / rate
    envelope = 0.05 + 0.2 * np.abs(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, np.pi)))
    return (envelope * rng.standard_normal(n)).astype(np.float32)


def random_codes(shapes: Sequence[tuple[int, int]], sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """Codes of the given ``[codebooks, frames]`` shapes, uniform in each codebook: random-weight
    encoders give degenerate codes (all mid-grid, all zero), and the decoder's cost and its padding
    behaviour show only on varied indices."""
    rng = np.random.default_rng(seed)
    high = np.asarray(sizes, dtype=np.int64)[:, None]
    return [(rng.random(shape) * high).astype(np.int64) for shape in shapes]


# -------------------------------------------------------------------------------------------- GPU bits


def torch_device(device: str) -> Any:
    from nacbench.codecs.torchutil import resolve_device

    return resolve_device(device)


def free_gpu() -> None:
    """Drop what the previous measurement left, so the next one's peaks are its own."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def device_used_mb() -> float:
    """Used memory of the whole GPU (every process, CTranslate2 included), MiB; NaN without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return math.nan
    free, total = torch.cuda.mem_get_info()
    return (total - free) / 2**20


def torch_peaks() -> dict[str, float]:
    import torch

    if not torch.cuda.is_available():
        return {}
    return {
        "peak_allocated": torch.cuda.max_memory_allocated() / 2**20,
        "peak_reserved": torch.cuda.max_memory_reserved() / 2**20,
    }


def throughput(
    call: Callable[[], object],
    device: Any,
    audio_s: float,
    batch_size: int,
    batching: str,
    n: int,
    settings: Settings,
    budget_s: float,
) -> dict[str, Any]:
    """Time ``call`` (:func:`nacbench.timing.time_repeats`) and describe it in the figures' format."""
    from nacbench.timing import time_repeats

    seconds = time_repeats(call, device, settings.repeats, settings.warmup, budget_s=budget_s)
    return {
        "audio_s": audio_s,
        "seconds": seconds,
        "batch_size": batch_size,
        "batching": batching,
        "n_utterances": n,
        "warmup": settings.warmup,
        "audio_s_per_s": audio_s / float(np.median(seconds)),
    }


# ---------------------------------------------------------------------------------------- one codec


def compare_outputs(exact: Sequence[np.ndarray], padded: Sequence[np.ndarray]) -> dict[str, Any]:
    """Are two runs' per-utterance outputs the same: shapes, exact equality, fraction equal, max diff."""
    same_shape = all(a.shape == b.shape for a, b in zip(exact, padded, strict=True))
    out: dict[str, Any] = {"shapes_equal": same_shape}
    if not same_shape:
        return out | {"equal": False}
    a = np.concatenate([x.ravel() for x in exact]).astype(np.float64)
    b = np.concatenate([x.ravel() for x in padded]).astype(np.float64)
    diff = np.abs(a - b)
    return out | {
        "equal": bool((diff == 0).all()),
        "fraction_equal": float((diff == 0).mean()) if diff.size else 1.0,
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
    }


def measure_codec(check: Check, name: str, options: Mapping[str, Any], wavs16k: list[np.ndarray]) -> None:
    """Build ``name`` in this process and time its encode and decode under both batching modes."""
    from nacbench.codecs.torchutil import device_label
    from nacbench.stages import load_codec
    from nacbench.timing import adapter_device, synchronize

    settings = check.settings
    adapter = str(options["adapter"])
    entry: dict[str, Any] = {
        "adapter": adapter,
        "options": dict(options),
        "random_weights": bool(options.get("random_weights")),
    }
    prior = BUILD_PRIOR_S.get(adapter, 30.0) / (5 if settings.quick else 1)
    if not check.fits(f"{name}/build", prior):
        return
    free_gpu()
    start = time.perf_counter()
    codec = load_codec(name, options, settings.device)
    device = adapter_device(codec)
    synchronize(device)
    entry |= {"build_s": time.perf_counter() - start, "device": device_label(device)}
    check.doc["codecs"][name] = entry
    check.save()
    time_codec(check, name, entry, codec, options, wavs16k)


def time_codec(
    check: Check,
    name: str,
    entry: dict[str, Any],
    codec: CodecAdapter,
    options: Mapping[str, Any],
    wavs16k: list[np.ndarray],
) -> None:
    """Encode and decode throughput under each batching mode, their equality, and the peak memory."""
    from nacbench.audio import SCORING_RATE, resample
    from nacbench.codecs.torchutil import BatchedTorchAdapter
    from nacbench.timing import adapter_device

    settings = check.settings
    device = adapter_device(codec)
    rate = codec.info.input_sample_rate
    wavs = [resample(w, SCORING_RATE, rate) for w in wavs16k]
    audio_s = sum(len(w) for w in wavs) / rate
    batched = isinstance(codec, BatchedTorchAdapter)
    configured = str(options.get("batching", "exact"))
    modes = [configured, *(m for m in ("exact", "padded") if m != configured)] if batched else [configured]
    batch_size = int(getattr(codec, "batch_size", 1))
    outputs: dict[tuple[str, str], list[np.ndarray]] = {}
    sizes = codec.info.codebook_sizes
    codes_in: list[np.ndarray] | None = None
    for op in ("encode", "decode"):
        per_call = max(0.5, entry["build_s"] / 10)  # before anything ran: a guess from the build
        for mode in modes:
            step = f"{name}/{op}/{mode}"
            if not check.fits(step, per_call * (settings.repeats + settings.warmup)):
                continue
            if batched:
                codec.batching = mode  # type: ignore[attr-defined]  # BatchedTorchAdapter's policy
            if op == "decode" and codes_in is None:
                check.skip(step, "no codes: encoding did not run")
                continue

            def call(op: str = op, mode: str = mode, codes: list[np.ndarray] = codes_in or []) -> None:
                outputs[(op, mode)] = codec.encode(wavs) if op == "encode" else codec.decode(codes)

            try:
                share = max(1.0, check.budget.left() / 6)
                entry.setdefault(op, {})[mode] = throughput(
                    call, device, audio_s, batch_size, mode, len(wavs), settings, share
                )
            except Exception as exc:  # a codec that fails on the GPU is a finding, not a crash
                check.fail(step, exc)
                continue
            per_call = max(entry[op][mode]["seconds"])  # the next mode's calls cost about the same
            if op == "encode" and codes_in is None:
                codes_in = random_codes([c.shape for c in outputs[(op, mode)]], sizes)
            check.save()
    if batched and all((op, m) in outputs for op in ("encode", "decode") for m in ("exact", "padded")):
        codes = compare_outputs(outputs[("encode", "exact")], outputs[("encode", "padded")])
        codes["distinct_codes"] = int(
            len(np.unique(np.concatenate([c.ravel() for c in outputs[("encode", "exact")]])))
        )
        entry["batching_equal"] = {
            "applicable": True,
            "codes": codes,
            "audio": compare_outputs(outputs[("decode", "exact")], outputs[("decode", "padded")]),
            "note": "codes from the speech inputs (random-weight encoders may give few distinct codes: "
            "see distinct_codes); audio decoded from random codes",
        }
    elif not batched:
        entry["batching_equal"] = {"applicable": False, "note": "the adapter codes one utterance at a time"}
    entry["gpu_memory_mb"] = torch_peaks() or None
    if device.type != "cuda":
        entry["gpu_memory_mb"] = None
    check.save()


# ------------------------------------------------------------------------------------ start-up probes


def probe(args: argparse.Namespace) -> int:
    """A fresh job process: imports, build, first call; its startup record on stdout (one JSON line).

    Runs as ``gpu_check.py --probe`` so that the parent times a process that starts cold, as a
    Snakemake job does; the heavy imports happen here, inside the ``imports`` phase.
    """
    from nacbench.startup import phase, recording

    options = json.loads(args.probe_options)
    with recording(None) as record:
        with phase("imports"):
            import torch

            from nacbench.stages import load_codec
            from nacbench.timing import adapter_device, synchronize
        before = device_used_mb()
        decode_only = False
        if args.probe == "asr":
            from nacbench.asr.backends import make_transcriber

            with phase("construct"):
                model: Any = make_transcriber(options)
            with phase("work"):
                model.transcribe([_speechlike(np.random.default_rng(0), int(16_000 * args.probe_seconds))])
        else:
            with phase("construct"):
                if args.probe_mode == "decode_only":
                    try:
                        model = load_codec(args.probe, options, args.device, decode_only=True)
                        decode_only = True
                    except (TypeError, ValueError) as exc:  # an adapter without a decoder-only build yet
                        if "decode_only" not in str(exc):
                            raise
                        model = load_codec(args.probe, options, args.device)
                else:
                    model = load_codec(args.probe, options, args.device)
            device = adapter_device(model)
            with phase("device"):
                synchronize(device)
            with phase("work"):
                rate = model.info.input_sample_rate
                if args.probe_mode == "decode_only":
                    frames = max(1, int(args.probe_seconds * model.info.frame_rate))
                    model.decode(random_codes([(model.info.n_codebooks, frames)], model.info.codebook_sizes))
                else:
                    model.encode(
                        [_speechlike(np.random.default_rng(0), int(rate * args.probe_seconds), rate)]
                    )
                synchronize(device)
        data = record.to_json()
    peaks = torch_peaks()
    out = {
        "record": data,
        "decode_only": decode_only,
        "peak_allocated_mb": peaks.get("peak_allocated"),
        "peak_reserved_mb": peaks.get("peak_reserved"),
        "device_used_mb": device_used_mb() - before if torch.cuda.is_available() else None,
    }
    print(json.dumps(out, default=str))
    return 0


def measure_startup(
    check: Check, step: str, target: str, mode: str, options: Mapping[str, Any], build_s: float
) -> dict[str, Any] | None:
    """Run one probe process (:func:`probe`) if it fits; its figures, or None (recorded why)."""
    settings = check.settings
    need = PROBE_IMPORT_PRIOR_S / (3 if settings.quick else 1) + 1.5 * build_s
    if not check.fits(step, need):
        return None
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--probe",
        target,
        "--probe-mode",
        mode,
        "--probe-options",
        json.dumps(dict(options)),
        "--device",
        settings.device,
        "--probe-seconds",
        str(0.5 if settings.quick else 4.0),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=max(5.0, check.budget.left())
        )
    except subprocess.TimeoutExpired:
        check.skip(
            step, f"the probe did not finish in the {time.perf_counter() - start:.0f} s left of the budget"
        )
        return None
    wall = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        check.fail(step, RuntimeError(f"probe exited {proc.returncode}: {proc.stderr[-1500:]}"))
        return None
    found = json.loads(lines[-1])
    return {
        "startup_s": found["record"]["wall_s"],
        "process_wall_s": wall,
        "first_call_s": found["record"]["phases"]["work"],
        **found,
    }


# ----------------------------------------------------------------------------------------------- ASR


def asr_options(settings: Settings) -> dict[str, Any]:
    """faster-whisper on the shared CTranslate2 tiny.en; batched on a GPU (the backend's GPU path)."""
    cuda = settings.device != "cpu" and torch_device(settings.device).type == "cuda"
    return {
        "backend": "faster-whisper",
        "model": str(settings.shared / WHISPER_DIR),
        "device": "cuda" if cuda else "cpu",
        "batch_size": 8 if cuda else 1,
    }


def measure_asr(check: Check, wavs16k: list[np.ndarray]) -> dict[str, Any] | None:
    """Whisper's throughput and memory in this process (falls back to the CPU if CTranslate2's CUDA
    libraries fail, and says so)."""
    import torch

    from nacbench.asr.backends import make_transcriber

    settings = check.settings
    options = asr_options(settings)
    if not Path(options["model"]).is_dir():
        check.skip("asr", f"no Whisper model at {options['model']}")
        return None
    if not check.fits("asr/build", 10.0):
        return None
    free_gpu()
    before = device_used_mb()
    start = time.perf_counter()
    try:
        transcriber = make_transcriber(options)
    except Exception as exc:  # CTranslate2 without its CUDA libraries: measure on the CPU, say so
        if options["device"] == "cpu":
            raise
        check.fail("asr/build (cuda)", exc)
        options |= {"device": "cpu", "batch_size": 1}
        start = time.perf_counter()
        transcriber = make_transcriber(options)
    entry: dict[str, Any] = {
        "backend": options["backend"],
        "model": options["model"],
        "device": options["device"],
        "options": options,
        "model_id": transcriber.model_id,
        "build_s": time.perf_counter() - start,
    }
    check.doc["asr"] = entry
    audio_s = sum(len(w) for w in wavs16k) / 16_000
    if check.fits("asr/throughput", max(5.0, entry["build_s"])):
        share = max(1.0, check.budget.left() / 4)
        entry["throughput"] = throughput(
            lambda: transcriber.transcribe(wavs16k),
            torch.device("cpu"),  # CTranslate2 returns on the host: nothing to synchronise
            audio_s,
            int(options["batch_size"]),
            "batched" if options["batch_size"] > 1 else "sequential",
            len(wavs16k),
            settings,
            share,
        )
    if options["device"] == "cuda":
        entry["gpu_memory_mb"] = {"device_used": device_used_mb() - before}
    check.save()
    return options


# ---------------------------------------------------------------------------------------- the program


def machine(device: str) -> dict[str, Any]:
    """The machine's description (:func:`nacbench.timing.host_facts`) plus the device the check ran on."""
    from nacbench.timing import host_facts

    facts = host_facts()
    driver = None
    try:
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        done = subprocess.run(query, capture_output=True, text=True, timeout=10)
        driver = done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"device": torch_device(device).type, "driver": driver, **facts}


def run(args: argparse.Namespace) -> int:
    from nacbench.costs.gpu import GPU_FIGURES_SCHEMA, GPU_FIGURES_VERSION

    budget = Budget(args.budget_s)
    settings = Settings(
        device=args.device,
        quick=args.quick,
        repeats=1 if args.quick else args.repeats,
        warmup=1,
        utterances=3 if args.quick else args.utterances,
        crop_s=0.5 if args.quick else None,
        shared=args.shared.resolve(),
    )
    doc: dict[str, Any] = {
        "schema": GPU_FIGURES_SCHEMA,
        "version": GPU_FIGURES_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": settings.quick,
        "budget_s": args.budget_s,
        "settings": settings.to_json(),
        "machine": machine(args.device),
        "codecs": {},
        "asr": None,
        "skipped": [],
        "errors": [],
        "complete": False,
    }
    check = Check(args.out, budget, settings, doc)
    check.save()
    print(f"[gpu_check] machine: {json.dumps(doc['machine'])}", flush=True)
    wavs, source = speech_inputs(settings)
    doc["settings"] |= {"inputs": source, "input_audio_s": sum(len(w) for w in wavs) / 16_000}

    names = args.codecs or default_codecs()
    options: dict[str, dict[str, Any]] = {}
    for name in names:
        found = codec_options(name, settings)
        if isinstance(found, str):
            check.skip(name, found)
            continue
        options[name] = found
        try:
            measure_codec(check, name, found, wavs)
        except Exception as exc:  # one codec's failure must not cost the others their figures
            check.fail(f"{name}/build", exc)
        free_gpu()  # the codec went with measure_codec's frame: its memory goes back now
    asr = None
    if not args.no_asr:
        try:
            asr = measure_asr(check, wavs)
        except Exception as exc:
            check.fail("asr", exc)
        free_gpu()
    for name, opts in options.items():
        entry = doc["codecs"].get(name)
        if entry is None:
            continue  # never built: its skip says why
        for mode in ("decode_only", "full"):
            found_startup = measure_startup(
                check, f"{name}/startup/{mode}", name, mode, opts, entry["build_s"]
            )
            if found_startup is not None:
                entry.setdefault("startup", {})[mode] = found_startup
                check.save()
    if asr is not None and doc["asr"] is not None:
        found_startup = measure_startup(check, "asr/startup", "asr", "full", asr, doc["asr"]["build_s"])
        if found_startup is not None:
            doc["asr"]["startup"] = found_startup
    doc["complete"] = not doc["skipped"] and not doc["errors"]
    check.save()
    print(
        f"[gpu_check] wrote {args.out} in {budget.elapsed():.0f} s ({len(doc['skipped'])} skipped)",
        flush=True,
    )
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "gpu_check.json", help="the JSON to write"
    )
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu (the smoke run)")
    parser.add_argument(
        "--budget-s", type=float, default=420.0, help="hard time budget in seconds (default 420)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny inputs, reduced NeuCodec, one repeat (tests)"
    )
    parser.add_argument(
        "--codecs",
        type=lambda s: [c for c in s.split(",") if c],
        default=None,
        help="comma-separated codec names (default: config.yaml's Study A codecs + lyra)",
    )
    parser.add_argument("--no-asr", action="store_true", help="skip the Whisper figures")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per measurement (default 3)")
    parser.add_argument("--utterances", type=int, default=16, help="utterances timed per call (default 16)")
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("NACBENCH_SHARED", REPO.parent / "shared")),
        help="the shared data and models (default ../shared or $NACBENCH_SHARED)",
    )
    # a start-up probe: this script run as a fresh job process (see probe())
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--probe-mode", default="full", choices=("full", "decode_only"), help=argparse.SUPPRESS
    )
    parser.add_argument("--probe-options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--probe-seconds", type=float, default=4.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe is not None:
        return probe(args)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
