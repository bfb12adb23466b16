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
  ``--reference-pairs`` (the identical-values check, at the speed of per-image evaluators).

Example:
    python benchmarks/bench_metrics.py --data ../shared/data/msrs_sample/test --repeat 2
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from psfusion.data.io import list_images, read_array
from psfusion.metrics.folders import pair_folder, score_triples
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
    return parser.parse_args(argv)


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
          f'fused = rint((IR + luma(VI)) / 2)\n')
    import cv2
    import torch
    cv2.setNumThreads(1)
    torch.set_num_threads(1)

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
        for stem, _, _, fused in pairs:
            Image.fromarray(fused).save(Path(tmp) / f'{stem}.png')
        triples = pair_folder(os.path.join(args.data, 'ir'), os.path.join(args.data, 'vi'),
                              tmp, 'average')
        from_disk, walls, cpus = timed(
            lambda: score_triples(triples, PAPER_METRICS, 'default', args.workers),
            args.repeat)
    rows.append((f'ours: six metrics, {args.workers} processes, reading the PNGs '
                 f'(tools/eval_fusion.py)', fmt(walls, cpus)))
    assert all(a == b for a, b in zip(from_disk, ours)), 'disk and memory scores differ'
    print(f'1-minute load average: {load_at_start:.2f} at start, {os.getloadavg()[0]:.2f} now '
          f'(above 0: other processes shared the {os.cpu_count()} cores)')
    print('| what | wall time, best (all runs) | CPU time, best (all processes) |\n|---|---|---|')
    for what, when in rows:
        print(f'| {what} | {when} |')
    print(flush=True)
    means = {m: np.mean([s[m] for s in ours]) for m in PAPER_METRICS}
    print('our means: ' + ', '.join(f'{m} {v:.4f}' for m, v in means.items()) + '\n')
    if args.skip_libraries:
        return
    compare_libraries(pairs, ours, args.repeat, args.piq_float64_pairs, args.reference_pairs)


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
