"""Fuse a dataset with one fusion method and write it as a drop-in source.

    python tools/fuse.py CONFIG CHECKPOINT --src ROOT --layout LAYOUT --out OUT   # PSFusion
    python tools/fuse.py --method average --src ROOT --layout LAYOUT --out OUT
        [--split test|train,test|all] [--save-seg] [--batch-size B] [--threads N] [--limit N]
        [--max-pixels N|auto] [--workers N] [--amp] [--debug]

``--method psfusion`` (default) needs the model's CONFIG and CHECKPOINT (``none``: random
weights, for timing and tests); parameter-free methods (``average``) take neither.  LAYOUT is
one of psfusion.data.layouts.LAYOUTS.  Output places, manifest and resumption: see
psfusion/fusing/writer.py.  Rerun the same command to finish an interrupted run.

Images of any size fuse in bounded memory: an image whose padded area exceeds ``--max-pixels``
is fused in overlapping tiles blended with cosine ramps (psfusion/fusing/tiling.py).  OUT may
not be, contain or lie inside a source folder.  Errors are one line ``error: ...`` with exit
status 2 (``--debug``: the traceback).

Speed: ``--batch-size`` pairs per network call; ``--workers`` threads read the next pairs and
as many write the previous batches' PNGs while the network runs (default: 8 at most on CUDA,
0 on the CPU, where the network already uses every core; the files are the same either way);
``--amp`` (CUDA only) runs PSFusion under bf16 autocast.
"""
import argparse
import inspect
import json
import os
import sys

import psfusion  # noqa: F401  (mmcv-lite compatibility before any mmseg import)
import torch

from psfusion.cli import add_debug_argument, run_tool
from psfusion.data.layouts import LAYOUTS, layout_class
from psfusion.engine.allocator import keep_freed_memory
from psfusion.fusers import fuser_class, fuser_names
from psfusion.fusing import DEFAULT_MAX_PIXELS, FusingError, fuse_dataset

#: Layout options given on the command line (passed to layouts that take them).
LAYOUT_OPTIONS = ('ir_dir', 'vi_dir', 'label_dir')


class Parser(argparse.ArgumentParser):
    """Bad arguments: one line ``error: ...`` and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:
        print(f'error: {message}', file=sys.stderr)
        sys.exit(2)


def fail(message: str) -> None:
    raise FusingError(message)


def max_pixels(text: str):
    """``--max-pixels``: a positive integer or ``auto`` (None)."""
    if text == 'auto':
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = Parser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='--method psfusion: the model config')
    parser.add_argument('checkpoint', nargs='?',
                        help="--method psfusion: checkpoint file, or 'none' for random weights")
    parser.add_argument('--method', default='psfusion', choices=fuser_names(),
                        help='fusion method (default: psfusion)')
    parser.add_argument('--src', required=True, help='source dataset root')
    parser.add_argument('--layout', required=True, choices=list(LAYOUTS))
    parser.add_argument('--out', required=True, help='output root')
    parser.add_argument('--split', default='test',
                        help="split(s) to fuse, comma-separated, all into the same OUT (e.g. "
                        "--split train,test for a benchmark source); 'all': the layout's "
                        "listing without a split (every MFNet image); ignored by folders")
    parser.add_argument('--save-seg', action='store_true',
                        help="also write the semantic head's predictions (seg_pred/)")
    parser.add_argument('--batch-size', type=int, default=1,
                        help='pairs per network call (same-size pairs only; a speed setting)')
    parser.add_argument('--workers', type=int, default=None,
                        help='threads reading the next pairs, and as many writing PNGs, while '
                        'the network runs (default: min(8, CPU cores) on CUDA, 0 on the CPU); '
                        'the written files do not depend on it')
    parser.add_argument('--amp', action='store_true',
                        help='psfusion on CUDA: run the network under bf16 autocast (the '
                        'GPU\'s bf16 convolutions; pixels differ from float32 by rounding: '
                        'benchmarks/bench_fuse.py --throughput --amp counts them); refused '
                        'on the CPU')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--no-optimise', action='store_true',
                        help='run the eager training-form network (no BatchNorm folding, no '
                        'channels-last, default memory allocator settings)')
    parser.add_argument('--tf32', action='store_true',
                        help='psfusion on CUDA: allow TF32 math (faster; the images move by '
                        'several levels and depend on the batch size)')
    parser.add_argument('--colour', choices=('y', 'rgb'), default=None,
                        help="classical methods (gtf, adf, gff, msvd): y = fuse the visible "
                        "luma and keep its chroma (default), rgb = fuse each visible channel "
                        "(VIFB's way)")
    parser.add_argument('--limit', type=int, default=None, help='fuse only the first N pairs')
    parser.add_argument('--ir-dir', default=None, help='folders layout: infrared folder (ir)')
    parser.add_argument('--vi-dir', default=None, help='folders layout: visible folder (vi)')
    parser.add_argument('--label-dir', default=None,
                        help='label folder to copy (folders layout; or the MSRS label folder '
                        'name)')
    parser.add_argument('--max-pixels', type=max_pixels, default=None, metavar='N|auto',
                        help='largest image area, in pixels after padding to the method\'s '
                        'multiple (32 for psfusion), fused in one call; a larger image is fused '
                        'in overlapping tiles (psfusion: 64 pixels) blended with cosine ramps, '
                        'so its memory stays bounded (psfusion needs about 40 bytes per pixel '
                        'per fuse channel: 1.3 KB light, 2.6 KB paper network). auto (default): '
                        'half the available memory (free memory, cgroup limit or ulimit -v, '
                        f'the smallest) over that, at most {DEFAULT_MAX_PIXELS} (2048 x 2048), '
                        'so a 1920 x 1080 frame fuses whole where memory allows. Tiling is not '
                        'exact: keep the budget above the image size whenever memory allows')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1, got {args.batch_size}')
    if args.workers is not None and args.workers < 0:
        parser.error(f'--workers must be 0 or more, got {args.workers}')
    return args


def io_workers(args: argparse.Namespace) -> int:
    """``--workers``, or its default: up to 8 on CUDA (the network leaves the CPU free for
    decoding and PNG encoding), 0 on the CPU (the network uses every core)."""
    if args.workers is not None:
        return args.workers
    if torch.device(args.device).type == 'cuda':
        return min(8, os.cpu_count() or 1)
    return 0


def layout_options(args: argparse.Namespace) -> dict:
    """The ``--ir-dir`` / ``--vi-dir`` / ``--label-dir`` given, checked against what the
    layout takes."""
    accepted = inspect.signature(layout_class(args.layout)).parameters
    options = {}
    for key in LAYOUT_OPTIONS:
        value = getattr(args, key)
        if value is None:
            continue
        if key not in accepted:
            fail(f'--{key.replace("_", "-")} does not apply to the {args.layout} layout')
        options[key] = value
    return options


def fuser_config(args: argparse.Namespace) -> dict:
    """Arguments of the chosen method from the command line."""
    cfg = dict(type=args.method, device=args.device)
    if fuser_class(args.method).uses_model_files:
        if not (args.config and args.checkpoint):
            fail(f'--method {args.method} needs CONFIG and CHECKPOINT (checkpoint may be '
                 f"'none' for random weights)")
        cfg.update(config=args.config, checkpoint=args.checkpoint,
                   optimise=not args.no_optimise, tf32=args.tf32)
        if args.amp:
            if torch.device(args.device).type != 'cuda':
                fail(f'--amp (bf16 autocast) needs a CUDA device, got --device {args.device}: '
                     f'on the CPU bf16 moved most fused pixels by more than one grey level '
                     f'(random weights; issue 15); drop --amp to fuse in float32')
            cfg['amp'] = True
    elif args.amp:
        fail(f'--amp does not apply to --method {args.method}')
    elif args.config or args.checkpoint:
        fail(f'--method {args.method} takes no CONFIG or CHECKPOINT (got '
             f'{" ".join(a for a in (args.config, args.checkpoint) if a)})')
    if args.colour is not None:
        if 'colour' not in inspect.signature(fuser_class(args.method)).parameters:
            fail(f'--colour does not apply to --method {args.method}')
        cfg['colour'] = args.colour
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    split = None if args.split == 'all' else args.split
    method, options = fuser_config(args), layout_options(args)
    try:  # the source is listed (and checked) before the method is built
        summary = fuse_dataset(method, args.src, args.layout, args.out, split=split,
                               save_seg=args.save_seg, batch_size=args.batch_size,
                               limit=args.limit, layout_options=options,
                               max_pixels=args.max_pixels, workers=io_workers(args),
                               # reuse freed feature maps instead of re-faulting them; set
                               # after the complexity count, whose traced forward would
                               # otherwise stay resident in the kept heap (about 1 GB)
                               before_fusing=None if args.no_optimise else keep_freed_memory)
    except FileNotFoundError as exc:  # e.g. a missing CONFIG (mmengine)
        raise FusingError(str(exc)) from exc
    print(json.dumps(dict(summary.__dict__, threads=torch.get_num_threads(),
                          workers=io_workers(args), amp=args.amp,
                          seconds_per_pair=summary.seconds / max(summary.written, 1)),
                     indent=1))
    print(f'manifest: {os.path.join(args.out, "manifest.json")}')


if __name__ == '__main__':
    sys.exit(run_tool(main))
