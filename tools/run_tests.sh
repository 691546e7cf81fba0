#!/usr/bin/env bash
# Install everything the tests need, print the machine and its kernels, then run the whole test suite.
# usage: bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh --tests
PY=${PYTHON:-python3}
# The machine and the kernels chosen on it (results of float kernels differ between CPUs): tie a failure to them.
"$PY" tools/misc/collect_env.py | sed 's/^/[machine] /'
exec "$PY" -m pytest -ra "$@"
