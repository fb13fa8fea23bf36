#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv: the pinned pipeline environment
# (envs/requirements.txt), the test tools (envs/requirements-dev.txt) and this package, editable.
# Idempotent: a second run with unchanged requirements installs nothing and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.nacbench-requirements
want=$(cat envs/requirements.txt envs/requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch and torchaudio first and alone: their exact pair must not be re-resolved by other packages.
  .venv/bin/python -m pip install --quiet "$(grep '^torch==' envs/requirements.txt)" \
    "$(grep '^torchaudio==' envs/requirements.txt)"
  .venv/bin/python -m pip install --quiet -r envs/requirements.txt -r envs/requirements-dev.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import torch, torchaudio; assert torch.__version__.split('+')[0] == torchaudio.__version__.split('+')[0], (torch.__version__, torchaudio.__version__)"
