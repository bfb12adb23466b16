#!/usr/bin/env bash
# What bf16 autocast (--amp) buys the benchmark's segmenters on a GPU, in one call:
#  1. the training iteration of SegFormer-B2/B4 and SegNeXt-B/L at 480x640, batch 8, fp32 and
#     bf16 (benchmarks/gpu_seg_step.py, one JSON line each);
#  2. the mIoU of the same short run with and without --amp on synthetic 480x640 data (same
#     seed, no pretrained weights), from tools/benchmark_downstream.py's results.csv.
#   bash benchmarks/amp_check.sh [OUT_DIR]          (about 5 minutes on one H200)
# Environment: PYTHON, SEG (segformer_b2), SEG_ITERS (200), SEGMENTERS for step 1 (all four),
# H, W (480, 640), DEVICE (cuda; "cpu" with H=64 W=80 SEG=segformer_mini checks the script).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-work_dirs/amp_check}
PYTHON=${PYTHON:-python}
SEG=${SEG:-segformer_b2}
SEG_ITERS=${SEG_ITERS:-200}
SEGMENTERS=${SEGMENTERS:-segformer_b2,segformer_b4,segnext_b,segnext_l}
H=${H:-480}
W=${W:-640}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
if [ "$DEVICE" = cuda ]; then
    for amp in "" "--amp"; do
        "$PYTHON" benchmarks/gpu_seg_step.py --seg "$SEGMENTERS" $amp | tee -a "$OUT/steps.jsonl"
    done
else
    "$PYTHON" benchmarks/gpu_seg_step.py --device cpu --seg "$SEGMENTERS" --batch 1 \
        --size "$H" "$W" --steps 1 --warmup 0 --amp | tee -a "$OUT/steps.jsonl"
fi
"$PYTHON" tools/make_synthetic.py --out "$OUT/data" --num-train 32 --num-val 8 --num-test 16 \
    --height "$H" --width "$W" --seed 0 > "$OUT/make_synthetic.log"
for amp in "" "--amp"; do
    "$PYTHON" tools/benchmark_downstream.py --seg "$SEG" --dataset synthetic \
        --data-root "$OUT/data" --sources ir,vi --schedule quick --max-iters "$SEG_ITERS" \
        --pretrained off --image-size "${H}x${W}" --work-dir "$OUT/bench${amp:+_amp}" $amp \
        > "$OUT/bench${amp:+_amp}.log" 2>&1
done
"$PYTHON" - "$OUT" <<'PY'
import sys
import pandas as pd
out = sys.argv[1]
rows = []
for name in ('bench', 'bench_amp'):
    frame = pd.read_csv(f'{out}/{name}/results.csv')
    frame['amp'] = name.endswith('amp')
    rows.append(frame[['segmenter', 'source', 'amp', 'iters', 'mIoU', 'aAcc']])
print(pd.concat(rows).to_string(index=False))
PY
