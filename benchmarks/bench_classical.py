"""Time the classical fusion methods (no network) on 640 x 480 pairs: seconds per pair.

Each method is built as ``tools/fuse.py`` builds it (``dict(type=NAME, colour=...)``) and fuses
the same pairs in this process, one pair per call (the writer's default batch size), after one
warm-up call.  Reported per method and colour mode: wall-clock and CPU seconds per pair (the
fuser's ``fuse`` only: no reading, colour merge or PNG writing), with the thread count, since
the machine may be shared.  Pairs: the first ``--pairs`` of MSRS's test sample in
``../shared/data/msrs_sample`` (640 x 480), or random 640 x 480 pairs where it is absent.

Example (one thread, both colour modes):
    python benchmarks/bench_classical.py --pairs 5 --threads 1 --colour y rgb
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / 'shared' / 'data' / 'msrs_sample'

#: The methods timed by default, one line each.
METHODS = [
    'gff',
    'msvd',
    'adf',
    'gtf',
]


def load_pairs(src: Path, count: int) -> list:
    """``count`` pairs as the writer gives them (``1 x 1`` and ``1 x 3 x H x W`` / 255)."""
    import numpy as np
    import torch
    from PIL import Image

    ir_dir, vi_dir = src / 'test' / 'ir', src / 'test' / 'vi'
    if ir_dir.is_dir() and vi_dir.is_dir():
        stems = sorted(p.name for p in ir_dir.iterdir())[:count]
        images = [(np.asarray(Image.open(ir_dir / s).convert('L')),
                   np.asarray(Image.open(vi_dir / s).convert('RGB'))) for s in stems]
    else:
        rng = np.random.default_rng(0)
        images = [(rng.integers(0, 256, (480, 640), np.uint8),
                   rng.integers(0, 256, (480, 640, 3), np.uint8)) for _ in range(count)]
    return [(torch.from_numpy(ir.astype(np.float32))[None, None] / 255,
             torch.from_numpy(vi.astype(np.float32)).permute(2, 0, 1)[None] / 255)
            for ir, vi in images]


def time_method(name: str, colour: str, pairs: list) -> dict:
    """Seconds per pair of one method in one colour mode."""
    from psfusion.fusers import build_fuser

    fuser = build_fuser(dict(type=name, colour=colour))
    fuser.fuse(*pairs[0])                       # warm-up (imports, caches)
    wall, cpu = time.perf_counter(), time.process_time()
    for ir, vi in pairs:
        fuser.fuse(ir, vi)
    n = len(pairs)
    return dict(method=name, colour=colour, hw=list(pairs[0][1].shape[-2:]), pairs=n,
                wall_s_per_pair=round((time.perf_counter() - wall) / n, 4),
                cpu_s_per_pair=round((time.process_time() - cpu) / n, 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', nargs='+', default=METHODS)
    parser.add_argument('--colour', nargs='+', default=['y'], choices=['y', 'rgb'])
    parser.add_argument('--src', default=str(DEFAULT_SRC))
    parser.add_argument('--pairs', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = str(args.threads)   # numpy is imported after this: its BLAS obeys
    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    pairs = load_pairs(Path(args.src), args.pairs)
    rows = [time_method(name, colour, pairs) for name in args.methods for colour in args.colour]
    print(json.dumps(dict(threads=args.threads, load_average=list(os.getloadavg()),
                          results=rows), indent=2))


if __name__ == '__main__':
    main()
