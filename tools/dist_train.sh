#!/usr/bin/env bash
# mmseg 0.x tools/dist_train.sh: distributed training, one process per GPU (a thin wrapper of ../train_dist.sh).
# usage: bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each (passed on to train_dist.sh).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash $0 CONFIG GPUS [tools/train.py options]" >&2
  exit 2
fi
exec bash "$(cd "$(dirname "$0")/.." && pwd)/train_dist.sh" "$@"
