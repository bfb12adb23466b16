"""Time PSFusion fusing: ``tools/fuse.py`` processes side by side, or throughput (pairs/s).

**Tool mode** (default): each measurement is a fresh ``tools/fuse.py`` process (so its peak
memory is its own) on the same pairs with the same thread count; the modes alternate (eager,
optimised, eager, ...) so that a busy shared machine slows both alike.  Reported per run:
seconds per pair (the writer's own timer: loading, network, colour, PNG writing; not the
process start), peak resident memory.

* ``eager``: the training-form network in eval mode (BatchNorm separate, NCHW tensors);
* ``optimised``: BatchNorm folded into the convolutions, channels-last tensors (the default);
* ``baseline``: the optimised path of another checkout (``--baseline-repo DIR``: its
  ``tools/fuse.py`` with ``PYTHONPATH=DIR``), to compare code versions side by side.

**Throughput mode** (``--throughput``; :func:`fuse_figures`, which ``benchmarks/gpu_check.py``
calls): in one process, the network alone (``PSFusionFuser.fuse`` on device-resident batches:
padding, network, colour merge) and end to end (:func:`psfusion.fusing.fuse_dataset`: PNG
decoding, the network, colour, PNG encoding and atomic writing, with ``--workers`` I/O threads),
each in float32 and, with ``--amp``, under bf16 autocast, at ``--batch``.  Each figure is one
JSON line with the command, the machine and its ratio to the float32 figure (bf16) or to the
previous measured figure where one is known; the last line counts the pixels of the written
PNGs that differ between bf16 and float32 (8-bit values).

Examples:
    python benchmarks/bench_fuse.py --pairs 10 --rounds 2 --threads 2          # tool mode
    python benchmarks/bench_fuse.py --throughput --amp --batch 8               # on a GPU
    python benchmarks/bench_fuse.py --throughput --device cpu --batch 2 --size 96 128 \\
        --pairs 8 --steps 2 --config psfusion/configs/psfusion_light_synthetic.py  # smoke
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / 'psfusion' / 'configs' / 'psfusion_r34_msrs.py'
DEFAULT_SRC = REPO.parent / 'shared' / 'data' / 'msrs_sample'

#: Earlier measured figures (pairs/s) the float32 throughput is compared with: (device name
#: substring, size, batch) -> (figure, where it comes from).
PREVIOUS = {
    ('H200', (480, 640), 4, 'network'): (124.9, 'issue 15: gpu_check.py, batch 4, model.run'),
    ('H200', (480, 640), 1, 'network'): (79.6, 'issue 15: gpu_check.py, batch 1, model.run'),
}


# ------------------------------------------------------------------------------ tool mode
def run_fuse(config: str, checkpoint: str, src: str, out: str, threads: int, pairs: int,
             optimise: bool, batch_size: int, repo: Path = REPO) -> dict:
    """One ``tools/fuse.py`` process (of the checkout ``repo``); returns its JSON summary."""
    cmd = [sys.executable, '-W', 'ignore', str(repo / 'tools' / 'fuse.py'), config, checkpoint,
           '--src', src, '--layout', 'msrs', '--split', 'test', '--out', out, '--threads',
           str(threads), '--limit', str(pairs), '--batch-size', str(batch_size)]
    if not optimise:
        cmd.append('--no-optimise')
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if repo != REPO:
        env['PYTHONPATH'] = str(repo)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(repo))
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    text = proc.stdout
    return json.loads(text[text.index('{'):text.rindex('}') + 1])


def tool_mode(args: argparse.Namespace) -> None:
    modes = list(args.modes)
    if args.baseline_repo:
        modes.append('baseline')
    results: dict = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for mode in modes:
                out = os.path.join(tmp, f'{mode}_{rnd}')
                repo = Path(args.baseline_repo).resolve() if mode == 'baseline' else REPO
                summary = run_fuse(args.config, args.checkpoint, args.src, out, args.threads,
                                   args.pairs, mode != 'eager', args.batch_size, repo)
                per_pair = summary['seconds'] / summary['written']
                results[mode].append((per_pair, summary['peak_rss_mib']))
                print(f'round {rnd + 1} {mode:9s}: {per_pair:6.2f} s/pair, peak RSS '
                      f'{summary["peak_rss_mib"]:7.0f} MiB ({summary["written"]} pairs, '
                      f'{args.threads} threads)', flush=True)
    print(f'\n{args.pairs} pairs x {args.rounds} rounds, {args.threads} threads, '
          f'batch {args.batch_size}, config {Path(args.config).name}, checkpoint '
          f'{args.checkpoint}; command: {" ".join(sys.argv)}')
    for mode, runs in results.items():
        times = [t for t, _ in runs]
        print(f'{mode:9s}: median {statistics.median(times):.2f} s/pair (min {min(times):.2f}, '
              f'max {max(times):.2f}), peak RSS {max(m for _, m in runs):.0f} MiB')
    if 'baseline' in results and 'optimised' in results:
        ratios = [new / old for (new, _), (old, _) in zip(results['optimised'],
                                                          results['baseline'])]
        print(f'optimised / baseline, per round: {", ".join(f"{r:.2f}" for r in ratios)}')


# ------------------------------------------------------------------------------ throughput
def machine_name(device) -> str:
    """The accelerator's name, or the CPU model and the thread count."""
    import torch

    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as info:
            model = next(line.split(':', 1)[1].strip() for line in info
                         if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{model}, {torch.get_num_threads()} threads'


def _sync(device) -> None:
    import torch

    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def network_pairs_per_second(fuser, batch: int, size: Sequence[int], steps: int,
                             warmup: int) -> float:
    """Pairs/s of ``fuser.fuse`` on one device-resident batch of random 8-bit-valued pairs."""
    import torch

    gen = torch.Generator().manual_seed(0)
    h, w = size
    ir = (torch.randint(0, 256, (batch, 1, h, w), generator=gen).float() / 255).to(fuser.device)
    vi = (torch.randint(0, 256, (batch, 3, h, w), generator=gen).float() / 255).to(fuser.device)
    for _ in range(warmup):
        fuser.fuse(ir, vi)
    _sync(fuser.device)
    start = time.perf_counter()
    for _ in range(steps):
        fuser.fuse(ir, vi)
    _sync(fuser.device)
    return batch * steps / (time.perf_counter() - start)


def replicated_source(root: Path, pairs: int, size: Sequence[int],
                      src: Optional[str] = None) -> tuple[Path, int]:
    """A ``folders`` source (``root/ir``, ``root/vi``) of ``pairs`` pairs: links to the MSRS
    test pairs of ``src`` (cycled; only those of ``size``), or, without ``src``, to a few
    synthetic pairs of ``size`` written here.  Returns the root and the number of distinct
    pairs."""
    from PIL import Image

    h, w = size
    originals = []
    if src and (Path(src) / 'test' / 'ir').is_dir():
        for ir in sorted((Path(src) / 'test' / 'ir').glob('*.png')):
            vi = Path(src) / 'test' / 'vi' / ir.name
            with Image.open(ir) as image:
                if image.size == (w, h) and vi.is_file():
                    originals.append((ir, vi))
    if not originals:
        from psfusion.data.synthetic import write_synthetic_dataset

        synth = root.parent / f'{root.name}_synthetic'
        write_synthetic_dataset(str(synth), num_train=1, num_test=min(pairs, 8), num_val=0,
                                seed=0, height=h, width=w)
        for ir in sorted((synth / 'test' / 'ir').glob('*.png')):
            originals.append((ir, synth / 'test' / 'vi' / ir.name))
    for sub in ('ir', 'vi'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for index in range(pairs):
        ir, vi = originals[index % len(originals)]
        for sub, path in (('ir', ir), ('vi', vi)):
            link = root / sub / f'{index:05d}.png'
            if not link.exists():
                os.symlink(os.path.abspath(path), link)
    return root, len(originals)


def changed_pixels(out_a: Path, out_b: Path) -> dict:
    """Pixels (any channel) and channel values that differ between the PNGs of two fused
    folders, and the largest difference, in 8-bit levels."""
    import numpy as np
    from PIL import Image

    pixels = changed = values = worst = 0
    for path in sorted((out_a / 'fused').glob('*.png')):
        a = np.asarray(Image.open(path)).astype(np.int16)
        b = np.asarray(Image.open(out_b / 'fused' / path.name)).astype(np.int16)
        diff = np.abs(a - b)
        pixels += a.shape[0] * a.shape[1]
        changed += int((diff.reshape(a.shape[0], a.shape[1], -1).max(-1) > 0).sum())
        values += int((diff > 0).sum())
        worst = max(worst, int(diff.max()))
    return dict(pixels=pixels, changed_pixels=changed,
                changed_fraction=changed / max(pixels, 1), changed_channel_values=values,
                max_abs_diff=worst)


def fuse_figures(device: str = 'cuda', batch: int = 8, size: Sequence[int] = (480, 640),
                 amp: bool = True, steps: int = 20, warmup: int = 3, pairs: int = 256,
                 workers: Optional[int] = None, config=str(DEFAULT_CONFIG),
                 checkpoint: str = 'none', src: Optional[str] = str(DEFAULT_SRC),
                 command: Optional[str] = None, cudnn_benchmark: bool = False,
                 emit: Callable[[dict], None] = lambda r: print(json.dumps(r), flush=True)
                 ) -> list[dict]:
    """PSFusion fusing throughput: network alone and end to end, float32 and (``amp``) bf16
    autocast; then the bf16 - float32 pixel differences of the written PNGs.

    Args:
        device: ``'cuda'`` (bf16 autocast runs there), or ``'cpu'`` for a smoke test.
        batch, size: pairs per network call and their ``(height, width)``.
        amp: also measure under bf16 autocast (and count the changed pixels).
        steps, warmup: timed and untimed network calls (network alone).
        pairs: pairs fused end to end (each mode; written to a temporary folder).
        workers: I/O threads of the end-to-end run (default: ``tools/fuse.py``'s, i.e.
            ``min(8, CPU cores)`` on CUDA, 0 on the CPU).
        config, checkpoint: the network (a config file or an mmengine ``Config``; default:
            the paper's, random weights).
        src: an MSRS-layout root whose test pairs of ``size`` are used (cycled) end to end;
            missing or ``None``: synthetic pairs.
        command: printed with each figure (default: this process's command line).
        cudnn_benchmark: let cuDNN time its algorithms (``tools/fuse.py`` does not: the
            chosen kernels, and so the float32 pixels, could change from run to run).
        emit: called with each figure as it is measured (default: print a JSON line).

    Returns:
        The records emitted: ``measure`` (``fuse_network``, ``fuse_end_to_end`` or
        ``fuse_bf16_vs_fp32``), ``math``, ``pairs_per_second``, ``ratio_to_fp32`` (bf16
        figures), ``ratio_to_previous`` (where a previous figure is known), ``machine``,
        ``command`` and the settings.
    """
    import torch

    from psfusion.fusers import PSFusionFuser
    from psfusion.fusing import fuse_dataset

    if amp and torch.device(device).type != 'cuda':
        print('note: bf16 autocast on the CPU is measured only as a smoke test', flush=True)
    if workers is None:
        workers = min(8, os.cpu_count() or 1) if torch.device(device).type == 'cuda' else 0
    if torch.device(device).type == 'cuda':
        torch.backends.cudnn.benchmark = cudnn_benchmark
    size = tuple(int(s) for s in size)
    machine = machine_name(device)
    command = command or ' '.join([Path(sys.executable).name, *sys.argv])
    base = dict(machine=machine, command=command, batch=batch, size=list(size),
                torch=torch.__version__, checkpoint=checkpoint, cudnn_benchmark=cudnn_benchmark,
                config=Path(getattr(config, 'filename', None) or str(config)).name)
    records: list[dict] = []

    def report(record: dict) -> None:
        record = dict(record, **base)
        records.append(record)
        emit(record)

    fuser = PSFusionFuser(config, checkpoint, device=device)
    fuser.complexity(*size)  # before folding: no second network for the writer's count
    maths = ('fp32', 'bf16') if amp else ('fp32', )
    fp32 = {}
    for math in maths:
        fuser.amp = math == 'bf16'
        rate = network_pairs_per_second(fuser, batch, size, steps, warmup)
        record = dict(measure='fuse_network', math=math, pairs_per_second=rate,
                      steps=steps)
        _ratios(record, fp32, machine, size, batch, 'network', rate)
        report(record)
    with tempfile.TemporaryDirectory() as tmp:
        root, distinct = replicated_source(Path(tmp) / 'src', pairs, size, src)
        outs = {}
        for math in maths:
            fuser.amp = math == 'bf16'
            outs[math] = Path(tmp) / f'out_{math}'
            summary = fuse_dataset(fuser, str(root), 'folders', str(outs[math]),
                                   batch_size=batch, progress=False, workers=workers)
            record = dict(measure='fuse_end_to_end', math=math,
                          pairs_per_second=summary.pairs_per_second,
                          pairs=summary.written, distinct_pairs=distinct, workers=workers,
                          seconds=round(summary.seconds, 3))
            _ratios(record, fp32, machine, size, batch, 'end_to_end',
                    summary.pairs_per_second)
            report(record)
        if amp:
            report(dict(measure='fuse_bf16_vs_fp32', math='bf16 vs fp32', pairs=pairs,
                        distinct_pairs=distinct, **changed_pixels(outs['fp32'], outs['bf16'])))
    return records


def _ratios(record: dict, fp32: dict, machine: str, size: tuple, batch: int, what: str,
            rate: float) -> None:
    """Add ``ratio_to_fp32`` (bf16) or ``ratio_to_previous`` (fp32, where known)."""
    if record['math'] == 'fp32':
        fp32[what] = rate
        for (name, p_size, p_batch, p_what), (figure, where) in PREVIOUS.items():
            if name in machine and p_size == size and p_batch == batch and p_what == what:
                record.update(previous=figure, previous_from=where,
                              ratio_to_previous=round(rate / figure, 3))
    else:
        record['ratio_to_fp32'] = round(rate / fp32[what], 3)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=str(DEFAULT_CONFIG))
    parser.add_argument('--checkpoint', default='none')
    parser.add_argument('--src', default=str(DEFAULT_SRC))
    parser.add_argument('--pairs', type=int, default=None,
                        help='pairs per run (tool mode, default 10) or end to end '
                        '(throughput, default 256)')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch-size', '--batch', dest='batch_size', type=int, default=None,
                        help='pairs per network call (tool mode default 1, throughput 8)')
    parser.add_argument('--modes', nargs='+', default=['eager', 'optimised'],
                        choices=['eager', 'optimised'])
    parser.add_argument('--baseline-repo', default=None,
                        help="tool mode: also run another checkout's tools/fuse.py")
    parser.add_argument('--throughput', action='store_true',
                        help='network and end-to-end pairs/s in one process (fuse_figures)')
    parser.add_argument('--device', default=None, help='throughput: default cuda if present')
    parser.add_argument('--amp', action='store_true', help='throughput: also bf16 autocast')
    parser.add_argument('--size', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'))
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--workers', type=int, default=None)
    parser.add_argument('--cudnn-benchmark', action='store_true',
                        help='throughput: let cuDNN time its algorithms (tools/fuse.py does not)')
    args = parser.parse_args(argv)
    if args.throughput:
        import torch

        if args.device == 'cpu':
            torch.set_num_threads(args.threads)
        device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
        fuse_figures(device, args.batch_size or 8, args.size, args.amp, args.steps,
                     args.warmup, args.pairs or 256, args.workers, args.config,
                     args.checkpoint, args.src, cudnn_benchmark=args.cudnn_benchmark)
        return
    args.pairs, args.batch_size = args.pairs or 10, args.batch_size or 1
    if not Path(args.src).is_dir():
        sys.exit(f'{args.src}: source not found (the MSRS sample lives in ../shared/data)')
    tool_mode(args)


if __name__ == '__main__':
    main()
