"""Time the paper's six fusion metrics on the 60 MSRS sample pairs, beside scikit-image and piq.

The fused image of each pair is the rounded average of the infrared image and the visible
image's BT.601 luma (a stand-in method: every metric is defined on it).  Measured:

* ours, one process (images already in memory; per metric and in total);
* ours as ``tools/eval_fusion.py`` runs it: ``--workers`` processes reading the PNGs from disk;
* the same quantities from libraries, where they have them: ``skimage.measure.shannon_entropy``
  (EN) and ``piq.vif_p`` (VIF = vif_p(F, A) + vif_p(F, B); float32 on all pairs, float64 on
  the first ``--piq-float64-pairs``), with the largest difference from our values; library
  timings are single runs (piq takes minutes);
* VIF by the literal MATLAB transcription in ``tests/metrics/reference_impl.py`` on the first
  ``--reference-pairs`` (the identical-values check, at the speed of per-image evaluators);
* the whole ``tools/eval_fusion.py`` command (a new interpreter: start-up, reading, scoring,
  tables and figures), ``--tool-rounds`` times; with ``--baseline DIR`` (an older source tree,
  e.g. ``git archive <commit> | tar -x -C DIR``) the baseline's tool runs in the same rounds,
  alternating with ours, and each figure is printed with its ratio to the baseline's (the
  only comparison that means something on a machine shared with other jobs), as is the
  largest difference between the two tools' CSV values.

Every figure is printed with the command that produced it and the machine (CPU model,
cores, ``OMP_NUM_THREADS``, load average).  The process calls
:func:`~psfusion.metrics.folders.keep_freed_memory`, as the tool and its workers do.

Example:
    python benchmarks/bench_metrics.py --data ../shared/data/msrs_sample/test --repeat 2
    git archive 8cba571 | tar -x -C /tmp/old && OMP_NUM_THREADS=1 \
        python benchmarks/bench_metrics.py --skip-libraries --baseline /tmp/old --tool-rounds 3
"""
from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from psfusion.data.io import list_images, read_array
from psfusion.metrics.folders import keep_freed_memory, pair_folder, score_triples
from psfusion.metrics.profiles import to_grey
from psfusion.metrics.scoring import PAPER_METRICS, score_images


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default='../shared/data/msrs_sample/test',
                        help='folder with ir/ and vi/ (default: %(default)s)')
    parser.add_argument('--repeat', type=int, default=2, help='timed runs of each variant')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--skip-libraries', action='store_true')
    parser.add_argument('--reference-pairs', type=int, default=3,
                        help='pairs for the literal MATLAB transcription of VIF (slow)')
    parser.add_argument('--piq-float64-pairs', type=int, default=10,
                        help='pairs for the float64 piq value check (default: %(default)s)')
    parser.add_argument('--tool-rounds', type=int, default=3,
                        help='timed runs of the whole tools/eval_fusion.py command (0: none)')
    parser.add_argument('--baseline', metavar='DIR',
                        help='an older source tree whose tools/eval_fusion.py runs in the same '
                             'rounds, alternating with ours (ratios to it are printed)')
    parser.add_argument('--tool-args', default='',
                        help='extra options for both tools, e.g. --tool-args=--no-plots')
    return parser.parse_args(argv)


REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    """CPU model, cores, OMP_NUM_THREADS and the load average, for every printed figure."""
    model = 'unknown CPU'
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    load = ', '.join(f'{x:.2f}' for x in os.getloadavg())
    return (f'{model}, {os.cpu_count()} cores, OMP_NUM_THREADS='
            f'{os.environ.get("OMP_NUM_THREADS", "unset")}, load average {load}')


def load_pairs(data: str) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    ir_files = list_images(os.path.join(data, 'ir'))
    vi_files = list_images(os.path.join(data, 'vi'))
    pairs = []
    for stem in sorted(ir_files):
        ir = to_grey(read_array(ir_files[stem]))
        vi = read_array(vi_files[stem])
        fused = np.rint((ir.astype(np.float64) + to_grey(vi)) / 2).astype(np.uint8)
        pairs.append((stem, ir, vi, fused))
    return pairs


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn, repeat: int):
    """(result of the last run, list of wall-clock seconds, list of CPU seconds)."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu_seconds()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu_seconds() - cpu)
    return result, walls, cpus


def fmt(seconds: list[float], cpus: list[float] | None = None) -> str:
    text = f'{min(seconds):.2f} s' + (f' (runs: {", ".join(f"{s:.2f}" for s in seconds)})'
                                      if len(seconds) > 1 else '')
    return text + (f' | {min(cpus):.2f} s' if cpus is not None else '')


def main(argv=None) -> None:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    pairs = load_pairs(args.data)
    height, width = pairs[0][1].shape
    print(f'{len(pairs)} pairs of {width}x{height} from {args.data}; {os.cpu_count()} cores; '
          f'fused = rint((IR + luma(VI)) / 2)')
    print(f'machine: {machine()}')
    print(f'command: {shlex.join([sys.executable] + sys.argv)}\n')
    import cv2
    cv2.setNumThreads(1)
    keep_freed_memory()  # as tools/eval_fusion.py and its workers do

    def ours_serial():
        return [score_images(ir, vi, fused, PAPER_METRICS) for _, ir, vi, fused in pairs]

    ours, walls, cpus = timed(ours_serial, args.repeat)
    rows = [('ours: six metrics, 1 process, images in memory', fmt(walls, cpus))]
    for metric in PAPER_METRICS:
        _, metric_walls, metric_cpus = timed(
            lambda m=metric: [score_images(ir, vi, fused, [m]) for _, ir, vi, fused in pairs],
            args.repeat)
        rows.append((f'  {metric} alone', fmt(metric_walls, metric_cpus)))

    with tempfile.TemporaryDirectory() as tmp:
        fused_dir = os.path.join(tmp, 'fused')
        os.makedirs(fused_dir)
        for stem, _, _, fused in pairs:
            Image.fromarray(fused).save(Path(fused_dir) / f'{stem}.png')
        triples = pair_folder(os.path.join(args.data, 'ir'), os.path.join(args.data, 'vi'),
                              fused_dir, 'average')
        from_disk, walls, cpus = timed(
            lambda: score_triples(triples, PAPER_METRICS, 'default', args.workers),
            args.repeat)
        rows.append((f'ours: six metrics, {args.workers} processes, reading the PNGs '
                     f'(score_triples, as tools/eval_fusion.py)', fmt(walls, cpus)))
        tool_rows = time_tool(args, fused_dir, Path(tmp) / 'tool')
    assert all(a == b for a, b in zip(from_disk, ours)), 'disk and memory scores differ'
    print(f'1-minute load average: {load_at_start:.2f} at start, {os.getloadavg()[0]:.2f} now '
          f'(above 0: other processes shared the {os.cpu_count()} cores)')
    print('| what | wall time, best (all runs) | CPU time, best (all processes) |\n|---|---|---|')
    for what, when in rows:
        print(f'| {what} | {when} |')
    print(flush=True)
    for line in tool_rows:
        print(line)
    print(flush=True)
    means = {m: np.mean([s[m] for s in ours]) for m in PAPER_METRICS}
    print('our means: ' + ', '.join(f'{m} {v:.4f}' for m, v in means.items()) + '\n')
    if args.skip_libraries:
        return
    compare_libraries(pairs, ours, args.repeat, args.piq_float64_pairs, args.reference_pairs)


def time_tool(args: argparse.Namespace, fused_dir: str, out_root: Path) -> list[str]:
    """Run ``tools/eval_fusion.py`` (ours and, with ``--baseline``, the baseline's, alternating)
    ``--tool-rounds`` times; returns the lines to print: each command, each round's wall and
    CPU time (the process and its workers), the ratios, and the CSVs' largest difference."""
    if args.tool_rounds <= 0:
        return []
    trees = [('ours', REPO)]
    if args.baseline:
        trees.insert(0, ('baseline', Path(args.baseline).resolve()))
    commands = {}
    for name, tree in trees:
        cmd = [sys.executable, str(tree / 'tools' / 'eval_fusion.py'),
               '--ir', os.path.join(args.data, 'ir'), '--vi', os.path.join(args.data, 'vi'),
               '--fused', f'average={fused_dir}', '--out', str(out_root / name),
               '--workers', str(args.workers)] + shlex.split(args.tool_args)
        env = dict(os.environ, PYTHONPATH=str(tree))  # this tree's psfusion, not the installed
        commands[name] = (cmd, env, tree)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in trees}
    for _ in range(args.tool_rounds):
        for name, _ in trees:
            cmd, env, tree = commands[name]
            before, wall = _cpu_seconds(), time.perf_counter()
            subprocess.run(cmd, env=env, cwd=tree, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - wall, _cpu_seconds() - before))
    lines = [f'tools/eval_fusion.py, the whole command below (interpreter start-up, reading, '
             f'six metrics, tables{"" if "--no-plots" in args.tool_args else ", figures"}), '
             f'{args.tool_rounds} rounds{", alternating" if len(trees) > 1 else ""}; '
             f'machine: {machine()}']
    for name, _ in trees:
        cmd, _, tree = commands[name]
        lines.append(f'  {name} ({tree}): `cd {tree} && PYTHONPATH={tree} {shlex.join(cmd)}`')
    lines.append('| round | ' + ' | '.join(f'{name} wall (CPU) s' for name, _ in trees) +
                 (' | baseline / ours, wall |' if len(trees) > 1 else ' |'))
    lines.append('|---' * (len(trees) + 1 + (len(trees) > 1)) + '|')
    for k in range(args.tool_rounds):
        cells = [f'{times[name][k][0]:.2f} ({times[name][k][1]:.2f})' for name, _ in trees]
        ratio = ([f'{times["baseline"][k][0] / times["ours"][k][0]:.2f}x']
                 if len(trees) > 1 else [])
        lines.append(f'| {k + 1} | ' + ' | '.join(cells + ratio) + ' |')
    best = {name: min(w for w, _ in times[name]) for name, _ in trees}
    lines.append('| best | ' + ' | '.join(f'{best[name]:.2f}' for name, _ in trees) +
                 (f' | {best["baseline"] / best["ours"]:.2f}x |' if len(trees) > 1 else ' |'))
    if len(trees) > 1:
        lines.append(_csv_difference(out_root / 'baseline' / 'average.csv',
                                     out_root / 'ours' / 'average.csv'))
    return lines


def _csv_difference(baseline: Path, ours: Path) -> str:
    """The largest relative difference per metric column between two tools' CSVs."""
    import pandas as pd
    old, new = pd.read_csv(baseline), pd.read_csv(ours)
    if list(old['image']) != list(new['image']):
        return 'the two tools scored different images'
    diffs = []
    for column in old.columns[1:]:
        a, b = old[column].to_numpy(float), new[column].to_numpy(float)
        rel = np.abs(b - a) / np.maximum(np.abs(a), 1e-300)
        diffs.append(f'{column} {np.nanmax(rel):.1e}')
    return 'largest relative difference, ours vs baseline (CSV): ' + ', '.join(diffs)


def compare_transcription(pairs, ours, count: int) -> None:
    """VIF by the literal transcription of ``vifp_mscale.m`` in ``tests/metrics`` (2-D scipy
    convolutions, one image at a time: the way the per-image Python evaluators compute it)."""
    if count <= 0:
        return
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from tests.metrics.reference_impl import vifp_mscale

    subset = pairs[:count]
    values, walls, _ = timed(lambda: [vifp_mscale(ir, f) + vifp_mscale(to_grey(vi), f)
                                      for _, ir, vi, f in subset], 1)
    rel = max(abs(v - s['VIF']) / abs(s['VIF']) for v, s in zip(values, ours))
    print(f'| VIF | MATLAB vifp_mscale transcribed with scipy.signal.convolve2d (tests) | '
          f'{count} | {fmt(walls)} | {rel:.1e} relative |', flush=True)


def compare_libraries(pairs, ours, repeat: int, float64_pairs: int,
                      reference_pairs: int) -> None:
    """EN from scikit-image; VIF from piq (float32 on every pair: its usual precision and its
    timing; float64 on the first ``float64_pairs`` pairs: the value check, it is ~4x slower)."""
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    print('| metric | library | pairs | time | largest difference from ours |\n'
          '|---|---|---|---|---|', flush=True)
    try:
        from skimage.measure import shannon_entropy
    except ImportError:
        print('| EN | scikit-image | | not installed | |')
    else:
        values, walls, _ = timed(lambda: [shannon_entropy(f) for _, _, _, f in pairs], repeat)
        diff = max(abs(v - s['EN']) for v, s in zip(values, ours))
        print(f'| EN | skimage.measure.shannon_entropy | {len(pairs)} | {fmt(walls)} | '
              f'{diff:.1e} |', flush=True)
    print('| SD, AG, SF, SCD | (none in scikit-image or piq) | | | |')
    compare_transcription(pairs, ours, reference_pairs)
    try:
        import piq
    except ImportError:
        print('| VIF | piq | | not installed | |')
        return
    for dtype, count in ((torch.float32, len(pairs)), (torch.float64, float64_pairs)):
        subset = pairs[:count]
        if not subset:
            continue

        def piq_vif(dtype=dtype, subset=subset):
            out = []
            for _, ir, vi, fused in subset:
                f = torch.tensor(fused, dtype=dtype)[None, None]
                out.append(sum(float(piq.vif_p(f, torch.tensor(s, dtype=dtype)[None, None],
                                               data_range=255.0))
                               for s in (ir, to_grey(vi))))
            return out

        values, walls, _ = timed(piq_vif, 1)
        rel = max(abs(v - s['VIF']) / abs(s['VIF']) for v, s in zip(values, ours))
        print(f'| VIF | piq.vif_p(F, A) + vif_p(F, B), {str(dtype)[6:]}, '
              f'{torch.get_num_threads()} threads | {len(subset)} | {fmt(walls)} | '
              f'{rel:.1e} relative |', flush=True)


if __name__ == '__main__':
    main()
