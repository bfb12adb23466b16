"""Write the synthetic complementary-modality road-scene dataset (MSRS or FMB layout).

Example:
    python tools/make_synthetic.py --out work_dirs/demo/data --num-train 64 --num-test 32 --seed 0
    python tools/make_synthetic.py --layout fmb --out work_dirs/fmb_synth --num-train 16 --num-test 8
"""
from __future__ import annotations

import argparse
import sys
import time

from psfusion.cli import add_debug_argument, run_tool
from psfusion.data.synthetic import SYNTHETIC_LAYOUTS, write_synthetic_dataset
from psfusion.errors import ConfigError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='output dataset root')
    parser.add_argument('--num-train', type=int, default=64, help='training pairs')
    parser.add_argument('--layout', default='msrs', choices=sorted(SYNTHETIC_LAYOUTS),
                        help="on-disk layout and class list: msrs (9 classes) or fmb (FMB's 15; "
                        "synthetic classes FMB lacks become unlabelled)")
    parser.add_argument('--num-val', type=int, default=None,
                        help='validation pairs (held out inside train/, listed in val.txt; '
                        'default 8; msrs layout only)')
    parser.add_argument('--num-test', type=int, default=32, help='test pairs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--height', type=int, default=128)
    parser.add_argument('--width', type=int, default=160)
    add_debug_argument(parser)
    return parser.parse_args(argv)


def format_summary(summary: dict) -> str:
    lines = [f"synthetic dataset ({summary['layout']} layout): "
             f"{summary['height']}x{summary['width']} (HxW), "
             f"seed {summary['seed']}"]
    for split, info in summary['splits'].items():
        total = sum(info['class_pixels'].values()) or 1
        shares = ', '.join(f'{name} {100 * n / total:.1f}%'
                           for name, n in info['class_pixels'].items())
        lines.append(f"  {split:5s}: {info['images']} pairs in {info['folder']}/ "
                     f"({info['day']} day, {info['night']} night); pixels: {shares}")
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    num_val = args.num_val
    if num_val is None:
        num_val = 8 if SYNTHETIC_LAYOUTS[args.layout]['split_files'] else 0
    elif num_val and not SYNTHETIC_LAYOUTS[args.layout]['split_files']:
        raise ConfigError(f'the {args.layout} layout has no validation split; drop --num-val')
    summary = write_synthetic_dataset(args.out, args.num_train, args.num_test, num_val,
                                      args.seed, args.height, args.width, args.layout)
    print(format_summary(summary))
    print(f'written to {args.out} in {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
