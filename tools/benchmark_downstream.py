"""Downstream segmentation benchmark: train and test segmenters on each input source.

One mmengine Runner per (segmenter, source, seed): train on the training split, evaluate on the
test split (with --tta: multi-scale + flip test-time augmentation, a row with tta=True), append
a row to WORK_DIR/results.csv.  Finished runs are skipped; interrupted runs resume.  Prints the
per-class table of each segmenter at the end.

Examples:
    python tools/benchmark_downstream.py --seg segnext_l --dataset msrs --data-root data/MSRS \\
        --sources ir,vi,psfusion=work_dirs/fused/msrs,seafusion=results/SeAFusion --seeds 0,1,2
    python tools/benchmark_downstream.py --seg segformer_b2 --dataset msrs --data-root data/MSRS \
        --sources ir --schedule quick --max-iters 20 --image-size 240x320 --pretrained off
    python tools/benchmark_downstream.py --seg segformer_mini --dataset synthetic \\
        --data-root work_dirs/demo/data --sources ir,vi,psfusion=work_dirs/demo/fused \\
        --schedule quick --work-dir work_dirs/demo
    python tools/benchmark_downstream.py --seg segformer_b2 --dataset fmb --data-root data/FMB \\
        --sources ir,vi,avg=work_dirs/fused/fmb_avg
    python tools/benchmark_downstream.py --seg segnext_b --dataset msrs --data-root data/MSRS \\
        --sources psfusion=work_dirs/fused/msrs --load-from checkpoints/segnext_msrs.pth
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import psfusion  # noqa: F401  (must precede any mmseg import)
from mmengine.config import DictAction

from psfusion.benchmark.catalog import (DATASETS, SEGMENTERS, check_dataset, check_inputs,
                                        config_path, dataset_title, parse_segmenters)
from psfusion.benchmark.evaluate_only import check_load_from, evaluate_checkpoint
from psfusion.benchmark.fused_sources import materialize_sources
from psfusion.benchmark.pretrained import PRETRAINED_MODES, resolve_pretrained
from psfusion.benchmark.report import segmenter_summary
from psfusion.benchmark.run_config import SCHEDULES, RunOptions, RunSpec, load_config
from psfusion.benchmark.run_paths import WorkDir
from psfusion.benchmark.runner import run_benchmark
from psfusion.benchmark.sources import parse_sources
from psfusion.cli import add_debug_argument, run_tool
from psfusion.config_options import apply_cfg_options
from psfusion.errors import PsfusionError


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'image size {text!r}: use HxW, e.g. 64x80') from None
    return h, w


def parse_seeds(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'seeds {text!r}: use integers, e.g. 0,1,2') from None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n')[-1])
    parser.add_argument('--seg', required=True,
                        help=f'segmenter(s), comma-separated, or all: {", ".join(SEGMENTERS)}')
    parser.add_argument('--dataset', required=True, help='one of ' + ', '.join(
        f'{name} ({dataset_title(name)})' for name in DATASETS))
    parser.add_argument('--data-root', required=True, help='the original dataset (labels)')
    parser.add_argument('--sources', required=True,
                        help='comma-separated: ir, vi, a built-in fusion method (avg, gtf, ...: '
                        'fused on first use into WORK_DIR/fused/<name>/), NAME=DIR (a folder of '
                        'fused images), rgbt (visible + infrared, for the feature-level '
                        'segmenters). Each segmenter runs on the sources it takes.')
    parser.add_argument('--schedule', choices=tuple(SCHEDULES),
                        help="training schedule (default: the config's: 160k for MSRS, MFNet and "
                        "FMB (BANet: its own 80k), quick for synthetic)")
    parser.add_argument('--seeds', type=parse_seeds, default=[0], help='e.g. 0,1,2')
    parser.add_argument('--tta', action='store_true',
                        help='evaluate with multi-scale + flip test-time augmentation '
                        '(rows with tta=True; reuses the weights of a finished run)')
    parser.add_argument('--work-dir', help='default: work_dirs/benchmark/<dataset>')
    parser.add_argument('--pretrained', choices=PRETRAINED_MODES, default='on',
                        help="ImageNet backbone weights: on = required (stop before training "
                        "if unreachable), auto = use them where reachable, off = from scratch")
    parser.add_argument('--workers', type=int, help="DataLoader workers (default: config's)")
    parser.add_argument('--batch-size', type=int, help='training batch size override')
    parser.add_argument('--max-iters', type=int, help='training length override (smoke runs)')
    parser.add_argument('--image-size', type=parse_size, help='HxW override (smoke runs)')
    parser.add_argument('--config-dir', help='folder of the mmseg configs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override values of every run config, e.g. '
                        'model.backbone.init_cfg.checkpoint=PATH (part of the run hash)')
    parser.add_argument('--load-from', metavar='CHECKPOINT',
                        help='evaluate this trained segmenter on the test split without training '
                        '(one --seg, one source; mmseg 1.x checkpoints and the PSFusion authors\' '
                        'mmseg 0.24 SegNeXt/SegFormer ones, renamed on loading): a row with '
                        'schedule "evaluated", iters 0 and the file in the pretrained column')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        dataset = check_dataset(args.dataset)
        segmenters = parse_segmenters(args.seg)
        sources = parse_sources(args.sources)
        check_inputs(segmenters, sources)  # each segmenter needs a source it takes
        if args.load_from:
            check_load_from(args.load_from, segmenters, sources)
    except (ValueError, PsfusionError) as exc:
        if args.debug:
            raise
        print(f'error: {exc}', file=sys.stderr)
        return 2
    try:  # before any training: every segmenter's pretrained backbone must be readable
        for segmenter in ([] if args.load_from else segmenters):  # --load-from: no backbone
            cfg = load_config(str(config_path(segmenter, dataset, args.config_dir)))
            apply_cfg_options(cfg, args.cfg_options)
            resolve_pretrained(cfg, args.pretrained, log=lambda message: None)
    except (PsfusionError, FileNotFoundError) as exc:
        if args.debug:
            raise
        print(f'error: {segmenter}: {exc}', file=sys.stderr)
        return 2
    work = WorkDir(args.work_dir or os.path.join('work_dirs', 'benchmark', dataset))
    try:
        work.check_dataset(dataset)
        sources = materialize_sources(sources, dataset, args.data_root, work, log=print)
        work.record_sources(dataset, args.data_root, sources)
    except (ValueError, PsfusionError) as exc:
        if args.debug:
            raise
        print(f'error: {exc}', file=sys.stderr)
        return 2
    options = RunOptions(data_root=args.data_root, work_dir=work.root, schedule=args.schedule,
                         pretrained='off' if args.load_from else args.pretrained,
                         config_dir=args.config_dir,
                         workers=args.workers, batch_size=args.batch_size,
                         max_iters=args.max_iters, image_size=args.image_size,
                         cfg_options=args.cfg_options)
    start = time.perf_counter()
    pairs = check_inputs(segmenters, sources)  # feature-level segmenters take rgbt only
    for segmenter, source in pairs:
        for seed in args.seeds:
            spec = RunSpec.of(dataset, segmenter, source, seed, args.tta)
            try:
                if args.load_from:
                    evaluate_checkpoint(spec, options, args.load_from, log=print)
                else:
                    run_benchmark(spec, options, log=print)
            except PsfusionError as exc:
                if args.debug:
                    raise
                print(f'error: {exc}', file=sys.stderr)
                return 2
    for segmenter in segmenters:
        taken = [src.name for seg, src in pairs if seg == segmenter]
        print(segmenter_summary(work.results, dataset, segmenter, taken, tta=args.tta))
    print(f'results: {work.results} ({time.perf_counter() - start:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
