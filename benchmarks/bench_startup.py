"""Start-up cost of a codec job: full build vs decode-only build, each in a fresh process.

A decode job builds its codec before the first utterance; on a small run that fixed cost is most of
the job. For each codec of the offline configuration that builds here (config.yaml's codecs with
configs/offline.yaml merged on top, as Snakemake merges them; random weights where configured), this
runs ``--repeats`` fresh interpreters per build kind and measures, by wall clock:

* ``start_imports``: interpreter start to ``nacbench.codecs`` and the adapter's module imported (torch,
  the TFLite runtime or pycodec2): what every job of that codec pays before building anything;
* ``full_build``: ``build_codec(name, options)`` after those imports (the encoder's own imports, such as
  transformers for NeuCodec, fall in here);
* ``decode_only_build``: ``build_codec(name, options, decode_only=True)`` after the same imports;
* ``decode_5s``: the decode-only build decoding 5 s of random in-range codes (one utterance);
* ``encode_5s``: the full build encoding 5 s of noise at its input rate (one utterance).

Each cell is the median over the repeats (min and max in the JSON, with each build's phases as the
job's startup record splits them: imports, construct, weights, device). ``ratio`` is decode-only build
over full build. A codec whose build fails here (StableCodec with its gated hub weights; an overlay
with ``stablecodec: {random_weights: true}`` builds its reconstructed architecture) is listed as
skipped with the reason. Prints a Markdown table; ``--out`` writes JSON.

    python benchmarks/bench_startup.py --repeats 3 --threads 1 --out bench_startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DECODE_SECONDS = 5.0
MEASURES = ("start_imports", "full_build", "decode_only_build", "decode_5s", "encode_5s")


def offline_codecs(overlay: Path) -> dict[str, dict[str, Any]]:
    """The codecs of config.yaml with ``overlay`` merged on top (Snakemake's update_config)."""
    import yaml  # here, not at the top: the workers run this file and must not pay for snakemake
    from snakemake.utils import update_config

    config: dict[str, Any] = {}
    for path in (REPO / "config.yaml", overlay):
        update_config(config, yaml.safe_load(path.read_text()))
    return {
        name: {k: v for k, v in options.items() if k != "conda_env"}  # as stages.load_codec passes them
        for name, options in config["codecs"].items()
    }


def worker(name: str, options: dict[str, Any], decode_only: bool, spawned_at: float) -> dict[str, Any]:
    """One fresh process: imports, one build, and (decode-only) one 5 s decode; seconds by wall clock."""
    import importlib

    from nacbench.codecs import ADAPTERS, build_codec

    importlib.import_module(ADAPTERS[options["adapter"]].module)
    imported = time.time()
    import numpy as np

    from nacbench import startup

    with startup.recording(None) as record:
        start = time.perf_counter()
        codec = build_codec(name, options, decode_only=decode_only)
        built = time.perf_counter() - start
    out: dict[str, Any] = {
        "start_imports": imported - spawned_at,
        "decode_only_build" if decode_only else "full_build": built,
        "phases": {k: round(v, 4) for k, v in record.seconds.items()},
    }
    rng = np.random.default_rng(0)  # benchmark inputs, not a pipeline stream
    if decode_only:
        frames = int(round(DECODE_SECONDS * codec.info.frame_rate))
        sizes = np.asarray(codec.info.codebook_sizes)[:, None]
        codes = rng.integers(0, sizes, (len(sizes), frames))
        start = time.perf_counter()
        codec.decode([codes])
        out["decode_5s"] = time.perf_counter() - start
    else:
        n = int(round(DECODE_SECONDS * codec.info.input_sample_rate))
        wav = (0.1 * rng.standard_normal(n)).astype(np.float32)
        start = time.perf_counter()
        codec.encode([wav])
        out["encode_5s"] = time.perf_counter() - start
    return out


def run_worker(
    name: str, options: dict[str, Any], decode_only: bool, threads: int | None = None
) -> dict[str, Any]:
    """:func:`worker` in a fresh interpreter (cwd: the repository root, so ../shared paths resolve);
    ``threads``: the OpenMP/MKL thread count (default: the libraries' own choice)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    if threads is not None:
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    payload = json.dumps({"name": name, "options": options, "decode_only": decode_only})
    spawned_at = time.time()
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--worker", payload, "--spawned-at", repr(spawned_at)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_codec(name: str, options: dict[str, Any], repeats: int, threads: int | None) -> dict[str, Any]:
    samples: dict[str, list[float]] = {m: [] for m in MEASURES}
    phases: dict[str, list[dict[str, float]]] = {"full": [], "decode_only": []}
    for _ in range(repeats):
        for decode_only in (False, True):
            result = run_worker(name, options, decode_only, threads)
            for measure in MEASURES:
                if measure in result:
                    samples[measure].append(result[measure])
            phases["decode_only" if decode_only else "full"].append(result["phases"])
    out: dict[str, Any] = {m: summarise(v) for m, v in samples.items()}
    out["ratio"] = out["decode_only_build"]["median"] / out["full_build"]["median"]
    out["phases"] = phases
    return out


def markdown(results: dict[str, Any], skipped: dict[str, str]) -> str:
    lines = [
        "| codec | start + imports (s) | full build (s) | decode-only build (s) | decode-only / full "
        "| decode 5 s (s) | encode 5 s (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        cells = [f"{r[m]['median']:.2f}" for m in MEASURES[:3]]
        coding = f"{r['decode_5s']['median']:.2f} | {r['encode_5s']['median']:.2f}"
        lines.append(f"| {name} | {' | '.join(cells)} | {r['ratio']:.2f} | {coding} |")
    lines += [f"| {name} | skipped: {why} | | | | | |" for name, why in skipped.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per build kind (default 5)")
    parser.add_argument("--overlay", type=Path, default=REPO / "configs" / "offline.yaml")
    parser.add_argument("--codecs", nargs="*", help="only these codecs (default: every codec that builds)")
    parser.add_argument(
        "--threads",
        type=int,
        help="OpenMP/MKL threads per process (default: the libraries' choice; 1 is steadier on a busy "
        "machine, where torch's spinning threads make small ops erratic)",
    )
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        print(json.dumps(worker(job["name"], job["options"], job["decode_only"], args.spawned_at)))
        return

    codecs = offline_codecs(args.overlay)
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, options in codecs.items():
        if args.codecs and name not in args.codecs:
            continue
        if options.get("adapter") == "external":
            skipped[name] = "external codec (its own rule file)"
            continue
        try:
            results[name] = bench_codec(name, options, args.repeats, args.threads)
        except RuntimeError as exc:
            skipped[name] = str(exc).split(". ")[0]  # the error's first sentence says why
        print(f"{name}: done", file=sys.stderr, flush=True)
    print(markdown(results, skipped))
    if args.out:
        meta = {
            "repeats": args.repeats,
            "threads": args.threads,
            "overlay": str(args.overlay),
            "decode_seconds": DECODE_SECONDS,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        }
        args.out.write_text(json.dumps({"meta": meta, "codecs": results, "skipped": skipped}, indent=1))


if __name__ == "__main__":
    main()
