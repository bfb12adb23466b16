"""Overlapped reading and writing (psfusion/fusing/pipeline.py), the complexity count without
a second network, and ``tools/fuse.py --workers / --amp``."""
from __future__ import annotations

import json
import runpy
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import psfusion.fusers.psfusion as psfusion_fuser
from psfusion.complexity import count_params
from psfusion.fileio import save_png
from psfusion.fusers import PSFusionFuser, load_fusion_model
from psfusion.fusing import fuse_dataset
from psfusion.fusing.pipeline import PngWriter, read_ahead

from ..fusing_helpers import HW, batch_independent_kernels, tiny_config, write_source

TOOL = str(Path(__file__).resolve().parents[2] / 'tools' / 'fuse.py')


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """MSRS layout, 32 x 40: 3 train pairs (+1 val), 2 test."""
    return write_source(tmp_path_factory.mktemp('source'))


@pytest.fixture(scope='module')
def config():
    return tiny_config()


def files_of(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob('*.png'))}


# ------------------------------------------------------------------------------ read_ahead
@pytest.mark.parametrize('workers', [0, 2])
def test_read_ahead_raises_an_error_of_the_items_in_turn(workers):
    def items():
        yield from range(3)
        raise ValueError('bad header')

    got = []
    with pytest.raises(ValueError, match='bad header'):
        for value in read_ahead(items(), lambda item: item, workers, depth=8):
            got.append(value)
    assert got == [0, 1, 2]


@pytest.mark.parametrize('workers', [0, 1, 3])
def test_read_ahead_keeps_the_order_and_raises_in_turn(workers):
    loaded = []

    def load(item):
        time.sleep(0.01 * (item % 3))  # later items may finish first
        if item == 5:
            raise ValueError('bad item 5')
        loaded.append(item)
        return item * 10

    got = []
    with pytest.raises(ValueError, match='bad item 5'):
        for value in read_ahead(range(8), load, workers, depth=4):
            got.append(value)
    assert got == [0, 10, 20, 30, 40]  # everything before the bad item, in order
    if workers == 0:
        assert loaded == [0, 1, 2, 3, 4]


def test_read_ahead_loads_ahead_in_threads_and_bounds_the_cost():
    started, gate = [], threading.Event()

    def load(item):
        started.append(item)
        if item == 0:
            gate.wait(5)
        return item

    values = read_ahead(range(10), load, workers=2, depth=6, cost=lambda item: 1.0,
                        max_cost=3.0)
    first = threading.Thread(target=lambda: started.append(('got', next(values))))
    first.start()
    time.sleep(0.3)
    ahead = sorted(i for i in started if isinstance(i, int))
    assert ahead == [0, 1, 2]  # item 0 blocks: two more read ahead, then the cost bound
    gate.set()
    first.join(5)
    assert list(values) == list(range(1, 10))


# ------------------------------------------------------------------------------ PngWriter
@pytest.mark.parametrize('workers', [0, 3])
def test_png_writer_writes_the_serial_bytes_and_reports_complete_files(tmp_path, workers):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 48, 3), np.uint8) for _ in range(7)]
    for index, image in enumerate(images):
        save_png(image, str(tmp_path / 'serial' / f'{index}.png'))
    written = []
    with PngWriter(str(tmp_path / 'out'), workers) as png:
        for index, image in enumerate(images):
            png.submit(image, f'fused/{index}.png', tiles=[1, index])
            for rel, digest, extra in png.finished():
                assert (tmp_path / 'out' / rel).is_file()  # complete when reported
                written.append((rel, digest, extra))
        written += png.drain()
    assert [w[0] for w in written] == [f'fused/{i}.png' for i in range(7)]
    assert [w[2] for w in written] == [dict(tiles=[1, i]) for i in range(7)]
    import hashlib
    for index, (rel, digest, _) in enumerate(written):
        data = (tmp_path / 'out' / rel).read_bytes()
        assert data == (tmp_path / 'serial' / f'{index}.png').read_bytes()
        assert digest == hashlib.sha256(data).hexdigest()
    assert not list((tmp_path / 'out').rglob('*.tmp'))


def test_png_writer_raises_a_failed_write(tmp_path):
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'fused').write_text('a file where a folder should be')
    with PngWriter(str(tmp_path / 'out'), 2) as png:
        png.submit(np.zeros((4, 4), np.uint8), 'fused/a.png')
        with pytest.raises(OSError):
            png.drain()


# ------------------------------------------------------------------------------ writer
def test_parallel_io_writes_the_same_files_and_manifest(source, config, tmp_path):
    """Reading ahead and writing behind in threads: the same PNG bytes, the same manifest
    entries as the serial loop, also across batches and with --save-seg."""
    fuser = PSFusionFuser(config, 'none')
    fuser.complexity = lambda h, w: dict(params=1, macs=2, input_hw=[h, w])
    outs = {}
    with batch_independent_kernels():
        for workers in (0, 3):
            outs[workers] = tmp_path / f'w{workers}'
            summary = fuse_dataset(fuser, source, 'msrs', str(outs[workers]),
                                   split='train,test', save_seg=True, batch_size=2,
                                   progress=False, workers=workers)
            assert summary.written == 5
    serial, parallel = files_of(outs[0]), files_of(outs[3])
    assert len(serial) == 2 * 5 + 5 and serial == parallel  # fused + seg_pred + labels
    manifests = [json.loads((outs[w] / 'manifest.json').read_text()) for w in (0, 3)]
    assert manifests[0]['files'] == manifests[1]['files'] and manifests[1]['complete']


def test_complexity_counted_on_the_fusers_own_network(source, config, tmp_path,
                                                      monkeypatch):
    """tools/fuse.py's path: the network is loaded once; the counts (taken before the first
    fuse, on the training-form network) are those of a freshly built training-form one."""
    loads = []
    real_load = psfusion_fuser.load_fusion_model

    def counted_load(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(psfusion_fuser, 'load_fusion_model', counted_load)
    out = tmp_path / 'out'
    fuse_dataset(dict(type='psfusion', config=config, checkpoint='none'), source, 'msrs',
                 str(out), split='test', progress=False)
    assert len(loads) == 1
    manifest = json.loads((out / 'manifest.json').read_text())
    fresh = PSFusionFuser(config, 'none', optimise=False)
    expected = fresh.complexity(*HW)
    assert not fresh.model.training  # counting leaves the network in eval mode
    assert (manifest['params'], manifest['macs'], manifest['complexity_input_hw']) == (
        expected['params'], expected['macs'], expected['input_hw'])
    assert manifest['params'] == count_params(load_fusion_model(config, None)[0])
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in fresh.model.modules())


# ------------------------------------------------------------------------------ amp
def test_amp_fuser_runs_bf16_and_is_its_own_identity(config):
    """bf16 autocast (here on the CPU, where torch supports it): close to float32, not equal;
    the identity records it so a float32 folder is not continued in bf16."""
    gen = torch.Generator().manual_seed(0)
    ir = torch.randint(0, 256, (2, 1, 32, 40), generator=gen).float() / 255
    vi = torch.randint(0, 256, (2, 3, 32, 40), generator=gen).float() / 255
    fp32, bf16 = PSFusionFuser(config, 'none'), PSFusionFuser(config, 'none', amp=True)
    a, b = fp32.fuse(ir, vi).fused, bf16.fuse(ir, vi).fused
    assert b.dtype == torch.float32 and b.shape == a.shape == (2, 3, 32, 40)
    diff = (a - b).abs()
    assert 0 < diff.max() < 0.25
    assert 'math' not in fp32.identity() and fp32.describe()['math'] == 'float32'
    assert bf16.identity()['math'] == bf16.describe()['math'] == 'bf16 autocast'


def run_tool(monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setattr(sys, 'argv', ['fuse.py', *map(str, args)])
    code = 0
    try:
        runpy.run_path(TOOL, run_name='__main__')
    except SystemExit as exit_info:
        code = exit_info.code or 0
    return code, capsys.readouterr().err


def test_tool_refuses_amp_on_the_cpu(source, tmp_path, monkeypatch, capsys):
    cfg = Path(__file__).resolve().parents[2] / 'psfusion' / 'configs' / \
        'psfusion_light_synthetic.py'
    code, err = run_tool(monkeypatch, capsys, cfg, 'none', '--src', source, '--layout', 'msrs',
                         '--out', tmp_path / 'out', '--device', 'cpu', '--amp')
    assert code == 2 and err.count('\n') == 1
    assert err.startswith('error: --amp (bf16 autocast) needs a CUDA device, got --device cpu')
    assert not (tmp_path / 'out').exists()
    code, err = run_tool(monkeypatch, capsys, '--method', 'average', '--src', source,
                         '--layout', 'msrs', '--out', tmp_path / 'out', '--amp')
    assert code == 2 and err == 'error: --amp does not apply to --method average\n'
    code, err = run_tool(monkeypatch, capsys, '--method', 'average', '--src', source,
                         '--layout', 'msrs', '--out', tmp_path / 'out', '--workers', '-1')
    assert code == 2 and err == 'error: --workers must be 0 or more, got -1\n'


def test_tool_workers_write_the_same_files(source, tmp_path, monkeypatch, capsys):
    outs = {}
    for workers in (0, 2):
        outs[workers] = tmp_path / f'w{workers}'
        code, _ = run_tool(monkeypatch, capsys, '--method', 'average', '--src', source,
                           '--layout', 'msrs', '--split', 'train,test', '--out',
                           outs[workers], '--workers', workers)
        assert code == 0
    assert files_of(outs[0]) == files_of(outs[2]) and len(files_of(outs[0])) == 10


def test_tool_keeps_freed_memory_only_after_the_count(source, tmp_path, monkeypatch, capsys):
    """tools/fuse.py: complexity count (own network, default allocator), then glibc's
    keep-freed-memory setting, then fusing; --no-optimise leaves the allocator alone."""
    import psfusion.engine.allocator as allocator

    events = []
    real_count, real_fuse = PSFusionFuser.complexity, PSFusionFuser.fuse
    monkeypatch.setattr(allocator, 'keep_freed_memory', lambda: events.append('keep') or True)
    monkeypatch.setattr(PSFusionFuser, 'complexity', lambda self, h, w: events.append(
        ('count', self._folded)) or real_count(self, h, w))
    monkeypatch.setattr(PSFusionFuser, 'fuse', lambda self, ir, vi, semantic=False: events.append(
        'fuse') or real_fuse(self, ir, vi, semantic))
    cfg = Path(__file__).resolve().parents[2] / 'psfusion' / 'configs' / \
        'psfusion_light_synthetic.py'
    for extra in ([], ['--no-optimise']):
        events.clear()
        code, err = run_tool(monkeypatch, capsys, cfg, 'none', '--src', source, '--layout',
                             'msrs', '--out', tmp_path / f'out{len(extra)}', '--device', 'cpu',
                             *extra)
        assert code == 0, err
        expected = [('count', False)] + (['keep'] if not extra else []) + ['fuse', 'fuse']
        assert events == expected
