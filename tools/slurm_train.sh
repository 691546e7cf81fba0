#!/usr/bin/env bash
# Training on a slurm cluster (mmseg 0.x slurm_train.sh).
# usage: [GPUS=4] [GPUS_PER_NODE=4] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#        bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [tools/train.py options]
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: bash $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [tools/train.py options]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
WORK_DIR_ARGS=()
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  WORK_DIR_ARGS=(--work-dir "$1")
  shift
fi
exec bash "$(dirname "$0")/slurm_run.sh" "$PARTITION" "$JOB_NAME" train.py $((1 + ${#WORK_DIR_ARGS[@]})) "$CONFIG" \
  ${WORK_DIR_ARGS[@]+"${WORK_DIR_ARGS[@]}"} "$@"
