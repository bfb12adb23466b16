#!/usr/bin/env bash
# The downstream benchmark with each run trained data-parallel over NPROC processes (GPUs),
# through torchrun and mmengine's launcher.
#   tools/dist_benchmark.sh NPROC [benchmark_downstream.py options]
# The training batch of each recipe is the total: each process loads total / NPROC (refused when
# not divisible), BN becomes SyncBN on GPUs, and the config hash is that of one process, so the
# rows match those of a one-process run. Only rank 0 writes results. Without a GPU the
# processes use the gloo backend on the CPU (BN then stays per process).
# Environment: PYTHON (default: the repository's .venv/bin/python when present, else the first
# of python3 / python that can import psfusion), PORT (default 29512; a free port is not
# searched for, so give each concurrent run its own).
set -euo pipefail
usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}
if [[ $# -ge 1 && ( "$1" == "-h" || "$1" == "--help" ) ]]; then
    usage
    exit 0
fi
if [[ $# -lt 1 ]]; then
    echo "error: tools/dist_benchmark.sh needs NPROC (got no argument)" >&2
    usage >&2
    exit 2
fi
NPROC=$1
if ! [[ "$NPROC" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: NPROC must be a positive integer, got '$NPROC'" >&2
    exit 2
fi
PORT=${PORT:-29512}
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
    tools/benchmark_downstream.py --launcher pytorch "${@:2}"
