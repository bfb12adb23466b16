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
exec bash "$(dirname "$0")/dist_run.sh" 29512 "$1" tools/benchmark_downstream.py \
    --launcher pytorch "${@:2}"
