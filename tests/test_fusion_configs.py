"""The PSFusion dataset layers: MFNet and the synthetic set inherit MSRS's and change only what
differs (files, validation split, CPU size)."""
from __future__ import annotations

from pathlib import Path

from mmengine.config import Config

CONFIGS = Path(__file__).resolve().parents[1] / 'psfusion' / 'configs'


def _datasets(cfg: Config) -> dict:
    return {name: cfg[f'{name}_dataloader'].dataset for name in ('train', 'val', 'test')}


def _crop(cfg: Config) -> tuple:
    return next(t.crop_size for t in cfg.train_dataloader.dataset.pipeline
                if t.type == 'PairedRandomCrop')


def test_msrs_holds_validation_out_of_train():
    cfg = Config.fromfile(str(CONFIGS / 'psfusion_r34_msrs.py'))
    sets = _datasets(cfg)
    assert {s.type for s in sets.values()} == {'MSRSDataset'}
    assert [sets[n].split for n in ('train', 'val', 'test')] == ['train', 'train', 'test']
    assert {s.data_root for s in sets.values()} == {'data/MSRS'}
    assert cfg.val_split == dict(fraction=0.1, seed=0)
    assert cfg.train_dataloader.batch_size == 16 and _crop(cfg) == (256, 256)


def test_mfnet_uses_its_own_files_and_val_split():
    cfg = Config.fromfile(str(CONFIGS / 'psfusion_r34_mfnet.py'))
    sets = _datasets(cfg)
    assert {s.type for s in sets.values()} == {'MFNetDataset'}
    assert [sets[n].split for n in ('train', 'val', 'test')] == ['train', 'val', 'test']
    assert {s.data_root for s in sets.values()} == {'data/MFNet'}
    assert not cfg.get('val_split')  # nothing held out of train
    assert cfg.train_dataloader.batch_size == 16 and _crop(cfg) == (256, 256)
    assert cfg.val_evaluator.type == 'FusionValMetric'


def test_synthetic_is_cpu_sized_with_val_txt():
    cfg = Config.fromfile(str(CONFIGS / 'psfusion_light_synthetic.py'))
    sets = _datasets(cfg)
    assert {s.type for s in sets.values()} == {'MSRSDataset'}
    assert sets['val'].split == 'train' and sets['val'].split_file == 'val.txt'
    assert 'split_file' not in sets['train'] and sets['test'].split == 'test'
    assert {s.data_root for s in sets.values()} == {'work_dirs/demo/data'}
    assert not cfg.get('val_split')
    assert _crop(cfg) == (96, 96)
    derive = next(t for t in sets['train'].pipeline if t.type == 'DeriveFusionLabels')
    assert tuple(derive.target_classes) == (1, 2, 3)
    for name in ('train', 'val', 'test'):
        loader = cfg[f'{name}_dataloader']
        assert (loader.batch_size, loader.num_workers, loader.persistent_workers) == (4, 0, False)

