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
CONFIG=$1
NPROC=$2
if ! [[ "$NPROC" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: NPROC must be a positive integer, got '$NPROC'" >&2
    exit 2
fi
PORT=${PORT:-29511}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then
        PYTHON="$ROOT/.venv/bin/python"
    else
        for candidate in python3 python; do
            if command -v "$candidate" >/dev/null 2>&1 \
                    && (cd "$ROOT" && "$candidate" -c 'import psfusion, torch') >/dev/null 2>&1; then
                PYTHON=$candidate
                break
            fi
        done
    fi
    if [[ -z "${PYTHON:-}" ]]; then
        echo "error: no Python with psfusion and torch found (no $ROOT/.venv; python3 and" \
             "python cannot import them). Install the project (make install) or set PYTHON." >&2
        exit 2
    fi
fi
cd "$ROOT"
exec "$PYTHON" -m torch.distributed.run --nproc_per_node="$NPROC" --master_port="$PORT" \
    tools/train_fusion.py "$CONFIG" --launcher pytorch "${@:3}"
