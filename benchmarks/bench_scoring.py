"""Scoring throughput: seconds of audio scored per second of wall time, and the pipeline's overhead.

Three ways to score the same (reference, degraded) pairs with STOI, PESQ, SI-SDR and mel-MSE:

* ``library``: the bare calls (``pystoi.stoi``, ``pesq.pesq``, the SI-SDR formula, the mel spectrogram
  function) in a plain loop: the floor any pipeline pays;
* ``serial``: :func:`nacbench.metrics.scoring.score_many` with one process (validation, trimming,
  warning capture, error rows, DataFrame);
* ``pool``: ``score_many`` with one spawned process per core, start-up included (a shard job pays it).

Speech is every 16 kHz utterance in ../shared/corpus (CMU-Arctic wav, LibriSpeech flac); the degraded
copy adds white noise at 20 dB SNR (fixed seed). Prints a table; ``--out`` writes the numbers as JSON.
The pool pays a fixed start-up (spawned interpreters importing numpy/scipy/librosa, ~1-2 s), so it
only wins on shard-sized inputs: ``--copies`` scores the same pairs several times to get there.

``--mos`` times the opt-in reference-free metrics instead (and nothing else): per utterance, through
the registry as the score stage calls them, on the degraded copies cut to ``--mos-seconds`` (shorter
utterances are left out; 0 keeps every utterance whole): the three DNSMOS scores together (one network
pass, the three metrics' cost when all are configured) and PLCMOS, each on one core, plus the one-off
model loading.

    python benchmarks/bench_scoring.py --repeats 3 --copies 4 --out bench_scoring.json
    python benchmarks/bench_scoring.py --mos --mos-seconds 5 --limit 5 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pesq import pesq
from pystoi import stoi

from nacbench.audio import SCORING_RATE, read_audio
from nacbench.metrics.melmse import mel_spectrogram
from nacbench.metrics.scoring import score_many

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
METRIC_PARAMS: dict[str, dict] = {"stoi": {}, "pesq": {}, "si_sdr": {}, "mel_mse": {}}


def load_pairs(shared: Path, snr_db: float, limit: int | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Real speech plus a noisy copy at ``snr_db``; utt_id is the file's path under corpus/."""
    corpus = shared / "corpus"
    files = sorted([*corpus.rglob("*.wav"), *corpus.rglob("*.flac")])[:limit]
    if not files:
        raise SystemExit(f"no audio under {corpus}: this benchmark needs ../shared beside the checkout")
    rng = np.random.default_rng(0)
    pairs = []
    for path in files:
        ref = read_audio(path, expected_rate=SCORING_RATE)
        noise = rng.standard_normal(len(ref)).astype(np.float32)
        gain = np.sqrt(np.mean(ref**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
        pairs.append((str(path.relative_to(corpus)), ref, ref + gain * noise))
    return pairs


def _sisdr(ref: np.ndarray, deg: np.ndarray) -> float:
    ref = ref - ref.mean()
    deg = deg - deg.mean()
    target = (deg @ ref) / (ref @ ref) * ref
    return float(10 * np.log10((target @ target) / ((deg - target) @ (deg - target))))


def _mel_mse(ref: np.ndarray, deg: np.ndarray) -> float:
    a, b = (np.log10(np.maximum(mel_spectrogram(s, SCORING_RATE), 1e-5)) for s in (ref, deg))
    return float(np.mean((a - b) ** 2))


LIBRARY_CALLS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "stoi": lambda r, d: stoi(r, d, SCORING_RATE),
    "pesq": lambda r, d: pesq(SCORING_RATE, r, d, "wb"),
    "si_sdr": _sisdr,
    "mel_mse": _mel_mse,
}


def time_library(pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Seconds spent in each bare metric call over all pairs (float64 inputs, as the pipeline uses)."""
    spent = dict.fromkeys(LIBRARY_CALLS, 0.0)
    for _, ref, deg in pairs:
        ref64, deg64 = ref.astype(np.float64), deg.astype(np.float64)
        for name, call in LIBRARY_CALLS.items():
            start = time.perf_counter()
            call(ref64, deg64)
            spent[name] += time.perf_counter() - start
    return spent


def time_mos(
    pairs: list[tuple[str, np.ndarray, np.ndarray]], seconds: float, repeats: int
) -> dict[str, object]:
    """Seconds per utterance of the reference-free metrics (median over utterances and repeats)."""
    from nacbench.metrics import METRICS, dnsmos, plcmos
    from nacbench.metrics.speechmos_models import onnx_session

    start = time.perf_counter()
    for model in (dnsmos.MODEL, plcmos.MODEL):
        onnx_session(model)
    load_s = time.perf_counter() - start
    length = int(seconds * SCORING_RATE)
    clips = [deg[:length].astype(np.float64) for _, _, deg in pairs if not length or len(deg) >= length]
    if not clips:
        raise SystemExit(f"no utterance of at least {seconds} s")
    groups = {"dnsmos": dnsmos.DNSMOS_METRICS, "plcmos": ("plcmos",)}
    spent: dict[str, list[float]] = {group: [] for group in groups}
    for _ in range(repeats):
        for clip in clips:
            dnsmos._recent.clear()  # a repeat must run the network again
            for group, names in groups.items():
                start = time.perf_counter()
                for name in names:
                    METRICS[name].compute(clip, clip, SCORING_RATE)
                spent[group].append(time.perf_counter() - start)
    audio_s = [len(clip) / SCORING_RATE for clip in clips]
    return {
        "n_utterances": len(clips),
        "seconds_per_utterance": {"min": min(audio_s), "max": max(audio_s)},
        "dnsmos_windows": sorted({len(dnsmos.windows(clip)) for clip in clips}),
        "model_load_s": load_s,
        "median_s_per_utterance": {name: statistics.median(t) for name, t in spent.items()},
        "max_s_per_utterance": {name: max(t) for name, t in spent.items()},
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="pool size (default: all cores)"
    )
    parser.add_argument("--snr-db", type=float, default=20.0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N utterances")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="score every pair N times (a shard-sized job amortises pool start-up)",
    )
    parser.add_argument(
        "--mos", action="store_true", help="time only the reference-free metrics (DNSMOS, PLCMOS)"
    )
    parser.add_argument(
        "--mos-seconds", type=float, default=5.0, help="with --mos: cut utterances to this length (0: whole)"
    )
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    pairs = [
        (f"{utt}#{k}", ref, deg)
        for k in range(args.copies)
        for utt, ref, deg in load_pairs(args.shared, args.snr_db, args.limit)
    ]
    if args.mos:
        mos = time_mos(pairs, args.mos_seconds, args.repeats)
        print(json.dumps(mos, indent=2))
        if args.out:
            args.out.write_text(json.dumps(mos, indent=2) + "\n")
        return
    audio_s = sum(len(ref) for _, ref, _ in pairs) / SCORING_RATE
    # the three modes alternate within each repeat, so load from other processes hits them alike
    library_runs: list[dict[str, float]] = []
    runs: dict[str, list[float]] = {"library": [], "serial": [], "pool": []}
    for _ in range(args.repeats):
        library_runs.append(time_library(pairs))
        runs["library"].append(sum(library_runs[-1].values()))
        runs["serial"].append(timed(lambda: score_many(pairs, METRIC_PARAMS, processes=1)))
        runs["pool"].append(timed(lambda: score_many(pairs, METRIC_PARAMS, processes=args.processes)))
    median = {name: statistics.median(times) for name, times in runs.items()}
    result = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "processor": platform.processor(),
            "python": platform.python_version(),
        },
        "n_utterances": len(pairs),
        "copies": args.copies,
        "audio_s": audio_s,
        "repeats": args.repeats,
        "processes": args.processes,
        "seconds": runs,
        "median_s": median,
        "audio_s_per_s": {name: audio_s / t for name, t in median.items()},
        "library_median_s_by_metric": {
            name: statistics.median(r[name] for r in library_runs) for name in LIBRARY_CALLS
        },
        "ratios": {
            "serial_over_library": median["serial"] / median["library"],
            "pool_speedup_over_serial": median["serial"] / median["pool"],
        },
    }
    print(
        f"{len(pairs)} utterances, {audio_s:.1f} s of audio, {args.repeats} repeats, pool of {args.processes}"
    )
    for name in runs:
        print(
            f"  {name:8s} median {median[name]:7.3f} s  ->  {result['audio_s_per_s'][name]:7.1f} s audio / s"
        )
    print(
        "  library time by metric:", {k: round(v, 3) for k, v in result["library_median_s_by_metric"].items()}
    )
    print("  ratios:", {k: round(v, 3) for k, v in result["ratios"].items()})
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
