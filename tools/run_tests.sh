#!/usr/bin/env bash
# Install everything the tests need, then run the whole test suite.
# usage: bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh --tests
PY=${PYTHON:-python3}
exec "$PY" -m pytest -ra "$@"
