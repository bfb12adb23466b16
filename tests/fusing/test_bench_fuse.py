"""benchmarks/bench_fuse.py's throughput mode (fuse_figures, which gpu_check.py calls), run as a
CPU smoke test of what one GPU call will measure."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image

from ..fusing_helpers import tiny_config

BENCH = Path(__file__).resolve().parents[2] / 'benchmarks' / 'bench_fuse.py'


def load_bench():
    spec = importlib.util.spec_from_file_location('bench_fuse', BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuse_figures_on_the_cpu(capsys):  # about 3 s on 2 idle cores
    bench = load_bench()
    records = bench.fuse_figures(device='cpu', batch=2, size=(64, 96), amp=True, steps=1,
                                 warmup=1, pairs=5, workers=2, config=tiny_config(),
                                 src=None, command='pytest smoke')
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith('{')]
    assert printed == records
    assert [(r['measure'], r['math']) for r in records] == [
        ('fuse_network', 'fp32'), ('fuse_network', 'bf16'), ('fuse_end_to_end', 'fp32'),
        ('fuse_end_to_end', 'bf16'), ('fuse_bf16_vs_fp32', 'bf16 vs fp32')]
    for record in records:
        assert record['command'] == 'pytest smoke' and 'threads' in record['machine']
        assert record['batch'] == 2 and record['size'] == [64, 96]
    for record in records[:4]:
        assert record['pairs_per_second'] > 0
    for fp32, bf16 in ((records[0], records[1]), (records[2], records[3])):
        ratio = bf16['pairs_per_second'] / fp32['pairs_per_second']
        assert abs(bf16['ratio_to_fp32'] - ratio) < 1e-3 and 'ratio_to_fp32' not in fp32
    assert records[2]['pairs'] == records[3]['pairs'] == 5
    diff = records[4]
    assert diff['pixels'] == 5 * 64 * 96
    assert 0 < diff['changed_pixels'] <= diff['pixels'] and diff['max_abs_diff'] >= 1


def test_changed_pixels_counts_any_channel(tmp_path):
    bench = load_bench()
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[0, 0] = (1, 2, 0)  # one pixel, two channel values
    b[3, 4, 2] = 7
    for name, image in (('a', a), ('b', b)):
        (tmp_path / name / 'fused').mkdir(parents=True)
        Image.fromarray(image).save(tmp_path / name / 'fused' / 'x.png')
    assert bench.changed_pixels(tmp_path / 'a', tmp_path / 'b') == dict(
        pixels=20, changed_pixels=2, changed_fraction=0.1, changed_channel_values=3,
        max_abs_diff=7)
