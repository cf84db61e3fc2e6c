#!/usr/bin/env bash
# Install mtjexplore from this checkout with one extra ($1: apps, tutorials, test, ...), and a torch
# that fits the machine, then say which torch that is.
#
# torch, in this order:
#   1. a torch that is already installed is kept (e.g. a CUDA build you chose yourself);
#   2. MTJEXPLORE_TORCH="torch==X ..." installs exactly that requirement;
#   3. a machine with an NVIDIA GPU (nvidia-smi lists one) gets PyPI's default build: CUDA on Linux;
#   4. otherwise torch==2.13.0, the CPU path: on the project's machines pip finds the CPU build of
#      that version on local disk (a 1.7 GB environment). Elsewhere PyPI's Linux wheel of it
#      carries CUDA libraries (~5.8 GB): set MTJEXPLORE_TORCH_INDEX to PyTorch's CPU wheel index
#      to get the CPU build there.
# mtjexplore itself only asks for torch>=2.1, so it never replaces the torch chosen here.
set -euo pipefail
extra=${1:-apps}
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

if python -c "import torch" 2>/dev/null; then
  echo "install.sh: keeping the installed torch"
elif [ -n "${MTJEXPLORE_TORCH:-}" ]; then
  pip install -q $MTJEXPLORE_TORCH
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "install.sh: a GPU is present: installing PyPI's default (CUDA) torch"
  pip install -q "torch>=2.1"
else
  echo "install.sh: no GPU found: installing torch 2.13.0 (CPU build)"
  pip install -q "torch==2.13.0" ${MTJEXPLORE_TORCH_INDEX:+--index-url "$MTJEXPLORE_TORCH_INDEX"}
fi
pip install -q -e ".[$extra]"
python - <<'PY'
import torch
build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
gpu = "a GPU is available" if torch.cuda.is_available() else "running on the CPU"
print(f"install.sh: mtjexplore installed with torch {torch.__version__} ({build}; {gpu})")
PY
