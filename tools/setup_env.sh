#!/usr/bin/env bash
# Install mmseg_ddrnet into the current python (use a venv if you like) and build mmcv_ext.
# usage: bash tools/setup_env.sh [--tests]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch is pinned and installed first: on a machine without a GPU the plain "torch" requirement
# would pull a multi-GB CUDA build. Set TORCH_SPEC to choose another build (e.g. a CUDA wheel).
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "[setup] installing $TORCH_SPEC"
  "$PY" -m pip install -q "$TORCH_SPEC"
fi
"$PY" -m pip install -q -r requirements.txt
if [ "${1:-}" = "--tests" ]; then
  "$PY" -m pip install -q -r requirements/tests.txt
fi
echo "[setup] building and installing mmseg_ddrnet (compiles mmcv_ext)"
"$PY" -m pip install -q --no-build-isolation --no-deps -e .
"$PY" -c "import mmseg_ddrnet; print('[setup] mmseg_ddrnet', mmseg_ddrnet.__version__, 'ready')"
