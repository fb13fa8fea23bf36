#!/usr/bin/env bash
# The GPU figures for the full-run estimate (benchmarks/gpu_check.py), on a lent GPU machine, in at most
# 8 minutes, offline: the repository and ../shared only, the project's existing .venv (create it with
# `bash tools/setup.sh` beforehand; nothing is installed here).
#
#   bash benchmarks/gpu_check.sh [OUT.json] [extra gpu_check.py options]
#
# Then, on any machine:
#   python benchmarks/estimate_full_run.py --results results/offline --gpu-figures OUT.json \
#       --gpus 1 --cores 16 --seeds 3
#
# Environment: BUDGET_S (the script's own time budget, default 420 s), LIMIT_S (the hard kill, default
# 470 s: the budget plus time to write the JSON and exit), NACBENCH_SHARED (default ../shared),
# PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/gpu_check.json}
shift || true
PYTHON=${PYTHON:-.venv/bin/python}
BUDGET_S=${BUDGET_S:-420}
LIMIT_S=${LIMIT_S:-470}
export NACBENCH_SHARED=${NACBENCH_SHARED:-$(cd .. && pwd)/shared}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1   # no network: a download attempt must fail fast

if [ ! -x "$PYTHON" ]; then
  echo "gpu_check: no $PYTHON; create the environment first: bash tools/setup.sh" >&2
  exit 2
fi
if [ ! -d "$NACBENCH_SHARED" ]; then
  echo "gpu_check: no shared data at $NACBENCH_SHARED (set NACBENCH_SHARED)" >&2
  exit 2
fi
echo "gpu_check: $(date -u +%FT%TZ) on $(hostname), $(nproc) cores"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
  echo "gpu_check: nvidia-smi not found (the script still records what torch sees)"
fi
echo "gpu_check: $PYTHON benchmarks/gpu_check.py --out $OUT --budget-s $BUDGET_S $* (killed after ${LIMIT_S} s)"
mkdir -p "$(dirname "$OUT")"
status=0
timeout --kill-after=10 "$LIMIT_S" "$PYTHON" benchmarks/gpu_check.py --out "$OUT" --budget-s "$BUDGET_S" "$@" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "gpu_check: hit the ${LIMIT_S} s limit; $OUT holds the steps finished before it" >&2
fi
if [ -f "$OUT" ]; then
  "$PYTHON" - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"gpu_check: {sys.argv[1]}: {len(d['codecs'])} codecs, {len(d['skipped'])} skipped, "
      f"{len(d['errors'])} errors, {d.get('elapsed_s')} s")
for step in d["skipped"]:
    print(f"  skipped {step['step']}: {step['reason']}")
PY
fi
exit "$status"
