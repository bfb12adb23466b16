"""The fused-dataset writer: layout rule, colour, manifest, atomic writes, resumption."""
from __future__ import annotations

import hashlib
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from psfusion import fusing
from psfusion.fusing import FusingError, fuse_dataset, load_fusion_model

from .train_helpers import DEMO_CONFIG, make_tiny_dataset


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('source'))


@pytest.fixture(scope='module')
def config():
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict({'model.trunk_channels': 16})
    return cfg


@pytest.fixture(scope='module')
def checkpoint(config, tmp_path_factory):
    model, _ = load_fusion_model(config, None, seed=1)
    path = tmp_path_factory.mktemp('ckpt') / 'model.pth'
    torch.save({'meta': {'iter': 1}, 'state_dict': model.state_dict()}, path)
    return str(path)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_msrs_layout_manifest_and_colour(source, config, checkpoint, tmp_path):
    out = tmp_path / 'out'
    summary = fuse_dataset(config, checkpoint, source, 'msrs', str(out), split='test',
                           save_seg=True, batch_size=3, progress=False)
    assert summary.written == 4 and summary.skipped == 0
    stems = sorted(p.stem for p in (Path(source) / 'test' / 'vi').iterdir())
    assert sorted(p.stem for p in (out / 'test' / 'fused').iterdir()) == stems
    for stem in stems:
        fused = read(out / 'test' / 'fused' / f'{stem}.png')
        assert fused.shape == (64, 80, 3) and fused.dtype == np.uint8  # cropped back
        seg = read(out / 'test' / 'seg_pred' / f'{stem}.png')
        assert seg.shape == (64, 80) and seg.max() < 9
        label = Path(source) / 'test' / 'Segmentation_labels' / f'{stem}.png'
        assert sha(out / 'test' / 'Segmentation_labels' / f'{stem}.png') == sha(label)
    for name in ('test.txt', 'train.txt', 'val.txt'):
        assert (out / name).read_text() == (Path(source) / name).read_text()

    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['complete'] and manifest['layout'] == 'msrs'
    assert manifest['checkpoint']['sha256'] == sha(Path(checkpoint))
    assert manifest['model']['trunk_channels'] == 16 and 'psfusion' in manifest['code_version']
    assert len(manifest['files']) == 4 * 3 + 3
    for rel, entry in manifest['files'].items():
        assert entry['sha256'] == sha(out / rel)
    assert not list(out.rglob('.*.tmp-*'))

    # colour rule: fused Y + visible CbCr, rounded; the optimised network matches the eager one
    model, _ = load_fusion_model(config, checkpoint)
    model.eval()
    dataset = fusing.build_source(source, 'msrs', 'test')
    from mmengine.dataset import pseudo_collate
    item = fusing.fuse_batch(model, pseudo_collate([dataset[0]]), False, channels_last=False)[0]
    written = read(out / 'test' / 'fused' / f'{item["name"]}.png').astype(int)
    diff = np.abs(written - item['fused'].astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99


def test_rerun_skips_finished_and_redoes_missing_or_corrupt(source, config, checkpoint,
                                                            tmp_path):
    out = tmp_path / 'out'
    fuse_dataset(config, checkpoint, source, 'msrs', str(out), progress=False)
    fused_dir = out / 'test' / 'fused'
    files = sorted(fused_dir.iterdir())
    kept = {p.name: p.stat().st_mtime_ns for p in files[2:]}
    files[0].unlink()
    files[1].write_bytes(b'not a png')
    summary = fuse_dataset(config, checkpoint, source, 'msrs', str(out), progress=False)
    assert (summary.written, summary.skipped) == (2, 2)
    assert {p.name: p.stat().st_mtime_ns for p in sorted(fused_dir.iterdir())[2:]} == kept
    assert read(files[1]).shape == (64, 80, 3)


def test_interrupted_run_resumes(source, config, checkpoint, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    real_save, calls = fusing.save_png, []

    def failing_save(array, path):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(path)
        real_save(array, path)

    monkeypatch.setattr(fusing, 'save_png', failing_save)
    with pytest.raises(KeyboardInterrupt):
        fuse_dataset(config, checkpoint, source, 'msrs', str(out), progress=False)
    monkeypatch.setattr(fusing, 'save_png', real_save)
    assert not json.loads((out / 'manifest.json').read_text())['complete']
    summary = fuse_dataset(config, checkpoint, source, 'msrs', str(out), progress=False)
    assert (summary.written, summary.skipped) == (2, 2)
    assert json.loads((out / 'manifest.json').read_text())['complete']


def test_refuses_to_mix_models(source, config, checkpoint, tmp_path):
    out = tmp_path / 'out'
    fuse_dataset(config, checkpoint, source, 'msrs', str(out), progress=False, limit=1)
    with pytest.raises(FusingError, match='different checkpoint'):
        fuse_dataset(config, 'none', source, 'msrs', str(out), progress=False, limit=1)


def test_folders_layout_odd_sizes_random_weights(config, tmp_path):
    root = tmp_path / 'src'
    rng = np.random.default_rng(0)
    for sub in ('ir', 'vi'):
        (root / sub).mkdir(parents=True)
    for stem, (h, w) in (('a', (37, 45)), ('b', (50, 33))):
        Image.fromarray(rng.integers(0, 255, (h, w), np.uint8)).save(root / 'ir' / f'{stem}.png')
        Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(root / 'vi' / f'{stem}.jpg')
    out = tmp_path / 'out'
    fuse_dataset(config, 'none', str(root), 'folders', str(out), progress=False)
    assert read(out / 'fused' / 'a.png').shape == (37, 45, 3)
    assert read(out / 'fused' / 'b.png').shape == (50, 33, 3)
    assert json.loads((out / 'manifest.json').read_text())['checkpoint']['sha256'] is None


def test_mfnet_layout_through_the_tool(config, tmp_path, monkeypatch):
    root = tmp_path / 'mfnet'
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    rng = np.random.default_rng(0)
    for stem in ('00001D', '00002N'):
        Image.fromarray(rng.integers(0, 255, (40, 48, 4), np.uint8), 'RGBA').save(
            root / 'images' / f'{stem}.png')
        Image.fromarray(rng.integers(0, 9, (40, 48), np.uint8)).save(
            root / 'labels' / f'{stem}.png')
    (root / 'test.txt').write_text('00001D\n00002N\n')
    config_file = tmp_path / 'tiny.py'
    config.dump(str(config_file))
    out = tmp_path / 'out'
    monkeypatch.setattr(sys, 'argv', ['fuse.py', str(config_file), 'none', '--src', str(root),
                                      '--layout', 'mfnet', '--out', str(out), '--split', 'test'])
    runpy.run_path(str(Path(DEMO_CONFIG).parents[2] / 'tools' / 'fuse.py'), run_name='__main__')
    assert read(out / 'fused' / '00001D.png').shape == (40, 48, 3)
    assert sha(out / 'labels' / '00002N.png') == sha(root / 'labels' / '00002N.png')
    assert (out / 'test.txt').exists() and (out / 'manifest.json').exists()


def test_several_splits_share_one_folder(source, config, checkpoint, tmp_path):
    """train and test fused into one OUT, in one call or one call per split; the manifest lists
    both, and records the network's size for the benchmark's complexity column."""
    together, separate = tmp_path / 'together', tmp_path / 'separate'
    summary = fuse_dataset(config, checkpoint, source, 'msrs', str(together), split='train,test',
                           progress=False)
    fuse_dataset(config, checkpoint, source, 'msrs', str(separate), split='train',
                 progress=False)
    n_train = len((Path(source) / 'train.txt').read_text().split())  # val pairs excluded
    assert json.loads((separate / 'manifest.json').read_text())['splits'] == {
        'train': dict(pairs=n_train, complete=True)}
    fuse_dataset(config, checkpoint, source, 'msrs', str(separate), split='test', progress=False)
    assert summary.written == n_train + 4
    for out in (together, separate):
        manifest = json.loads((out / 'manifest.json').read_text())
        assert manifest['splits'] == {'train': dict(pairs=n_train, complete=True),
                                      'test': dict(pairs=4, complete=True)}
        assert manifest['complete']
        for split in ('train', 'test'):
            assert len(list((out / split / 'fused').iterdir())) == (
                n_train if split == 'train' else 4)
        model, _ = load_fusion_model(config, checkpoint)
        from psfusion.engine.complexity import model_complexity
        counts = model_complexity(model, 64, 96, semantic=False, fidelity=False)
        assert (manifest['params'], manifest['macs']) == (counts.params, counts.macs)
        assert manifest['complexity_input_hw'] == [64, 96]  # 64 x 80 padded to 32
    with pytest.raises(FusingError, match='bad split list'):
        fuse_dataset(config, checkpoint, source, 'msrs', str(together), split='test,test',
                     progress=False)
