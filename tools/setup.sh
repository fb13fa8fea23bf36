#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv: the pinned pipeline environment
# (envs/requirements.txt), the test tools (envs/requirements-dev.txt), StableCodec with what it imports
# (envs/requirements-stable-codec-nodeps.txt, without its declared dependencies: they would replace
# torch 2.11 by 2.4) and this package, editable; then checks that StableCodec imports.
# Idempotent: a second run with unchanged requirements installs nothing and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.nacbench-requirements
stable_codec=envs/requirements-stable-codec-nodeps.txt
want=$(cat envs/requirements.txt envs/requirements-dev.txt "$stable_codec" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch and torchaudio first and alone: their exact pair must not be re-resolved by other packages.
  .venv/bin/python -m pip install --quiet "$(grep '^torch==' envs/requirements.txt)" \
    "$(grep '^torchaudio==' envs/requirements.txt)"
  .venv/bin/python -m pip install --quiet -r envs/requirements.txt -r envs/requirements-dev.txt
  # exact pins, none of them torch, torchaudio or numpy: nothing above is re-resolved
  .venv/bin/python -m pip install --quiet --no-deps -r "$stable_codec"
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$want" > "$stamp"
fi
# libopus: the system library the Opus adapter's bindings (opuslib-next) load through ctypes; pip cannot
# install it. Checked on every run, since it lives outside the virtual environment.
has_libopus() { .venv/bin/python -c "import ctypes.util, sys; sys.exit(ctypes.util.find_library('opus') is None)"; }
if ! has_libopus; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends libopus0 \
      || { apt-get update && apt-get install -y --no-install-recommends libopus0; }
    has_libopus || { echo "tools/setup.sh: libopus0 installed, but ctypes still finds no libopus" >&2; exit 1; }
  else
    echo "tools/setup.sh: the Opus codec needs the system library libopus, which is not installed." >&2
    echo "  Debian/Ubuntu: sudo apt-get install libopus0" >&2
    echo "  Fedora: sudo dnf install opus; macOS: brew install opus; conda: conda install -c conda-forge libopus" >&2
    echo "then run tools/setup.sh again." >&2
    exit 1
  fi
fi
.venv/bin/python -c "import torch, torchaudio; assert torch.__version__.split('+')[0] == torchaudio.__version__.split('+')[0], (torch.__version__, torchaudio.__version__)"
# StableCodec's model classes import training and diffusion modules at load time; a missing one shows
# here rather than in the first StableCodec job. (The package prints a FlashAttention notice on stdout.)
if ! out=$(.venv/bin/python -c "from stable_codec import StableCodec; import stable_audio_tools.models.autoencoders" 2>&1); then
  printf '%s\n' "$out" | tail -n 15 >&2
  echo "tools/setup.sh: StableCodec does not import in .venv (above). It is installed with" \
    "'pip install --no-deps -r $stable_codec': add or fix the pin of the module named above there;" \
    "or use its conda environment instead (envs/stable-codec.yaml, snakemake --use-conda)." >&2
  exit 1
fi
