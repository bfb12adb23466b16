"""Downstream segmentation benchmark: train and test segmenters on each input source.

One mmengine Runner per (segmenter, source, seed): train on the training split, evaluate on the
test split (with --tta: multi-scale + flip test-time augmentation, a row with tta=True), append
a row to WORK_DIR/results.csv.  Finished runs are skipped; interrupted runs resume.  First the
plan (every run, its state, its cost in GPU hours; --plan: only that), then preflight (every
input every run needs, all problems at once, exit 2 before training); a run that fails after
that is recorded (failed.json in its folder) and the others go on (exit 1, counting them).
--status: the state of every run of the work dir.  Prints the per-class table of each
segmenter at the end.  Left out: --dataset msrs, --data-root data/MSRS (or
$PSFUSION_DATA_ROOT/MSRS), --sources ir, vi and every fused dataset in
work_dirs/fused/<dataset>/<name>/ (with its manifest.json).

Examples:
    python tools/benchmark_downstream.py --seg segnext_l --seeds 0,1,2 --plan
    python tools/benchmark_downstream.py --seg segnext_l --seeds 0,1,2
    python tools/benchmark_downstream.py --seg segnext_l --status
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
import dataclasses
import os
import sys
import time

import psfusion  # noqa: F401  (must precede any mmseg import)
from mmengine.config import DictAction

from psfusion.benchmark.catalog import (DATASETS, SEGMENTERS, check_dataset, check_inputs,
                                        dataset_title, parse_segmenters)
from psfusion.benchmark.defaults import (DATA_ROOT_ENV, DEFAULT_DATASET, check_data_root,
                                         default_data_root, default_sources, describe_sources)
from psfusion.benchmark import executors
from psfusion.benchmark.evaluate_only import check_load_from, evaluate_checkpoint
from psfusion.benchmark.fused_sources import materialize_sources
from psfusion.benchmark.distributed import (LAUNCHERS, in_process_group, is_main_process,
                                            main_process_first, run_in_process_group)
from psfusion.benchmark.plan import (REFERENCE_GPU, detect_gpu, format_plan, format_status,
                                     last_error_line, plan_runs, work_status)
from psfusion.benchmark.preflight import PreflightError, preflight
from psfusion.benchmark.pretrained import PRETRAINED_MODES
from psfusion.benchmark.report import segmenter_summary
from psfusion.benchmark.results import RunKey
from psfusion.benchmark.run_config import SCHEDULES, RunOptions, RunSpec
from psfusion.benchmark.run_paths import WorkDir
from psfusion.benchmark.runner import run_benchmark
from psfusion.benchmark.sources import parse_sources
from psfusion.cli import add_debug_argument, run_tool
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
    parser.add_argument('--seg',
                        help=f'segmenter(s), comma-separated, or all: {", ".join(SEGMENTERS)} '
                        '(required, except with --status)')
    parser.add_argument('--dataset', default=DEFAULT_DATASET, help='one of ' + ', '.join(
        f'{name} ({dataset_title(name)})' for name in DATASETS) + f' (default: {DEFAULT_DATASET})')
    parser.add_argument('--data-root',
                        help='the original dataset (labels); default: the dataset\'s own, '
                        f'data/MSRS, data/MFNet, data/FMB, or under ${DATA_ROOT_ENV} (the folder '
                        'holding MSRS/, MFNet/, FMB/)')
    parser.add_argument('--sources',
                        help='comma-separated: ir, vi, a built-in fusion method (avg, gtf, ...: '
                        'fused on first use into WORK_DIR/fused/<name>/), NAME=DIR (a folder of '
                        'fused images), rgbt (visible + infrared, for the feature-level '
                        'segmenters). Each segmenter runs on the sources it takes. Default: ir, '
                        'vi and every fused dataset in work_dirs/fused/<dataset>/<name>/ with a '
                        'manifest.json (rgbt for feature-level segmenters)')
    parser.add_argument('--schedule', choices=tuple(SCHEDULES),
                        help="training schedule (default: the config's: 160k for MSRS, MFNet and "
                        "FMB (BANet: its own 80k), quick for synthetic)")
    parser.add_argument('--seeds', type=parse_seeds, default=[0], help='e.g. 0,1,2')
    parser.add_argument('--tta', action='store_true',
                        help='evaluate with multi-scale + flip test-time augmentation '
                        '(rows with tta=True; reuses the weights of a finished run)')
    parser.add_argument('--work-dir', help='default: work_dirs/benchmark/<dataset>')
    parser.add_argument('--plan', action='store_true',
                        help='print every run, its state (done, partial at iteration N, failed, '
                        'to run) and its estimated GPU hours, then exit')
    parser.add_argument('--status', action='store_true',
                        help='print the state of every run of the work dir (and of the runs '
                        '--seg/--sources/--seeds name), then exit; builds nothing, reads no data')
    parser.add_argument('--gpu', help='the GPU of the cost estimate (default: the visible CUDA '
                        f'device, else {REFERENCE_GPU}; measured: see psfusion/benchmark/plan.py)')
    parser.add_argument('--pretrained', choices=PRETRAINED_MODES, default='on',
                        help="ImageNet backbone weights: on = required (stop before training "
                        "if unreachable), auto = use them where reachable, off = from scratch")
    parser.add_argument('--workers', type=int, help="DataLoader workers (default: config's)")
    parser.add_argument('--batch-size', type=int, help='training batch size override')
    parser.add_argument('--max-iters', type=int, help='training length override (smoke runs)')
    parser.add_argument('--image-size', type=parse_size, help='HxW override (smoke runs)')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='train each run data-parallel over the processes of this launcher '
                        '(pytorch: under torchrun, see tools/dist_benchmark.sh); the batch stays '
                        'the total (per process: total / processes), BN becomes SyncBN on GPUs; '
                        'the recipe hash does not change')
    parser.add_argument('--amp', action='store_true',
                        help='train with bf16 autocast (AmpOptimWrapper, dtype bfloat16): '
                        'another recipe, another config hash')
    parser.add_argument('--config-dir', help='folder of the mmseg configs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override values of every run config, e.g. '
                        'model.backbone.init_cfg.checkpoint=PATH (part of the run hash)')
    parser.add_argument('--load-from', metavar='CHECKPOINT',
                        help='evaluate this trained segmenter on the test split without training '
                        '(one --seg, one source; mmseg 1.x checkpoints and the PSFusion authors\' '
                        'mmseg 0.24 SegNeXt/SegFormer ones, renamed on loading): a row with '
                        'schedule "evaluated", iters 0 and the file in the pretrained column')
    parser.add_argument('--executor', choices=executors.EXECUTORS,
                        help='run each pending run (to run, partial, failed) as its own job: '
                        'local = up to --max-parallel processes here (one GPU set each), '
                        'slurm = one Slurm job array (submitit; logs in WORK_DIR/slurm/, '
                        'requeued on preemption). Default: one after the other in this process')
    parser.add_argument('--max-parallel', type=int, default=1,
                        help='--executor: runs at once (local processes, Slurm array tasks)')
    parser.add_argument('--slurm-partition', help='--executor slurm: the partition')
    parser.add_argument('--gpus-per-run', type=int, default=1,
                        help='--executor: GPUs given to each run (default: 1; a job trains in '
                        'one process, so more only reserves them)')
    parser.add_argument('--cpus-per-run', type=int,
                        help="--executor slurm: CPUs of each run (default: the cluster's)")
    parser.add_argument('--time', default='24:00:00',
                        help='--executor slurm: time limit of each run, minutes or HH:MM:SS '
                        '(default: 24:00:00; a run cut off is requeued and resumes)')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if not args.seg and not args.status:
        parser.error('the following arguments are required: --seg')
    if args.load_from and args.launcher != 'none':
        parser.error('--load-from evaluates in one process: drop --launcher')
    return args


def fail(exc: BaseException, debug: bool) -> int:
    """``error: <message>`` on stderr and exit status 2 (``--debug``: the traceback)."""
    if debug:
        raise exc
    print(f'error: {exc}', file=sys.stderr)
    return 2


def fused_before(sources, work: WorkDir):
    """Built-in sources with their folder where an earlier call fused them (for the plan)."""
    return [dataclasses.replace(source, folder=work.fused_dir(source.name))
            if source.is_builtin and os.path.isdir(work.fused_dir(source.name)) else source
            for source in sources]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.launcher != 'none' and not in_process_group():
        # the process group is started once, for every run, and torn down at the end
        return run_in_process_group(args.launcher, main, argv)
    try:
        dataset = check_dataset(args.dataset)
        segmenters = parse_segmenters(args.seg) if args.seg else []
        sources = (parse_sources(args.sources) if args.sources
                   else default_sources(dataset, segmenters))
        pairs = check_inputs(segmenters, sources) if segmenters else []  # each takes a source
        work = WorkDir(args.work_dir or os.path.join('work_dirs', 'benchmark', dataset))
        if args.status:
            keys = [RunKey(dataset, seg, src.name, seed, args.tta)
                    for seg, src in pairs for seed in args.seeds]
            print(format_status(work_status(work.root, keys), work.root))
            return 0
        if args.load_from:
            check_load_from(args.load_from, segmenters, sources)
        data_root = args.data_root or default_data_root(dataset)
        check_data_root(dataset, data_root, given=bool(args.data_root))
        work.check_dataset(dataset)
    except (ValueError, PsfusionError) as exc:
        return fail(exc, args.debug)
    if not args.sources:
        print(describe_sources(sources))
    options = RunOptions(data_root=data_root, work_dir=work.root, schedule=args.schedule,
                         pretrained='off' if args.load_from else args.pretrained,
                         config_dir=args.config_dir,
                         workers=args.workers, batch_size=args.batch_size,
                         max_iters=args.max_iters, image_size=args.image_size,
                         cfg_options=args.cfg_options, launcher=args.launcher, amp=args.amp)
    if args.load_from:
        return evaluate_only(args, dataset, segmenters, sources, work, options)
    try:
        gpu = args.gpu or detect_gpu()
        pairs = check_inputs(segmenters, fused_before(sources, work))
        plan = format_plan(plan_runs(dataset, pairs, args.seeds, options, args.tta, gpu),
                           gpu, work.root)
        if is_main_process():  # under a launcher every rank plans; one prints
            print(plan)
        if args.plan:
            return 0
        problems = preflight(dataset, data_root, segmenters, sources, work.root,
                             args.pretrained, args.config_dir, args.cfg_options)
        if problems:
            raise PreflightError(problems)
        # fused once by rank 0 under a launcher; the others then find them
        sources = main_process_first(materialize_sources, sources, dataset, data_root, work,
                                     log=print)
        if is_main_process():
            work.record_sources(dataset, data_root, sources)
    except (ValueError, PsfusionError) as exc:
        return fail(exc, args.debug)
    return run_all(args, dataset, segmenters, sources, work, options)


def run_all(args, dataset, segmenters, sources, work: WorkDir, options: RunOptions) -> int:
    """Every run after preflight: a failing one is recorded and the others go on."""
    start = time.perf_counter()
    pairs = check_inputs(segmenters, sources)  # feature-level segmenters take rgbt only
    specs = [RunSpec.of(dataset, segmenter, source, seed, args.tta)
             for segmenter, source in pairs for seed in args.seeds]
    if args.executor:  # each pending run as its own job (psfusion/benchmark/executors.py)
        try:
            if getattr(args, 'launcher', 'none') != 'none':
                raise ValueError('--executor runs each run as one process on its GPU(s): '
                                 'drop --launcher (or use tools/dist_benchmark.sh alone)')
            settings = executors.ExecutorSettings(
                args.executor, args.max_parallel, args.slurm_partition, args.gpus_per_run,
                args.cpus_per_run, executors.parse_time(args.time))
            planned = plan_runs(dataset, pairs, args.seeds, options, args.tta, args.gpu)
            specs = executors.pending_specs(specs, planned)
            if args.executor == 'slurm':
                executors.submit_slurm(specs, options, settings, log=print)
                return 0
            failed = executors.run_local(specs, options, settings, log=print)
        except (ValueError, PsfusionError) as exc:
            return fail(exc, args.debug)
    else:
        failed = []
    for spec in ([] if args.executor else specs):
        try:
            run_benchmark(spec, options, log=print)
        except Exception as exc:  # noqa: BLE001 - recorded (failed.json); the others go on
            if args.debug:
                raise
            failed.append(f'{spec.key} ({last_error_line(exc)})')
            print(f'error: {spec.key} failed: {exc}', file=sys.stderr)
    for segmenter in segmenters if is_main_process() else []:  # one summary under a launcher
        taken = [src.name for seg, src in pairs if seg == segmenter]
        print(segmenter_summary(work.results, dataset, segmenter, taken, tta=args.tta))
    if is_main_process():
        print(f'results: {work.results} ({time.perf_counter() - start:.0f} s)')
    if failed:
        print(f'{len(failed)} of {len(specs)} runs failed: {"; ".join(failed)}',
              file=sys.stderr)
        return 1
    return 0


def evaluate_only(args, dataset, segmenters, sources, work: WorkDir,
                  options: RunOptions) -> int:
    """--load-from: evaluate one checkpoint on one source (no plan, no pretrained check)."""
    try:
        sources = materialize_sources(sources, dataset, options.data_root, work, log=print)
        work.record_sources(dataset, options.data_root, sources)
    except (ValueError, PsfusionError) as exc:
        return fail(exc, args.debug)
    start = time.perf_counter()
    pairs = check_inputs(segmenters, sources)
    for segmenter, source in pairs:
        for seed in args.seeds:
            try:
                evaluate_checkpoint(RunSpec.of(dataset, segmenter, source, seed, args.tta),
                                    options, args.load_from, log=print)
            except PsfusionError as exc:
                return fail(exc, args.debug)
    for segmenter in segmenters if is_main_process() else []:  # one summary under a launcher
        taken = [src.name for seg, src in pairs if seg == segmenter]
        print(segmenter_summary(work.results, dataset, segmenter, taken, tta=args.tta))
    if is_main_process():
        print(f'results: {work.results} ({time.perf_counter() - start:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
