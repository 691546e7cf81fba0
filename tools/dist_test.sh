#!/usr/bin/env bash
# mmseg 0.x tools/dist_test.sh: distributed testing, one process per GPU (a thin wrapper of ../test_dist.sh).
# usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each (passed on to test_dist.sh).
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: bash $0 CONFIG CHECKPOINT GPUS [tools/test.py options]" >&2
  exit 2
fi
exec bash "$(cd "$(dirname "$0")/.." && pwd)/test_dist.sh" "$@"
