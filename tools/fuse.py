"""Fuse a dataset with a trained PSFusion model and write it as a drop-in source.

    python tools/fuse.py CONFIG CHECKPOINT --src ROOT --layout msrs|mfnet|folders --out OUT
                         [--split test|train,test] [--save-seg] [--batch-size B] [--threads N]

CHECKPOINT may be ``none`` (random weights: timing and tests).  Output layout, manifest and
resumption: see psfusion/fusing.py.  Rerun the same command to finish an interrupted run.
"""
import argparse
import json
import os

import psfusion  # noqa: F401  (mmcv-lite compatibility before any mmseg import)
import torch

from psfusion.engine.allocator import keep_freed_memory
from psfusion.fusing import LAYOUTS, fuse_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for random weights")
    parser.add_argument('--src', required=True, help='source dataset root')
    parser.add_argument('--layout', required=True, choices=LAYOUTS)
    parser.add_argument('--out', required=True, help='output root')
    parser.add_argument('--split', default='test',
                        help="split(s) to fuse, comma-separated, all into the same OUT (msrs: "
                        "folder, mfnet: split file; 'all' for every MFNet image); ignored for "
                        "folders.  E.g. --split train,test for a benchmark source")
    parser.add_argument('--save-seg', action='store_true',
                        help="also write the semantic head's predictions (seg_pred/)")
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--no-optimise', action='store_true',
                        help='run the eager training-form network (no BatchNorm folding, no '
                        'channels-last, default memory allocator settings)')
    parser.add_argument('--limit', type=int, default=None, help='fuse only the first N pairs')
    parser.add_argument('--ir-dir', default='ir', help='folders layout: infrared folder')
    parser.add_argument('--vi-dir', default='vi', help='folders layout: visible folder')
    parser.add_argument('--label-dir', default=None, help='folders layout: labels to copy')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.no_optimise:
        keep_freed_memory()  # reuse freed feature maps instead of re-faulting them
    split = None if args.layout == 'mfnet' and args.split == 'all' else args.split
    summary = fuse_dataset(
        args.config, args.checkpoint, args.src, args.layout, args.out, split=split,
        save_seg=args.save_seg, batch_size=args.batch_size, device=args.device,
        optimise=not args.no_optimise, limit=args.limit,
        folder_dirs=dict(ir_dir=args.ir_dir, vi_dir=args.vi_dir, label_dir=args.label_dir))
    print(json.dumps(dict(summary.__dict__, threads=torch.get_num_threads(),
                          seconds_per_pair=summary.seconds / max(summary.written, 1)),
                     indent=1))
    print(f'manifest: {os.path.join(args.out, "manifest.json")}')


if __name__ == '__main__':
    main()
