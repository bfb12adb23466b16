#!/usr/bin/env bash
# End-to-end smoke run of the whole pipeline on a GPU, at the paper's sizes, on synthetic data
# (no dataset or weights needed): data (480x640) -> PSFusion (reference-size network, batch 16,
# 256 crops, random initialisation) for a few iterations -> fused train/test splits with semantic-head predictions ->
# SegFormer-B2 and SegNeXt-Large (quick schedule, a few iterations, no pretrained weights) on ir
# and the fused images, through the MSRS benchmark configs -> tables.  It checks that every step
# runs on CUDA and prints the timings; the numbers themselves mean nothing (a few iterations).
#   bash benchmarks/gpu_pipeline.sh [OUT_DIR]        (a few minutes on one recent GPU)
# Environment: PYTHON, ITERS (fusion iterations, 20), SEG_ITERS (20), SEGMENTERS
# (segformer_b2,segnext_l), FUSION_CONFIG (psfusion/configs/psfusion_r34_msrs.py), H, W (480, 640).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-work_dirs/gpu_pipeline}
PYTHON=${PYTHON:-python}
ITERS=${ITERS:-20}
SEG_ITERS=${SEG_ITERS:-20}
SEGMENTERS=${SEGMENTERS:-segformer_b2,segnext_l}
FUSION_CONFIG=${FUSION_CONFIG:-psfusion/configs/psfusion_r34_msrs.py}
H=${H:-480}
W=${W:-640}
DATA=$OUT/data
stamp() { date +%s; }
step() { printf '%-8s %5d s\n' "$1" "$(( $(stamp) - $2 ))" | tee -a "$OUT/timings.txt"; }
mkdir -p "$OUT"
: > "$OUT/timings.txt"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee -a "$OUT/timings.txt"

t=$(stamp)
"$PYTHON" tools/make_synthetic.py --out "$DATA" --num-train 32 --num-val 8 --num-test 8 \
    --height "$H" --width "$W" --seed 0 > "$OUT/make_synthetic.log"
step data "$t"

t=$(stamp)
"$PYTHON" tools/train_fusion.py "$FUSION_CONFIG" --work-dir "$OUT/fusion" --cfg-options \
    train_dataloader.dataset.data_root="$DATA" val_dataloader.dataset.data_root="$DATA" \
    test_dataloader.dataset.data_root="$DATA" train_cfg.max_iters="$ITERS" \
    train_cfg.val_interval="$ITERS" default_hooks.checkpoint.interval="$ITERS" \
    model.backbone_pretrained=None \
    > "$OUT/train_fusion.log" 2>&1
step train "$t"

t=$(stamp)
"$PYTHON" tools/fuse.py "$FUSION_CONFIG" "$OUT/fusion/iter_$ITERS.pth" --src "$DATA" \
    --layout msrs --split train,test --save-seg --out "$OUT/fused" > "$OUT/fuse.log" 2>&1
step fuse "$t"

t=$(stamp)
"$PYTHON" tools/benchmark_downstream.py --seg "$SEGMENTERS" --dataset msrs --data-root "$DATA" \
    --sources "ir,psfusion=$OUT/fused" --schedule quick --max-iters "$SEG_ITERS" \
    --pretrained off --work-dir "$OUT/bench" > "$OUT/benchmark.log" 2>&1
step segment "$t"

t=$(stamp)
"$PYTHON" tools/make_tables.py --dataset msrs --results "$OUT/bench/results.csv" \
    --out "$OUT/bench" > "$OUT/tables.log" 2>&1
step tables "$t"
grep -h -m1 "CUDA available" "$OUT/train_fusion.log" || true
grep -h -m1 -A2 "Iter(train) \[ *$ITERS/" "$OUT/train_fusion.log" | cut -c1-160 || true
tail -n 11 "$OUT/fuse.log"
cat "$OUT/timings.txt"
