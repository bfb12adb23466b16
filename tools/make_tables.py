"""Build the paper's tables (Table 1 and 2 layouts, Table 5, complexity) and figures (the
qualitative one, and Figure 3: mIoU against parameters and GFLOPs) from a benchmark results store.

Feature-level models (``--seg cmx_b2 --sources rgbt``) appear in Table 2 as "feature-level
(ours)" rows named by the model, in the complexity table with their measured counts, and in
Figure 3 (``figure3_<dataset>.png``) beside the image-level pipelines.

Examples:
    python tools/make_tables.py --dataset msrs --format md,csv,tex
    python tools/make_tables.py --dataset synthetic --results work_dirs/demo/results.csv \\
        --out work_dirs/demo
"""
from __future__ import annotations

import argparse
import os
import sys

import psfusion  # noqa: F401  (must precede any mmseg import)
from psfusion.benchmark.catalog import DATASETS, check_dataset
from psfusion.benchmark.report import TableOptions, build_tables
from psfusion.benchmark.tables import DEFAULT_REPORTED, FORMATS
from psfusion.cli import add_debug_argument, run_tool
from psfusion.errors import PsfusionError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n')[-1])
    parser.add_argument('--dataset', required=True, help=f'one of {", ".join(DATASETS)}')
    parser.add_argument('--results', help='results store (default: '
                        'work_dirs/benchmark/<dataset>/results.csv)')
    parser.add_argument('--out', help="output folder (default: the results store's folder)")
    parser.add_argument('--format', default='md',
                        help=f'comma-separated, from {", ".join(FORMATS)} (table.md is '
                        'always written)')
    parser.add_argument('--reported', default='default',
                        help='reported rows: default (' + ', '.join(DEFAULT_REPORTED) +
                        ' + feature-level methods), all, none, or a comma-separated list')
    parser.add_argument('--fusion-source', default='psfusion',
                        help='fused source whose semantic head Table 5 evaluates')
    parser.add_argument('--seg-pred', help='folder of semantic-head class-id PNGs (default: '
                        '<fused folder>/test/seg_pred or <fused folder>/seg_pred)')
    parser.add_argument('--no-figure', action='store_true',
                        help='skip the figures (the qualitative one and Figure 3)')
    parser.add_argument('--figure-images', type=int, default=4)
    parser.add_argument('--figure-seg', help='segmenter whose predictions the figure shows')
    parser.add_argument('--allow-mixed', action='store_true',
                        help='build the tables even when runs of different recipes (schedule, '
                        'iterations, batch, pretrained) would share them; each table then '
                        'lists the recipes in a footnote')
    parser.add_argument('--no-stats', action='store_true',
                        help='skip the intervals, paired comparisons and day/night scores '
                        '(stats.md)')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def reported_selection(text: str):
    if text == 'default':
        return DEFAULT_REPORTED
    if text == 'all':
        return None
    if text == 'none':
        return []
    return [part.strip() for part in text.split(',') if part.strip()]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        dataset = check_dataset(args.dataset)
    except ValueError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    results = args.results or os.path.join('work_dirs', 'benchmark', dataset, 'results.csv')
    if not os.path.isfile(results):
        print(f'error: {results}: results store not found; run '
              f'tools/benchmark_downstream.py first (or pass --results).', file=sys.stderr)
        return 2
    options = TableOptions(
        formats=[f.strip() for f in args.format.split(',') if f.strip()],
        reported=reported_selection(args.reported), fusion_source=args.fusion_source,
        seg_pred=args.seg_pred, figure=not args.no_figure, figure_images=args.figure_images,
        figure_segmenter=args.figure_seg, allow_mixed=args.allow_mixed,
        stats=not args.no_stats)
    out = args.out or os.path.dirname(os.path.abspath(results))
    try:
        written = build_tables(results, dataset, out, options)
    except (ValueError, PsfusionError) as exc:
        if args.debug:
            raise
        print(f'error: {exc}', file=sys.stderr)
        return 2
    with open(written['table.md'], encoding='utf-8') as handle:
        print(handle.read())
    print('written: ' + ', '.join(written[name] for name in sorted(written)))
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
