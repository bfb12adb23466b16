"""Time ``tools/fuse.py`` on real pairs: eager network versus the optimised inference path.

Each measurement is a fresh ``tools/fuse.py`` process (so its peak memory is its own) on the same
pairs with the same thread count; the modes alternate (eager, optimised, eager, ...) so that a
busy shared machine slows both alike.  Reported per run: seconds per pair (the writer's own
timer: loading, network, colour, PNG writing; not the process start), peak resident memory.

* ``eager``: the training-form network in eval mode (BatchNorm separate, NCHW tensors);
* ``optimised``: BatchNorm folded into the convolutions, channels-last tensors (the default).

Both skip the heads fusion does not need and use the fused attention kernel.

Example (the default, reference-sized network with random weights, 2 threads):
    python benchmarks/bench_fuse.py --pairs 10 --rounds 2 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / 'psfusion' / 'configs' / 'psfusion_r34_msrs.py'
DEFAULT_SRC = REPO.parent / 'shared' / 'data' / 'msrs_sample'


def run_fuse(config: str, checkpoint: str, src: str, out: str, threads: int, pairs: int,
             optimise: bool, batch_size: int) -> dict:
    """One ``tools/fuse.py`` process; returns its JSON summary."""
    cmd = [sys.executable, '-W', 'ignore', str(REPO / 'tools' / 'fuse.py'), config, checkpoint,
           '--src', src, '--layout', 'msrs', '--split', 'test', '--out', out, '--threads',
           str(threads), '--limit', str(pairs), '--batch-size', str(batch_size)]
    if not optimise:
        cmd.append('--no-optimise')
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO))
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    text = proc.stdout
    return json.loads(text[text.index('{'):text.rindex('}') + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=str(DEFAULT_CONFIG))
    parser.add_argument('--checkpoint', default='none')
    parser.add_argument('--src', default=str(DEFAULT_SRC))
    parser.add_argument('--pairs', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--modes', nargs='+', default=['eager', 'optimised'],
                        choices=['eager', 'optimised'])
    args = parser.parse_args()
    if not Path(args.src).is_dir():
        sys.exit(f'{args.src}: source not found (the MSRS sample lives in ../shared/data)')
    results: dict = {mode: [] for mode in args.modes}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for mode in args.modes:
                out = os.path.join(tmp, f'{mode}_{rnd}')
                summary = run_fuse(args.config, args.checkpoint, args.src, out, args.threads,
                                   args.pairs, mode == 'optimised', args.batch_size)
                per_pair = summary['seconds'] / summary['written']
                results[mode].append((per_pair, summary['peak_rss_mib']))
                print(f'round {rnd + 1} {mode:9s}: {per_pair:6.2f} s/pair, peak RSS '
                      f'{summary["peak_rss_mib"]:7.0f} MiB ({summary["written"]} pairs, '
                      f'{args.threads} threads)', flush=True)
    print(f'\n{args.pairs} pairs x {args.rounds} rounds, {args.threads} threads, '
          f'batch {args.batch_size}, config {Path(args.config).name}, checkpoint '
          f'{args.checkpoint}')
    for mode, runs in results.items():
        times = [t for t, _ in runs]
        print(f'{mode:9s}: median {statistics.median(times):.2f} s/pair (min {min(times):.2f}, '
              f'max {max(times):.2f}), peak RSS {max(m for _, m in runs):.0f} MiB')


if __name__ == '__main__':
    main()
