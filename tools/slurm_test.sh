#!/usr/bin/env bash
# Testing on a slurm cluster (mmseg 0.x slurm_test.sh).
# usage: [GPUS=4] [GPUS_PER_NODE=4] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#        bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]" >&2
  exit 2
fi
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" test.py 2 "$3" "$4" "${@:5}"
