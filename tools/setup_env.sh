#!/usr/bin/env bash
# Install mmseg_ddrnet into the current python (use a venv if you like) and build mmcv_ext.
# usage: bash tools/setup_env.sh [--tests]     (--tests: also the test dependencies, requirements/tests.txt)
# PYTHON: the interpreter to install into (default: python3); TORCH_SPEC: see below.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
case "${1:-}" in
  ""|--tests) ;;
  *) echo "setup_env: unknown option $1 (usage: bash tools/setup_env.sh [--tests])" >&2; exit 2 ;;
esac
# torch is pinned and installed first: on a machine without a GPU the plain "torch" requirement
# would pull a multi-GB CUDA build. Set TORCH_SPEC to choose another build: it is split on spaces into pip
# arguments, e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128".
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
read -r -a TORCH_ARGS <<< "$TORCH_SPEC"
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "[setup] installing torch: pip install ${TORCH_ARGS[*]}"
  "$PY" -m pip install -q "${TORCH_ARGS[@]}"
fi
"$PY" -m pip install -q -r requirements.txt
if [ "${1:-}" = "--tests" ]; then
  "$PY" -m pip install -q -r requirements/tests.txt
fi
echo "[setup] building and installing mmseg_ddrnet (compiles mmcv_ext)"
"$PY" -m pip install -q --no-build-isolation --no-deps -e .
"$PY" -c "import mmseg_ddrnet; print('[setup] mmseg_ddrnet', mmseg_ddrnet.__version__, 'ready')"
