#!/usr/bin/env bash
# Multi-process PSFusion training through torchrun and mmengine's launcher.
#   tools/dist_train.sh CONFIG NPROC [train_fusion.py options]
# Without a GPU the processes use the gloo backend on the CPU.
set -euo pipefail
CONFIG=$1
NPROC=$2
PORT=${PORT:-29511}
PYTHON=${PYTHON:-python}
cd "$(dirname "$0")/.."
exec "$PYTHON" -m torch.distributed.run --nproc_per_node="$NPROC" --master_port="$PORT" \
    tools/train_fusion.py "$CONFIG" --launcher pytorch "${@:3}"
