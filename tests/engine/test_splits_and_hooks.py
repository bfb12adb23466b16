"""Validation hold-out and the fused-sample hook."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement, PixelData
from PIL import Image

from psfusion.data import FMBDataset, MSRSDataset
from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.engine import FusedSampleHook, sample_panel, write_validation_split


@pytest.mark.parametrize('layout', ['msrs', 'fmb'])
def test_validation_split_is_seeded_disjoint_and_complete(tmp_path, layout):
    """The stems come from the dataset's layout (MSRS: train.txt / train/ir; FMB:
    train/Infrared), and the held-out files read back through the dataset."""
    root = tmp_path / 'data'
    write_synthetic_dataset(str(root), num_train=20, num_test=1, num_val=0, height=32, width=32,
                            layout=layout)
    train, val = write_validation_split(str(root), str(tmp_path / 'a'), fraction=0.2,
                                        layout=layout)
    train_stems = open(train).read().split()
    val_stems = open(val).read().split()
    assert len(val_stems) == 4 and len(train_stems) == 16
    assert sorted(train_stems + val_stems) == sorted(
        p.stem for p in (root / 'train').iterdir().__next__().iterdir())
    again = write_validation_split(str(root), str(tmp_path / 'b'), fraction=0.2, layout=layout)
    assert open(again[1]).read().split() == val_stems
    dataset_type = {'msrs': MSRSDataset, 'fmb': FMBDataset}[layout]
    held_out = dataset_type(data_root=str(root), split='train', split_file=val)
    assert held_out.names == val_stems


def test_sample_panel_and_hook(tmp_path):
    ir = torch.full((1, 8, 10), 200, dtype=torch.uint8)
    vi = torch.zeros(3, 8, 10, dtype=torch.uint8)
    fused = torch.full((3, 8, 10), 0.5)
    panel = sample_panel(ir, vi, fused, gap=2)
    assert panel.shape == (8, 34, 3)
    assert (panel[:, :10] == 200).all() and (panel[:, 10:12] == 255).all()
    assert (panel[:, 12:22] == 0).all() and (panel[:, 24:] == 128).all()  # 127.5 rounds up

    hook = FusedSampleHook(num_samples=1)
    runner = types.SimpleNamespace(work_dir=str(tmp_path), iter=7)
    sample = BaseDataElement(metainfo=dict(name='a', img_shape=(8, 10)))
    sample.pred_fused_rgb = PixelData(data=fused)
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, dict(inputs=dict(ir=[ir, ir], vi=[vi, vi])),
                        [sample, sample])
    saved = sorted((tmp_path / 'fused_samples' / 'iter_7').iterdir())
    assert [p.name for p in saved] == ['a.png']
    assert np.array_equal(np.asarray(Image.open(saved[0])), sample_panel(ir, vi, fused))


def test_binary_weights_hook_gives_the_loss_the_training_splits_foreground_share(tmp_path):
    """binary_weights='dataset' (the default): the foreground share of every training label,
    counted once before training; tools/train_fusion.py adds the hook by itself."""
    from types import SimpleNamespace

    import numpy as np
    from mmengine.config import Config

    from psfusion.engine import (BinaryClassWeightHook, foreground_share,
                                 use_dataset_binary_weights)
    from psfusion.fileio import save_png
    from psfusion.losses import PSFusionLoss

    paths = []
    for i, foreground in enumerate((3, 13)):  # 3 + 13 of 2 x 40 labelled pixels, 255 ignored
        label = np.zeros((5, 10), np.uint8)
        label.flat[:foreground] = 2
        label[4, :] = 255
        paths.append(str(tmp_path / f'{i}.png'))
        save_png(label, paths[-1])
    assert foreground_share(paths, 9) == pytest.approx(16 / 80)
    loss = PSFusionLoss()
    dataset = SimpleNamespace(items=lambda: [dict(seg_map_path=p, num_classes=9) for p in paths])
    runner = SimpleNamespace(model=SimpleNamespace(loss_module=loss),
                             train_dataloader=SimpleNamespace(dataset=dataset))
    BinaryClassWeightHook().before_train(runner)
    assert loss.foreground_share == pytest.approx(0.2)
    assert loss.binary_weight()[1] == pytest.approx(1 / np.log(1.02 + 0.2), rel=1e-5)
    cfg = Config(dict(model=dict(loss=dict(type='PSFusionLoss')), custom_hooks=[]))
    use_dataset_binary_weights(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == ['BinaryClassWeightHook']
    fixed = Config(dict(model=dict(loss=dict(binary_weights='reference')), custom_hooks=[]))
    use_dataset_binary_weights(fixed)
    assert fixed.custom_hooks == []


def test_exponential_warm_up_is_the_official_schedule():
    """warmup='exp' (psfusion_r34_msrs_official.py): lr = 1e-5 * 100 ** (it / 1000) for
    it <= 1000, then poly 0.9 from 1e-3 (the official optimizer.py), to 1e-9 relative."""
    import torch

    from psfusion.config_options import load_config
    from psfusion.engine.training import apply_warmup_form
    from psfusion.registry import PARAM_SCHEDULERS

    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / 'psfusion' / 'configs'
    cfg = load_config(str(configs / 'psfusion_r34_msrs_official.py'))
    apply_warmup_form(cfg, lambda message: None)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    schedulers = [PARAM_SCHEDULERS.build(dict(dict(c), optimizer=optimizer))
                  for c in cfg.param_scheduler]
    lrs = []
    for _ in range(1003):
        lrs.append(optimizer.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()

    def official(it):
        if it <= 1000:
            return 1e-5 * 100**(it / 1000)
        return 1e-3 * (1 - (it - 1000) / (170000 - 1000))**0.9

    assert max(abs(lr - official(it)) / official(it) for it, lr in enumerate(lrs)) < 1e-9
    linear = load_config(str(configs / 'psfusion_r34_msrs.py'))
    apply_warmup_form(linear, lambda message: None)
    assert linear.param_scheduler[0]['type'] == 'LinearLR'


def test_the_config_batch_is_the_total_over_all_processes(monkeypatch):
    from mmengine.config import Config

    from psfusion.engine.training import split_total_batch, world_size_of
    from psfusion.errors import ConfigError

    monkeypatch.setenv('WORLD_SIZE', '4')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    assert world_size_of('pytorch') == 4 and world_size_of('slurm') == 8
    cfg = Config(dict(train_dataloader=dict(batch_size=16)))
    messages = []
    split_total_batch(cfg, 4, messages.append)
    assert cfg.train_dataloader.batch_size == 4
    assert messages == ["total training batch 16 kept: 4 per process x 4 processes (the "
                        "learning rate is the config's, unscaled)"]
    with pytest.raises(ConfigError, match='must divide evenly among 3'):
        split_total_batch(Config(dict(train_dataloader=dict(batch_size=16))), 3)
