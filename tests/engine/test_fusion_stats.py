"""Retention ratios and the validation metric on constructed images."""
from __future__ import annotations

import math

import pytest
import torch
from mmengine.structures import BaseDataElement, PixelData

from psfusion.engine import FusionValMetric
from psfusion.engine.fusion_stats import (edge_band, edge_retention, nanmean, target_contrast,
                                          target_contrast_retention)


def scene():
    """A warm person (class 2) visible only in infrared, a curb stripe (class 4) visible only
    in the visible image."""
    seg = torch.zeros(40, 40, dtype=torch.long)
    seg[10:20, 10:16] = 2
    seg[30:34, :] = 4
    ir = torch.full((40, 40), 0.3)
    ir[seg == 2] = 0.9
    vi = torch.full((40, 40), 0.4)
    vi[seg == 4] = 0.95
    return seg, ir, vi


def test_target_retention():
    seg, ir, vi = scene()
    assert target_contrast(ir, seg == 2) == pytest.approx(0.6)
    assert target_contrast_retention(ir, ir, seg) == pytest.approx(1.0)
    assert target_contrast_retention((ir + vi) / 2, ir, seg) == pytest.approx(0.5)
    assert math.isnan(target_contrast_retention(ir, vi, seg))  # no infrared contrast there


def test_edge_retention():
    seg, ir, vi = scene()
    band = edge_band(seg)
    assert band[29:31].all() and band[33:35].all() and not band[20].any()
    assert edge_retention(vi, vi, seg) == pytest.approx(1.0)
    assert edge_retention((ir + vi) / 2, vi, seg) == pytest.approx(0.5)
    assert math.isnan(edge_retention(vi, vi, torch.zeros_like(seg)))
    assert nanmean([1.0, math.nan, 3.0]) == 2.0


def test_val_metric_miou_and_fusion_statistics():
    seg, ir, vi = scene()
    pred = seg.clone()
    pred[30:34, :20] = 0  # half of the curb missed
    sample = BaseDataElement(metainfo=dict(img_shape=(40, 40)))
    sample.gt_sem_seg = PixelData(data=seg[None])
    sample.pred_sem_seg = PixelData(data=pred[None])
    fused_y = vi + (ir - 0.3)  # the ideal fusion: visible scene plus the warm target
    sample.pred_fused = PixelData(data=fused_y[None])
    vi_rgb = (vi[None].repeat(3, 1, 1) * 255).round().to(torch.uint8)
    batch = dict(inputs=dict(ir=[(ir[None] * 255).round().to(torch.uint8)], vi=[vi_rgb]))
    metric = FusionValMetric()
    metric.process(batch, [sample.to_dict()])
    out = metric.compute_metrics(metric.results)
    bg_iou = (1600 - 60 - 160) / (1600 - 60 - 80)
    assert out['mIoU'] == pytest.approx(100 * (bg_iou + 1.0 + 0.5) / 3, rel=1e-6)
    assert out['target_retention'] == pytest.approx(1.0, abs=0.01)
    assert out['edge_retention'] == pytest.approx(1.0, abs=0.01)
    assert out['avg_target_retention'] == pytest.approx(0.5, abs=0.01)
    assert out['avg_edge_retention'] == pytest.approx(0.5, abs=0.01)
