"""Batching: uint8 -> [0, 1], padding to a multiple of 32 (reflect), labels padded with 255."""
from __future__ import annotations

import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import BaseDataElement, PixelData

from psfusion.models import FusionDataPreprocessor


def sample(h: int, w: int, value: int = 0) -> dict:
    ir = torch.arange(h * w, dtype=torch.int64).reshape(1, h, w).remainder(256).to(torch.uint8)
    data = BaseDataElement(metainfo=dict(img_shape=(h, w), name=f'{h}x{w}'))
    data.gt_sem_seg = PixelData(data=torch.full((1, h, w), value, dtype=torch.int64))
    return dict(inputs=dict(ir=ir, vi=torch.full((3, h, w), 255, dtype=torch.uint8)),
                data_samples=data)


def test_pads_batch_to_multiple_of_32_and_scales():
    pre = FusionDataPreprocessor()
    out = pre(pseudo_collate([sample(40, 50, 3), sample(30, 70, 4)]))
    ir, vi = out['inputs']['ir'], out['inputs']['vi']
    assert ir.shape == (2, 1, 64, 96) and vi.shape == (2, 3, 64, 96)
    assert ir.dtype == torch.float32 and torch.all(vi == 1.0)
    first = sample(40, 50)['inputs']['ir'].float() / 255
    assert torch.equal(ir[0, :, :40, :50], first)
    # reflect padding: row 40 mirrors row 38
    assert torch.equal(ir[0, :, 40, :50], first[:, 38])
    seg = out['data_samples'][1].gt_sem_seg.data
    assert seg.shape == (1, 64, 96)
    assert torch.all(seg[:, :30, :70] == 4) and torch.all(seg[:, 30:] == 255)
    assert out['data_samples'][0].metainfo['batch_input_shape'] == (64, 96)


def test_accepts_list_of_input_dicts_and_tiny_images():
    pre = FusionDataPreprocessor()
    items = [sample(5, 7)]
    out = pre(dict(inputs=[items[0]['inputs']], data_samples=[items[0]['data_samples']]))
    assert out['inputs']['ir'].shape == (1, 1, 32, 32)  # too small to reflect: replicate
