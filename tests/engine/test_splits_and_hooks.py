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
