"""Channel throughput and the switching algorithm's running time.

1. ``transmit`` (one vectorised bit stream per shard) against a straightforward per-code Python channel
   (int -> binary string -> flip each bit with ``random() < p`` -> int), on ``--minutes`` of 75 Hz x 6
   codebooks x 10-bit codes split into 10-second utterances. Throughput is transmitted bits per second
   of wall time, the median of ``--repeats`` runs; the ratio is vectorised over reference.
2. One channel condition as the pipeline pays for it: ``stages.transmit_shard`` file to file (read a
   codes shard of ``--condition-s`` seconds of those codes, transmit, write the received shard) inside a
   running process, as the decode job runs it, against the same call in a fresh interpreter (a channel
   job of its own: interpreter start, the package's imports, the work), medians of ``--repeats``.
3. ``binary_switching`` on a random 1024-entry, 10-bit codebook of dimension ``--bsa-dim`` with
   Dirichlet usage, from a seeded random start and from the natural start (``make_labelling`` runs
   both), with BLAS held to one thread: the issue asks for "seconds on one core".

The codes are random integers: this measures speed only, never quality. Prints a table; ``--out``
writes the numbers as JSON.

    python benchmarks/bench_channel.py --repeats 5 --out bench_channel.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from nacbench.artifacts import CodeShard, save_shard
from nacbench.channel import transmit
from nacbench.codecs.base import CodecInfo
from nacbench.conditions import ChannelSpec
from nacbench.labelling import binary_switching
from nacbench.seeds import derive_rng

FRAME_RATE = 75
N_CODEBOOKS = 6
BITS = 10


def make_codes(minutes: float, utterance_s: float, seed: int) -> list[np.ndarray]:
    """Random [6, T] code arrays of 10-bit indices: ``minutes`` of audio in ``utterance_s`` pieces."""
    rng = np.random.default_rng(seed)
    frames_total = int(round(minutes * 60 * FRAME_RATE))
    per_utt = int(round(utterance_s * FRAME_RATE))
    lengths = [per_utt] * (frames_total // per_utt) + (
        [frames_total % per_utt] if frames_total % per_utt else []
    )
    return [rng.integers(0, 2**BITS, (N_CODEBOOKS, t)) for t in lengths]


def reference_channel(codes_list: list[np.ndarray], p: float, seed: int) -> list[np.ndarray]:
    """The per-code Python loop a first implementation would write (same bit order, same BSC)."""
    rnd = random.Random(seed)
    out = []
    for codes in codes_list:
        received = np.empty_like(codes)
        for t in range(codes.shape[1]):
            for k in range(codes.shape[0]):
                word = format(int(codes[k, t]), f"0{BITS}b")
                flipped = "".join(("1" if b == "0" else "0") if rnd.random() < p else b for b in word)
                received[k, t] = int(flipped, 2)
        out.append(received)
    return out


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_transmit(args: argparse.Namespace) -> list[dict]:
    codes = make_codes(args.minutes, args.utterance_s, args.seed)
    n_bits = sum(c.size for c in codes) * BITS
    rows = []
    for p in args.p:
        spec = ChannelSpec("bsc", p, args.seed)
        fast = median_seconds(
            lambda spec=spec: transmit(
                codes, [2**BITS] * N_CODEBOOKS, spec, derive_rng(args.seed, "bench", spec.p_flip)
            ),
            args.repeats,
        )
        slow = median_seconds(lambda p=p: reference_channel(codes, p, args.seed), args.reference_repeats)
        rows.append(
            {
                "p_flip": p,
                "bits": n_bits,
                "vectorised_s": fast,
                "reference_s": slow,
                "vectorised_bits_per_s": n_bits / fast,
                "reference_bits_per_s": n_bits / slow,
                "speedup": slow / fast,
            }
        )
    ge = ChannelSpec("ge", args.p[0], args.seed, burst_length=8)
    ge_s = median_seconds(
        lambda: transmit(codes, [2**BITS] * N_CODEBOOKS, ge, derive_rng(args.seed, "bench-ge")), args.repeats
    )
    rows.append(
        {
            "p_flip": args.p[0],
            "channel": "ge-b8",
            "bits": n_bits,
            "vectorised_s": ge_s,
            "vectorised_bits_per_s": n_bits / ge_s,
        }
    )
    return rows


def bench_condition(args: argparse.Namespace) -> dict:
    """Seconds per channel condition: in the decode job's process vs a process of its own."""
    from nacbench.stages import transmit_shard

    codes = make_codes(args.condition_s / 60, args.utterance_s, args.seed)
    channel = "bsc-p0.01-seed0"
    with tempfile.TemporaryDirectory() as tmp:
        info, shard, out = Path(tmp, "codec.json"), Path(tmp, "000.npz"), Path(tmp, "received.npz")
        CodecInfo("bench", "bench", 16_000, 16_000, FRAME_RATE, (2**BITS,) * N_CODEBOOKS, "rvq").write(info)
        save_shard(shard, CodeShard([f"u{i}" for i in range(len(codes))], codes, False), N_CODEBOOKS)
        call = (str(shard), str(info), channel, "bench", "ds", "000", str(out))
        in_job = median_seconds(lambda: transmit_shard(*call), args.repeats)
        script = f"from nacbench.stages import transmit_shard; transmit_shard(*{call!r})"
        own = median_seconds(lambda: subprocess.run([sys.executable, "-c", script], check=True), args.repeats)
    return {
        "channel": channel,
        "audio_s": args.condition_s,
        "bits": sum(c.size for c in codes) * BITS,
        "in_decode_job_s": in_job,
        "own_process_s": own,
    }


def bench_switching(args: argparse.Namespace) -> list[dict]:
    rng = np.random.default_rng(args.seed)
    vectors = rng.normal(size=(args.bsa_size, args.bsa_dim)).astype(np.float32)
    probs = rng.dirichlet(np.ones(args.bsa_size))
    n_bits = (args.bsa_size - 1).bit_length()
    rows = []
    with threadpool_limits(limits=1):
        for start in ("random", "natural"):
            init = None if start == "random" else np.arange(args.bsa_size)
            t0 = time.perf_counter()
            _, hist = binary_switching(vectors, probs, n_bits, seed=args.seed, init=init)
            rows.append(
                {
                    "start": start,
                    "size": args.bsa_size,
                    "dim": args.bsa_dim,
                    "bits": n_bits,
                    "seconds": time.perf_counter() - t0,
                    "switches": int(hist.size - 1),
                    "initial_cost": float(hist[0]),
                    "final_cost": float(hist[-1]),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="audio length of the code stream")
    parser.add_argument("--utterance-s", type=float, default=10.0, help="utterance length (one shard)")
    parser.add_argument(
        "--p", type=float, nargs="+", default=[0.001, 0.01, 0.1], help="BSC flip probabilities"
    )
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the vectorised channel (median)")
    parser.add_argument("--reference-repeats", type=int, default=3, help="repeats of the Python reference")
    parser.add_argument(
        "--condition-s", type=float, default=60.0, help="audio seconds in the shard of the per-condition test"
    )
    parser.add_argument("--bsa-size", type=int, default=1024)
    parser.add_argument("--bsa-dim", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    channel = bench_transmit(args)
    condition = bench_condition(args)
    switching = bench_switching(args)

    print(
        f"channel: {args.minutes:g} min of {FRAME_RATE} Hz x {N_CODEBOOKS} x {BITS}-bit codes = {channel[0]['bits']:,} bits"
    )
    print(f"{'channel':<14}{'vectorised Mbit/s':>19}{'reference Mbit/s':>18}{'speedup':>10}")
    for row in channel:
        name = row.get("channel", "bsc") + f" p={row['p_flip']:g}"
        ref = f"{row['reference_bits_per_s'] / 1e6:18.3f}" if "reference_s" in row else f"{'-':>18}"
        speed = f"{row['speedup']:10.0f}" if "speedup" in row else f"{'-':>10}"
        print(f"{name:<14}{row['vectorised_bits_per_s'] / 1e6:19.1f}{ref}{speed}")
    print(
        f"\none channel condition ({condition['audio_s']:g} s of codes, file to file): "
        f"{condition['in_decode_job_s'] * 1000:.1f} ms in the decode job's process, "
        f"{condition['own_process_s']:.2f} s as a process of its own"
    )
    print(f"\nbinary switching, {args.bsa_size} entries x dim {args.bsa_dim}, one BLAS thread")
    print(f"{'start':<10}{'seconds':>9}{'switches':>10}{'initial cost':>14}{'final cost':>12}")
    for row in switching:
        print(
            f"{row['start']:<10}{row['seconds']:9.2f}{row['switches']:10d}{row['initial_cost']:14.2f}{row['final_cost']:12.2f}"
        )

    if args.out:
        payload = {
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "cpu_count": os.cpu_count(),
            },
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "channel": channel,
            "condition": condition,
            "switching": switching,
        }
        args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
