#!/usr/bin/env bash
# Distributed training with torchrun, one process per GPU (mmseg 0.x dist_train.sh).
# usage: bash train_dist.sh CONFIG GPUS [tools/train.py options]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each. Without GPUs, GPUS processes train
# on the CPU with the gloo backend.
# MAX_RESTARTS=N (default 0): torchrun restarts the whole worker group up to N times when a worker dies; add
# --auto-resume so that the restarted group continues from the last checkpoint of the work dir.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash $0 CONFIG GPUS [tools/train.py options]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
MAX_RESTARTS=${MAX_RESTARTS:-0}
if ! [[ "$GPUS" =~ ^[0-9]+$ ]] || [ "$GPUS" -eq 0 ]; then
  echo "error: GPUS must be a positive number of processes per node, got '$GPUS' (usage: bash $0 CONFIG GPUS ...)" >&2
  exit 2
fi
if ! [[ "$MAX_RESTARTS" =~ ^[0-9]+$ ]]; then
  echo "error: MAX_RESTARTS must be a number of restarts (0 or more), got '$MAX_RESTARTS'" >&2
  exit 2
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python3}" -m torch.distributed.run \
  --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" --master_port="$PORT" \
  --nproc_per_node="$GPUS" --max-restarts="$MAX_RESTARTS" \
  "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
