#!/usr/bin/env bash
# The part tools/dist_train.sh and tools/dist_benchmark.sh share: check NPROC, find the project's
# Python, and start NPROC processes of a tool through torchrun and mmengine's launcher.
#   tools/dist_run.sh DEFAULT_PORT NPROC TOOL [tool options]
# Environment: PYTHON (default: the repository's .venv/bin/python when present, else the first
# of python3 / python that can import psfusion), PORT (default DEFAULT_PORT).
set -euo pipefail
DEFAULT_PORT=$1
NPROC=$2
TOOL=$3
if ! [[ "$NPROC" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: NPROC must be a positive integer, got '$NPROC'" >&2
    exit 2
fi
PORT=${PORT:-$DEFAULT_PORT}
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
    "$TOOL" "${@:4}"
