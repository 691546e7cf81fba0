#!/usr/bin/env bash
# srun one of the tools on a slurm cluster: the common part of slurm_train.sh and slurm_test.sh.
# usage: [GPUS=4] [GPUS_PER_NODE=4] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#        bash tools/slurm_run.sh PARTITION JOB_NAME TOOL.py N [tool arguments]
# runs tools/TOOL.py with its first N arguments, --launcher slurm, then the rest (as 0.x's scripts do).
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
TOOL=$3
NPOS=$4
shift 4
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck disable=SC2086
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
  --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  ${SRUN_ARGS} \
  "${PYTHON:-python3}" -u "$ROOT/tools/$TOOL" "${@:1:$NPOS}" --launcher slurm "${@:$((NPOS + 1))}"
