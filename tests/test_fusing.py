"""The fused-dataset writer: layouts, colour, manifest, atomic writes, resumption, the tool."""
from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from psfusion.color import merge_luma
from psfusion.data.io import DataError
from psfusion.fusers import AverageFuser, Fuser, FusionOutput, PSFusionFuser
from psfusion.fusing import MANIFEST_FORMAT, FusingError, fuse_dataset, pipeline, writer

from .fusing_helpers import HW, batch_independent_kernels, read, sha, tiny_config, \
    write_checkpoint, write_mfnet, write_source

TOOL = str(Path(__file__).resolve().parents[1] / 'tools' / 'fuse.py')


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """MSRS layout: 3 train (+1 val listed in val.txt inside train/), 2 test, 32 x 40."""
    return write_source(tmp_path_factory.mktemp('source'))


@pytest.fixture(scope='module')
def fmb(tmp_path_factory):
    return write_source(tmp_path_factory.mktemp('fmb'), layout='fmb', num_train=2)


@pytest.fixture(scope='module')
def config():
    return tiny_config()


@pytest.fixture(scope='module')
def checkpoint(config, tmp_path_factory):
    return write_checkpoint(config, tmp_path_factory.mktemp('ckpt') / 'model.pth')


@pytest.fixture(scope='module')
def psfusion(config, checkpoint):
    """The trained (here: random, saved) tiny network, optimised; shared: fusers keep no
    state between calls."""
    return PSFusionFuser(config, checkpoint)


@pytest.fixture(scope='module')
def random_psfusion(config):
    return PSFusionFuser(config, 'none')


@pytest.fixture
def no_count(monkeypatch):
    """Replace PSFusion's complexity count (a seconds-long trace, tested in test_fusers.py)."""
    monkeypatch.setattr(PSFusionFuser, 'complexity',
                        lambda self, h, w: dict(params=11, macs=22, input_hw=[32, 64]))


def stems_of(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.iterdir())


def manifest_of(out: Path) -> dict:
    return json.loads((out / 'manifest.json').read_text())


def run_tool(monkeypatch, *args) -> None:
    """Run tools/fuse.py as a script; a clean exit (status 0) returns, others raise."""
    monkeypatch.setattr(sys, 'argv', ['fuse.py', *map(str, args)])
    try:
        runpy.run_path(TOOL, run_name='__main__')
    except SystemExit as exit_info:
        if exit_info.code not in (0, None):
            raise


# ------------------------------------------------------------------------------ PSFusion
def test_msrs_layout_manifest_and_colour(source, config, checkpoint, psfusion, tmp_path,
                                         no_count):
    out = tmp_path / 'out'
    fuser = psfusion
    summary = fuse_dataset(fuser, source, 'msrs', str(out), split='test', save_seg=True,
                           batch_size=3, progress=False)
    assert (summary.method, summary.written, summary.skipped) == ('psfusion', 2, 0)
    stems = stems_of(Path(source) / 'test' / 'vi')
    assert stems_of(out / 'test' / 'fused') == stems == stems_of(out / 'test' / 'seg_pred')
    for stem in stems:
        fused = read(out / 'test' / 'fused' / f'{stem}.png')
        assert fused.shape == (*HW, 3) and fused.dtype == np.uint8  # cropped back
        seg = read(out / 'test' / 'seg_pred' / f'{stem}.png')
        assert seg.shape == HW and seg.max() < 9
        label = Path(source) / 'test' / 'Segmentation_labels' / f'{stem}.png'
        assert sha(out / 'test' / 'Segmentation_labels' / f'{stem}.png') == sha(label)
    for name in ('test.txt', 'train.txt', 'val.txt'):
        assert (out / name).read_text() == (Path(source) / name).read_text()

    manifest = manifest_of(out)
    assert manifest['complete'] and manifest['layout'] == 'msrs'
    assert manifest['format'] == MANIFEST_FORMAT and manifest['method'] == 'psfusion'
    assert manifest['checkpoint']['sha256'] == sha(Path(checkpoint))
    assert manifest['identity'] == fuser.identity()
    assert manifest['identity']['checkpoint_sha256'] == sha(Path(checkpoint))
    assert manifest['model']['trunk_channels'] == 16 and 'psfusion' in manifest['code_version']
    assert manifest['colour'].startswith('fused Y + visible CbCr')
    assert (manifest['params'], manifest['macs'], manifest['complexity_input_hw']) == (
        11, 22, [32, 64])
    assert len(manifest['files']) == 2 * 3 + 3
    for rel, entry in manifest['files'].items():
        assert entry['sha256'] == sha(out / rel)
    assert not list(out.rglob('.*.tmp'))

    # colour rule: PSFusion.predict's fused Y + visible CbCr, rounded; the optimised network
    # matches the eager one to one level
    stem = stems[0]
    ir = read(Path(source) / 'test' / 'ir' / f'{stem}.png')
    vi = read(Path(source) / 'test' / 'vi' / f'{stem}.png')
    to_unit = lambda a: torch.from_numpy(  # noqa: E731
        a.reshape(*HW, -1).transpose(2, 0, 1).copy())[None].float() / 255
    eager = PSFusionFuser(config, checkpoint, optimise=False).fuse(to_unit(ir), to_unit(vi))
    expected = writer.to_uint8(eager.fused)[0].astype(int)
    diff = np.abs(read(out / 'test' / 'fused' / f'{stem}.png').astype(int) - expected)
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99


def test_batch_size_does_not_change_the_images(source, psfusion, tmp_path, no_count):
    """Same-size pairs fused one at a time or two at a time: the same PNG bytes (with
    batch-independent convolution kernels; oneDNN's may move a pixel by one level)."""
    outs = {}
    fuser = psfusion
    with batch_independent_kernels():
        for batch in (1, 2):
            outs[batch] = tmp_path / f'b{batch}'
            fuse_dataset(fuser, source, 'msrs', str(outs[batch]), split='train',
                         batch_size=batch, progress=False)
    files = sorted((outs[1] / 'train' / 'fused').iterdir())
    assert len(files) == 3
    for path in files:
        assert path.read_bytes() == (outs[2] / 'train' / 'fused' / path.name).read_bytes()


def test_refuses_to_mix_models_and_methods(source, psfusion, random_psfusion, tmp_path,
                                           no_count):
    out = tmp_path / 'out'
    fuse_dataset(psfusion, source, 'msrs', str(out), progress=False, limit=1)
    with pytest.raises(FusingError, match='different checkpoint'):
        fuse_dataset(random_psfusion, source, 'msrs', str(out), progress=False, limit=1)
    with pytest.raises(FusingError, match='different method'):
        fuse_dataset('average', source, 'msrs', str(out), progress=False)
    assert len(list((out / 'test' / 'fused').iterdir())) == 1


def test_folders_layout_odd_sizes_random_weights(random_psfusion, tmp_path, monkeypatch,
                                                 no_count):
    """Pairs of different sizes are never padded to a common size: batches hold one size."""
    root = tmp_path / 'src'
    rng = np.random.default_rng(0)
    for sub in ('ir', 'vi'):
        (root / sub).mkdir(parents=True)
    sizes = {'a': (37, 45), 'b': (50, 33), 'c': (50, 33)}
    for stem, (h, w) in sizes.items():
        Image.fromarray(rng.integers(0, 255, (h, w), np.uint8)).save(root / 'ir' / f'{stem}.png')
        Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(root / 'vi' / f'{stem}.jpg')
    fuser, calls = random_psfusion, []
    real_fuse = fuser.fuse
    monkeypatch.setattr(fuser, 'fuse', lambda ir, vi, semantic=False: calls.append(
        tuple(ir.shape)) or real_fuse(ir, vi, semantic))
    out = tmp_path / 'out'
    fuse_dataset(fuser, str(root), 'folders', str(out), batch_size=3, progress=False)
    assert calls == [(1, 1, 37, 45), (2, 1, 50, 33)]
    for stem, hw in sizes.items():
        assert read(out / 'fused' / f'{stem}.png').shape == (*hw, 3)
    assert manifest_of(out)['checkpoint']['sha256'] is None


def test_several_splits_share_one_folder(source, tmp_path):
    """train and test fused into one OUT, in one call or one call per split; the manifest lists
    both, and records the method's size (counted once per OUT, on the first pair's size)."""
    counted = []

    class Counted(AverageFuser):
        def complexity(self, height, width):
            counted.append((height, width))
            return dict(params=5, macs=6, input_hw=[32, 64], note='n')

    together, separate = tmp_path / 'together', tmp_path / 'separate'
    fuser = Counted()
    summary = fuse_dataset(fuser, source, 'msrs', str(together), split='train,test',
                           progress=False)
    fuse_dataset(fuser, source, 'msrs', str(separate), split='train', progress=False)
    n_train = len((Path(source) / 'train.txt').read_text().split())  # val pairs excluded
    assert manifest_of(separate)['splits'] == {'train': dict(pairs=n_train, complete=True)}
    fuse_dataset(fuser, source, 'msrs', str(separate), split='test', progress=False)
    assert summary.written == n_train + 2 and counted == [HW, HW]
    for out in (together, separate):
        manifest = manifest_of(out)
        assert manifest['splits'] == {'train': dict(pairs=n_train, complete=True),
                                      'test': dict(pairs=2, complete=True)}
        assert manifest['complete']
        for split, count in (('train', n_train), ('test', 2)):
            assert len(list((out / split / 'fused').iterdir())) == count
        assert (manifest['params'], manifest['macs'], manifest['complexity_input_hw'],
                manifest['complexity_note']) == (5, 6, [32, 64], 'n')
    with pytest.raises(FusingError, match='bad split list'):
        fuse_dataset(fuser, source, 'msrs', str(together), split='test,test', progress=False)


def test_save_seg_needs_a_semantic_head(source, tmp_path):
    with pytest.raises(FusingError, match="--save-seg.*'average' has none"):
        fuse_dataset('average', source, 'msrs', str(tmp_path / 'out'), save_seg=True,
                     progress=False)
    assert not (tmp_path / 'out').exists()


# ------------------------------------------------------------------------------ average
def test_average_fmb_layout(fmb, tmp_path):
    out = tmp_path / 'out'
    summary = fuse_dataset('average', fmb, 'fmb', str(out), split='train,test', progress=False)
    assert (summary.method, summary.written) == ('average', 4)
    for split in ('train', 'test'):
        stems = stems_of(Path(fmb) / split / 'Visible')
        assert stems_of(out / split / 'fused') == stems == stems_of(out / split / 'Label')
        for stem in stems:
            assert sha(out / split / 'Label' / f'{stem}.png') == sha(
                Path(fmb) / split / 'Label' / f'{stem}.png')
            ir = read(Path(fmb) / split / 'Infrared' / f'{stem}.png').astype(int)
            vi = read(Path(fmb) / split / 'Visible' / f'{stem}.png').astype(int)
            ir = ir.reshape(*HW, -1)[..., :1]
            assert np.array_equal(read(out / split / 'fused' / f'{stem}.png'),
                                  (ir + vi + 1) // 2)
    manifest = manifest_of(out)
    assert (manifest['method'], manifest['layout'], manifest['params'], manifest['macs']) == (
        'average', 'fmb', 0, 0)
    assert manifest['complexity_input_hw'] == list(HW) and manifest['complete']
    assert manifest['identity'] == AverageFuser().identity()
    assert 'checkpoint' not in manifest and 'model' not in manifest


def test_average_mfnet_layout(tmp_path):
    root = write_mfnet(tmp_path / 'mfnet')
    out = tmp_path / 'out'
    fuse_dataset('average', root, 'mfnet', str(out), split='test', progress=False)
    image = read(Path(root) / 'images' / '00001D.png').astype(int)
    expected = (image[..., 3:] + image[..., :3] + 1) // 2  # R, G, B, thermal
    assert np.array_equal(read(out / 'fused' / '00001D.png'), expected)
    assert sha(out / 'labels' / '00002N.png') == sha(Path(root) / 'labels' / '00002N.png')
    assert (out / 'test.txt').read_text() == '00001D\n00002N\n'
    assert manifest_of(out)['splits'] == {'test': dict(pairs=2, complete=True)}


def test_rerun_skips_finished_and_redoes_missing_or_corrupt(source, tmp_path):
    out = tmp_path / 'out'
    fuse_dataset('average', source, 'msrs', str(out), split='train', progress=False)
    fused_dir = out / 'train' / 'fused'
    files = sorted(fused_dir.iterdir())
    kept = files[2].stat().st_mtime_ns
    files[0].unlink()
    files[1].write_bytes(b'not a png')
    summary = fuse_dataset('average', source, 'msrs', str(out), split='train', progress=False)
    assert (summary.written, summary.skipped) == (2, 1)
    assert files[2].stat().st_mtime_ns == kept
    assert read(files[0]).shape == read(files[1]).shape == (*HW, 3)


@pytest.mark.parametrize('workers', [0, 2])
def test_interrupted_run_resumes(source, tmp_path, monkeypatch, workers):
    """The third write fails: the two written before it are in the manifest (also when the
    PNGs are written in threads), the rerun writes only the third."""
    out = tmp_path / 'out'
    real_save, calls = pipeline.save_png, []

    def failing_save(array, path):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(path)
        real_save(array, path)

    monkeypatch.setattr(pipeline, 'save_png', failing_save)
    with pytest.raises(KeyboardInterrupt):
        fuse_dataset('average', source, 'msrs', str(out), split='train', progress=False,
                     workers=workers)
    monkeypatch.setattr(pipeline, 'save_png', real_save)
    assert not manifest_of(out)['complete']
    summary = fuse_dataset('average', source, 'msrs', str(out), split='train', progress=False)
    assert (summary.written, summary.skipped) == (1, 2)
    assert manifest_of(out)['complete']


class LumaFuser(Fuser):
    """A stand-in method that outputs a luma: the infrared image."""
    name = 'ir_luma'

    def identity(self) -> dict:
        return {}

    def complexity(self, height: int, width: int) -> dict:
        return dict(params=0, macs=0, input_hw=[height, width])

    def fuse(self, ir, vi, semantic=False):
        return FusionOutput(ir.clone())


def test_a_luma_output_gets_the_visible_colour(source, tmp_path):
    out = tmp_path / 'out'
    fuse_dataset(LumaFuser(), source, 'msrs', str(out), split='test', progress=False)
    stem = stems_of(out / 'test' / 'fused')[0]
    ir = torch.from_numpy(read(Path(source) / 'test' / 'ir' / f'{stem}.png').reshape(
        1, 1, *HW).copy()).float() / 255
    vi = torch.from_numpy(read(Path(source) / 'test' / 'vi' / f'{stem}.png').copy()).permute(
        2, 0, 1)[None].float() / 255
    expected = (merge_luma(ir, vi) * 255).round().clamp(0, 255).to(torch.uint8)
    written = read(out / 'test' / 'fused' / f'{stem}.png')
    assert np.array_equal(written, expected[0].permute(1, 2, 0).numpy())
    assert manifest_of(out)['method'] == 'ir_luma'


# ------------------------------------------------------------------------------ the tool
def test_tool_average_on_fmb(fmb, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'out'
    run_tool(monkeypatch, '--method', 'average', '--src', fmb, '--layout', 'fmb', '--split',
             'train,test', '--out', out)
    assert json.loads(capsys.readouterr().out.split('manifest:')[0])['written'] == 4
    assert len(list((out / 'test' / 'fused').iterdir())) == 2
    assert manifest_of(out)['method'] == 'average'


def test_tool_psfusion_on_mfnet(config, tmp_path, monkeypatch, no_count):
    root = write_mfnet(tmp_path / 'mfnet')
    config_file = tmp_path / 'tiny.py'
    config.dump(str(config_file))
    out = tmp_path / 'out'
    run_tool(monkeypatch, config_file, 'none', '--src', root, '--layout', 'mfnet', '--out', out,
             '--split', 'test', '--batch-size', '2')
    assert read(out / 'fused' / '00001D.png').shape == (40, 48, 3)
    assert sha(out / 'labels' / '00002N.png') == sha(Path(root) / 'labels' / '00002N.png')
    assert (out / 'test.txt').exists() and manifest_of(out)['method'] == 'psfusion'


@pytest.mark.parametrize('args, message', [
    (['--method', 'average', '--save-seg'], "--save-seg needs .*'average' has none"),
    (['--method', 'average', 'cfg.py', 'none'], 'takes no CONFIG or CHECKPOINT'),
    (['--method', 'psfusion'], 'needs CONFIG and CHECKPOINT'),
    (['--method', 'average', '--ir-dir', 'x'], '--ir-dir does not apply to the fmb layout'),
    (['--method', 'nope'], "argument --method: invalid choice: 'nope'"),
    (['--method', 'average', '--split', 'val'], 'split folder not found'),
])
def test_tool_errors_are_one_line(fmb, tmp_path, monkeypatch, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        run_tool(monkeypatch, *args, '--src', fmb, '--layout', 'fmb', '--out', tmp_path / 'o')
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and '\n' not in err, err
    assert __import__('re').search(message, err), err


def test_missing_source_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match='dataset root not found'):
        fuse_dataset('average', str(tmp_path / 'nowhere'), 'msrs', str(tmp_path / 'o'))
