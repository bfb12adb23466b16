"""Score fused images of one or more methods with the fusion quality metrics.

Examples:
    python tools/eval_fusion.py --ir data/ir --vi data/vi --fused PSFusion=results/psfusion \\
        SeAFusion=results/seafusion --metrics EN,SD,AG,SF,SCD,VIF --out work_dirs/eval
    python tools/eval_fusion.py --ir ../shared/data/vifb/ir --vi ../shared/data/vifb/vi \\
        --fused ADF=../shared/data/vifb/fused/ADF --profile vifb \\
        --metrics EN,AG,SF,SD,MI,Qabf,PSNR,SSIM --out work_dirs/eval_vifb

Writes ``OUT/<NAME>.csv`` per method (``image,<METRIC>...``), ``OUT/summary.md`` and
``OUT/summary.csv`` (mean ± std per method and metric) and ``OUT/<METRIC>.png`` (sorted-value
curves).  Files are paired by name without extension; a missing or mismatched file is an error
(one line, ``error: ...``, exit status 2; ``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from tqdm import tqdm

# Only numpy, Pillow and OpenCV are needed to score (no torch, mmengine or mmseg: seconds of
# start-up); pandas and matplotlib, for the report, are imported while the workers score.
from psfusion.cli import add_debug_argument, run_tool
from psfusion.metrics import report
from psfusion.metrics.folders import (group_by_method, keep_freed_memory, pair_folders,
                                      score_triples)
from psfusion.metrics.profiles import PROFILES
from psfusion.metrics.scoring import ALL_METRICS, PAPER_METRICS, resolve_metrics


def _method(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition('=')
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f'{text!r}: expected NAME=DIR')
    if os.sep in name or name in ('.', '..') or name.lower() == 'summary':
        raise argparse.ArgumentTypeError(f'{name!r}: not usable as a file name (NAME.csv)')
    return name, folder


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[1:]))
    parser.add_argument('--ir', required=True, help='folder of infrared source images')
    parser.add_argument('--vi', required=True, help='folder of visible source images')
    parser.add_argument('--fused', required=True, nargs='+', type=_method, metavar='NAME=DIR',
                        help='fused images of each method')
    parser.add_argument('--metrics', default=','.join(PAPER_METRICS),
                        help=f'comma-separated, from {",".join(ALL_METRICS)} '
                             f'(default: the paper\'s six)')
    parser.add_argument('--profile', default='default', choices=sorted(PROFILES),
                        help='published conventions to follow (default: %(default)s)')
    parser.add_argument('--out', default='work_dirs/eval_fusion', help='output folder')
    parser.add_argument('--workers', type=int, default=None,
                        help='processes (default: all cores; 0 or 1: no subprocess)')
    parser.add_argument('--allow-missing-fused', action='store_true',
                        help='score only the fused images present when a method covers a '
                             'subset of the source pairs (otherwise an error)')
    parser.add_argument('--no-plots', action='store_true', help='skip the PNG figures')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    names = [name for name, _ in args.fused]
    if len(set(names)) != len(names):
        parser.error(f'--fused: a method name is given twice ({", ".join(names)})')
    try:
        labels = [part.strip() for part in args.metrics.split(',') if part.strip()]
        args.labels = dict(zip(resolve_metrics(labels), labels))
    except ValueError as exc:
        parser.error(f'--metrics: {exc}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    keep_freed_memory()  # (for --workers 0 or 1; the workers call it too)
    triples = pair_folders(args.ir, args.vi, dict(args.fused), args.allow_missing_fused)
    with tqdm(total=len(triples), unit='image', desc='scoring', dynamic_ncols=True) as bar:
        scores = score_triples(triples, list(args.labels), args.profile, args.workers,
                               progress=bar.update,
                               meanwhile=lambda: report.import_libraries(not args.no_plots))
    results = group_by_method(triples, scores)
    workers = os.cpu_count() if args.workers is None else max(args.workers, 1)
    written = report.write_report(results, args.labels, args.out, args.profile,
                                  plots=not args.no_plots, workers=workers)
    with open(written['summary.md'], encoding='utf-8') as handle:
        print(handle.read())
    print(f'{len(triples)} fused images of {len(results)} method(s) scored with '
          f'{min(workers, len(triples))} process(es) in {time.perf_counter() - start:.1f} s; '
          f'written to {args.out}/: {", ".join(os.path.basename(p) for p in written.values())}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
