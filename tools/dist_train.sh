#!/usr/bin/env bash
# Multi-process PSFusion training through torchrun and mmengine's launcher.
#   tools/dist_train.sh CONFIG NPROC [train_fusion.py options]
# The config's train_dataloader.batch_size is the total batch: each process loads total / NPROC
# (refused when not divisible), so the recipe is the same on any number of GPUs.
# Without a GPU the processes use the gloo backend on the CPU.
# Environment: PYTHON (default: the repository's .venv/bin/python when present, else the first
# of python3 / python that can import psfusion), PORT (default 29511; a free port is not
# searched for, so give each concurrent run its own).
set -euo pipefail
usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}
if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then
    usage
    exit 0
fi
if [[ $# -lt 2 ]]; then
    echo "error: tools/dist_train.sh needs CONFIG and NPROC (got $# argument(s))" >&2
    usage >&2
    exit 2
fi
exec bash "$(dirname "$0")/dist_run.sh" 29511 "$2" tools/train_fusion.py "$1" --launcher pytorch \
    "${@:3}"
