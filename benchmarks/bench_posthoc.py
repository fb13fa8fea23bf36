"""Fitting the quantizer swap's post-hoc quantizers: how long it takes on one core.

The issue asks that a 1024-entry k-means on 100k frames of 64-d latents finish in tens of seconds on one
core. This times, with BLAS held to one thread (threadpoolctl), on Gaussian latents with a decaying
spectrum (shaped like a codec latent; speed only, never quality):

1. ``kmeans`` with 2**``--bits`` entries on ``--frames`` x ``--dim`` points (k-means++ seeding plus
   Lloyd's iterations until no assignment changes or the iteration cap);
2. ``PosthocFSQ.fit`` (SVD, reverse water-filling, per-component clipping search) at ``--fsq-bits``;
3. ``PosthocRVQ.fit`` of ``--stages`` stages of 2**4 entries (Lyra's 120-bit layout).

Medians of ``--repeats`` runs (different seeds). Prints a table; ``--out`` writes JSON.

    python benchmarks/bench_posthoc.py --repeats 3 --out bench_posthoc.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from nacbench.posthoc import KMEANS_ITERATIONS, PosthocFSQ, PosthocRVQ, kmeans
from nacbench.seeds import fit_rng


def latents(frames: int, dim: int, seed: int) -> np.ndarray:
    """``[frames, dim]`` Gaussian points with variances 1, 0.9, 0.81, ... along a random rotation."""
    rng = fit_rng(seed, "bench-posthoc-data")
    rotation = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    return (rng.normal(size=(frames, dim)) * np.sqrt(0.9 ** np.arange(dim))) @ rotation.T


def timed(work: Callable[[int], object], repeats: int) -> dict[str, float]:
    seconds = []
    for seed in range(repeats):
        start = time.perf_counter()
        work(seed)
        seconds.append(time.perf_counter() - start)
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--bits", type=int, default=10, help="k-means entries = 2**bits")
    parser.add_argument("--fsq-bits", type=int, default=120)
    parser.add_argument("--stages", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    points = latents(args.frames, args.dim, 0)
    pieces = [points[i : i + 500].T for i in range(0, len(points), 500)]
    results: dict[str, object] = {
        "frames": args.frames,
        "dim": args.dim,
        "entries": 2**args.bits,
        "kmeans_iteration_cap": KMEANS_ITERATIONS,
        "threads": 1,
        "machine": platform.processor() or platform.machine(),
    }
    with threadpool_limits(limits=1):
        results["kmeans"] = timed(
            lambda s: kmeans(points, 2**args.bits, fit_rng(s, "bench-kmeans")), args.repeats
        )
        results["fsq_fit"] = timed(lambda s: PosthocFSQ.fit(pieces, args.fsq_bits), args.repeats)
        results["rvq_fit"] = timed(lambda s: PosthocRVQ.fit(pieces, args.stages, 4, s, "bench"), args.repeats)
    for name in ("kmeans", "fsq_fit", "rvq_fit"):
        r = results[name]
        assert isinstance(r, dict)
        print(
            f"{name:8s} median {r['median_s']:7.2f} s  (min {r['min_s']:.2f}, max {r['max_s']:.2f}, {args.repeats} runs)"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
