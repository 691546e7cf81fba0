#!/usr/bin/env bash
# Quick start: install the project, generate a small synthetic Cityscapes-layout dataset, train DDRNet-23-slim on
# it (CPU: a few minutes on 2 cores), then test the checkpoint (per-class IoU table + painted predictions).
#
# usage: bash tools/quickstart.sh [--skip-setup] [--data-dir DIR] [--work-dir DIR] [--num-train N] [--num-val N]
#                                 [--size H W] [--cfg-options KEY=VALUE ...]
#   --skip-setup       do not run tools/setup_env.sh (the package is installed already)
#   --data-dir DIR     where the demo dataset goes (default: data/demo_cityscapes)
#   --num-train N, --num-val N, --size H W   the demo dataset (default: 40 and 8 images of 256x512)
#   --work-dir DIR     logs, checkpoints and painted predictions (default: work_dirs/ddrnet_23_slim_demo_cityscapes)
#   --cfg-options ...  config overrides for training and testing, e.g. runner.max_iters=100
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CONFIG=configs/ddrnet/ddrnet_23_slim_demo_cityscapes.py
DATA_DIR=data/demo_cityscapes
WORK_DIR=work_dirs/ddrnet_23_slim_demo_cityscapes
SETUP=1
CFG_OPTIONS=()
DATA_OPTIONS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-setup) SETUP=0; shift ;;
    --data-dir) DATA_DIR=$2; shift 2 ;;
    --work-dir) WORK_DIR=$2; shift 2 ;;
    --num-train|--num-val) DATA_OPTIONS+=("$1" "$2"); shift 2 ;;
    --size) DATA_OPTIONS+=("$1" "$2" "$3"); shift 3 ;;
    --cfg-options) shift; while [ $# -gt 0 ] && [[ "$1" != --* ]]; do CFG_OPTIONS+=("$1"); shift; done ;;
    *) echo "quickstart: unknown option $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
for split in train val test; do CFG_OPTIONS+=("data.$split.data_root=$DATA_DIR"); done

if [ "$SETUP" = 1 ]; then
  echo "[quickstart] 1/4 installing (tools/setup_env.sh)"
  bash tools/setup_env.sh
fi
echo "[quickstart] 2/4 generating a demo dataset in $DATA_DIR"
"$PY" tools/misc/make_demo_data.py "$DATA_DIR" ${DATA_OPTIONS[@]+"${DATA_OPTIONS[@]}"}
"$PY" tools/convert_datasets/cityscapes.py "$DATA_DIR" --nproc 2
echo "[quickstart] 3/4 training DDRNet-23-slim ($CONFIG) into $WORK_DIR"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --cfg-options "${CFG_OPTIONS[@]}"
CHECKPOINT=$(ls -t "$WORK_DIR"/latest.pth "$WORK_DIR"/iter_*.pth 2>/dev/null | head -n 1 || true)
if [ -z "$CHECKPOINT" ]; then
  echo "quickstart: training wrote no checkpoint in $WORK_DIR" >&2
  exit 1
fi
echo "[quickstart] 4/4 testing $CHECKPOINT"
rm -rf "$WORK_DIR/vis"  # the paintings of an earlier run (of other images) would stay beside the new ones
"$PY" tools/test.py "$CONFIG" "$CHECKPOINT" --eval mIoU --work-dir "$WORK_DIR" --show-dir "$WORK_DIR/vis" \
  --cfg-options "${CFG_OPTIONS[@]}"
echo "[quickstart] done: logs and checkpoints in $WORK_DIR, painted predictions in $WORK_DIR/vis"
