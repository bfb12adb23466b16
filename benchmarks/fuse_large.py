"""Large images in bounded memory: peak memory and time of tools/fuse.py, and how far the tiled
result is from the untiled one.

    # peak memory and time of one W x H pair under a hard memory limit (a cgroup; or ulimit -v)
    python benchmarks/fuse_large.py memory --config psfusion/configs/psfusion_light_synthetic.py \\
        --size 4000x3000 --limit-gib 4 [--limit cgroup|ulimit] [--max-pixels auto] [--threads 2]
    # tiled vs untiled on real pairs (random weights unless --checkpoint)
    python benchmarks/fuse_large.py tiles --config psfusion/configs/psfusion_light_synthetic.py \\
        --pairs ../shared/data/msrs_sample/test --count 4 [--checkpoint FILE] [--grid 2] \\
        [--overlap 64]

``memory`` writes one smooth random pair of the size (a ``folders`` source) into a temporary
folder and runs ``tools/fuse.py`` on it (random weights: the weights do not change memory or
time) in a child process under a hard limit: ``--limit cgroup`` (default) puts it in a new
memory cgroup (v1 ``memory.limit_in_bytes`` or v2 ``memory.max``, below this process's own;
needs write access to it, e.g. root in a container), ``--limit ulimit`` limits its address space
with ``setrlimit(RLIMIT_AS)`` (what ``ulimit -v`` sets).  A CUDA build of PyTorch maps about
2.8 GB of CUDA libraries at import, all counted by ``ulimit -v``: a 4 GiB address space leaves
too little to even fold the network's BatchNorms, whatever the image size, so the cgroup (which
counts memory actually used) is the meaningful hard limit there.  It prints the child's peak
resident memory (``ru_maxrss``), the cgroup's peak usage, wall time, exit status and the tool's
summary as JSON.  ``tiles`` fuses each pair once whole and once with
a pixel budget that forces a ``grid x grid`` tiling, and prints the mean and maximum absolute
difference of the written 8-bit RGB images (grey levels).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, 'tools', 'fuse.py')


def write_pair(folder: str, width: int, height: int, seed: int = 0) -> None:
    """One smooth random pair (low-frequency noise, upsampled), PNG, ``folders`` layout."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for sub, channels in (('ir', 1), ('vi', 3)):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        small = rng.integers(0, 256, (max(2, height // 50), max(2, width // 50), channels),
                             dtype=np.uint8)
        image = Image.fromarray(small[..., 0] if channels == 1 else small)
        image.resize((width, height), Image.BILINEAR).save(os.path.join(folder, sub, 'a.png'))


def memory(args: argparse.Namespace) -> dict:
    width, height = map(int, args.size.lower().split('x'))
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'src')
        write_pair(src, width, height)
        command = [sys.executable, TOOL, args.config, 'none', '--src', src, '--layout',
                   'folders', '--out', os.path.join(tmp, 'out'), '--device', 'cpu',
                   '--threads', str(args.threads), '--max-pixels', args.max_pixels]
        limit = int(args.limit_gib * (1 << 30))
        group = make_cgroup(limit) if args.limit == 'cgroup' else None

        def apply_limit() -> None:
            if group is None:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            else:
                with open(os.path.join(group, 'cgroup.procs'), 'w') as handle:
                    handle.write(str(os.getpid()))

        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        start = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  preexec_fn=apply_limit)
            seconds = time.perf_counter() - start
            group_peak = None
            if group is not None:
                for name in ('memory.max_usage_in_bytes', 'memory.peak'):
                    if os.path.isfile(os.path.join(group, name)):
                        group_peak = int(open(os.path.join(group, name)).read()) >> 20
        finally:
            if group is not None:
                os.rmdir(group)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = None
        if done.returncode == 0:
            summary = json.loads(done.stdout.split('manifest:')[0])
            manifest = json.load(open(os.path.join(tmp, 'out', 'manifest.json')))
            summary['tiles'] = manifest['files']['fused/a.png'].get('tiles')
            summary['tiling'] = manifest['tiling']
    errors = [line for line in done.stderr.replace('\r', '\n').splitlines()
              if 'error' in line.lower()]
    return dict(config=os.path.basename(args.config), size=f'{width}x{height}',
                limit=args.limit, limit_gib=args.limit_gib, threads=args.threads,
                exit_status=done.returncode, wall_seconds=round(seconds, 1),
                child_peak_rss_mib=round(peak), cgroup_peak_mib=group_peak, summary=summary,
                errors=errors[-2:] if done.returncode else [])


def make_cgroup(limit: int) -> str:
    """A new memory cgroup below this process's own, limited to ``limit`` bytes."""
    from psfusion.fusing.memory import _own_cgroup_dirs

    parent = _own_cgroup_dirs()[0]
    group = os.path.join(parent, f'fuse_large_{os.getpid()}')
    os.mkdir(group)
    name = 'memory.max' if os.path.isfile(os.path.join(group, 'memory.max')) \
        else 'memory.limit_in_bytes'
    with open(os.path.join(group, name), 'w') as handle:
        handle.write(str(limit))
    return group


def tiles(args: argparse.Namespace) -> dict:
    import torch

    from psfusion.data.layouts import build_layout
    from psfusion.data.transforms import LoadFusionPair
    from psfusion.fusers import build_fuser
    from psfusion.fusing import fuse_tiled, fused_rgb, plan_tiles
    from psfusion.fusing.tiling import round_up

    torch.set_num_threads(args.threads)
    fuser = build_fuser(dict(type='psfusion', config=args.config,
                             checkpoint=args.checkpoint or 'none'))
    records = build_layout('folders', args.pairs).samples(None, with_label=False)[:args.count]
    rows, load = [], LoadFusionPair()
    div, overlap = fuser.size_multiple, args.overlap or fuser.tile_overlap
    for record in records:
        pair = load(dict(record))
        to = lambda a: torch.from_numpy(  # noqa: E731
            np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float() / 255
        ir, vi = to(pair['ir']), to(pair['vi'])
        height, width = ir.shape[-2:]
        # the budget of a grid x grid tiling: tiles of about 1/grid of each side plus overlap
        tile_h = round_up(-(-(height + (args.grid - 1) * overlap) // args.grid), div)
        tile_w = round_up(-(-(width + (args.grid - 1) * overlap) // args.grid), div)
        plan = plan_tiles(height, width, tile_h * tile_w, overlap, div)
        whole = fused_rgb(fuser.fuse(ir, vi).fused, vi, 'psfusion')[0].astype(int)
        tiled = fused_rgb(fuse_tiled(fuser, ir, vi, plan).fused, vi, 'psfusion')[0].astype(int)
        diff = np.abs(whole - tiled)
        rows.append(dict(name=record['name'], size=f'{width}x{height}',
                         tiles=f'{len(plan.ys)}x{len(plan.xs)} of {plan.tile_w}x{plan.tile_h}',
                         mean=round(float(diff.mean()), 3), max=int(diff.max()),
                         over_5=round(float((diff > 5).mean()), 4)))
    return dict(config=os.path.basename(args.config), checkpoint=args.checkpoint or
                'none (random weights, seed 0)', pairs=args.pairs, overlap=overlap,
                mean_abs=round(float(np.mean([r['mean'] for r in rows])), 3),
                max_abs=max(r['max'] for r in rows), rows=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    mem = sub.add_parser('memory', help='peak memory and time under ulimit -v')
    mem.add_argument('--config', required=True)
    mem.add_argument('--size', default='4000x3000', help='W x H')
    mem.add_argument('--limit-gib', type=float, default=4.0)
    mem.add_argument('--limit', choices=('cgroup', 'ulimit'), default='cgroup')
    mem.add_argument('--max-pixels', default='auto')
    mem.add_argument('--threads', type=int, default=2)
    til = sub.add_parser('tiles', help='tiled vs untiled on real pairs')
    til.add_argument('--config', required=True)
    til.add_argument('--checkpoint', default=None)
    til.add_argument('--pairs', required=True, help='a folder with ir/ and vi/')
    til.add_argument('--count', type=int, default=4)
    til.add_argument('--grid', type=int, default=2, help='tiles per side')
    til.add_argument('--overlap', type=int, default=None,
                     help="tile overlap in pixels (default: the method's, 64 for psfusion)")
    til.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(memory(args) if args.command == 'memory' else tiles(args), indent=1))


if __name__ == '__main__':
    main()
