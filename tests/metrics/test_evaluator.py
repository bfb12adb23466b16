"""``FusionQualityMetric`` as an mmengine metric."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement, PixelData

from psfusion.metrics import FusionQualityMetric, score_images
from psfusion.registry import METRICS


def _batch(rng, n=2, size=(48, 64), pad=(16, 0)):
    h, w = size
    ir = [torch.from_numpy(rng.integers(0, 256, (1, h + pad[0], w + pad[1]), dtype=np.uint8))
          for _ in range(n)]
    vi = [torch.from_numpy(rng.integers(0, 256, (3, h + pad[0], w + pad[1]), dtype=np.uint8))
          for _ in range(n)]
    samples = []
    for k in range(n):
        fused = (ir[k][:, :h, :w].float() + vi[k][1:2, :h, :w].float()) / 510  # in [0, 1]
        sample = BaseDataElement(metainfo=dict(img_shape=(h, w), name=f's{k}'))
        sample.pred_fused = PixelData(data=fused)
        samples.append(sample)
    return dict(inputs=dict(ir=ir, vi=vi)), samples


def _expected(batch, samples, metrics):
    out = []
    for k, sample in enumerate(samples):
        h, w = sample.metainfo['img_shape']
        fused = (sample.pred_fused.data.clamp(0, 1) * 255).round().to(torch.uint8)[0].numpy()
        ir = batch['inputs']['ir'][k][0, :h, :w].numpy()
        vi = batch['inputs']['vi'][k][:, :h, :w].permute(1, 2, 0).numpy()
        out.append(score_images(ir, vi, fused, metrics))
    return out


def test_registered_and_built():
    metric = METRICS.build(dict(type='FusionQualityMetric', metrics='EN,VIF', profile='vifb'))
    assert isinstance(metric, FusionQualityMetric)
    assert metric.metrics == ['EN', 'VIF'] and metric.profile == 'vifb'
    with pytest.raises(ValueError, match='unknown metric'):
        FusionQualityMetric(metrics=['EN', 'nope'])


def test_through_mmengine_evaluator():
    """The Evaluator hands the metric dict copies of the samples; padding is cropped away."""
    rng = np.random.default_rng(0)
    evaluator = Evaluator(FusionQualityMetric())
    expected = []
    for _ in range(2):
        batch, samples = _batch(rng)
        expected += _expected(batch, samples, FusionQualityMetric().metrics)
        evaluator.process(data_samples=samples, data_batch=batch)
    results = evaluator.evaluate(4)
    assert set(results) == {f'fusion/{m}' for m in ('EN', 'SD', 'AG', 'SF', 'SCD', 'VIF')}
    for name in ('EN', 'SD', 'AG', 'SF', 'SCD', 'VIF'):
        assert results[f'fusion/{name}'] == pytest.approx(np.mean([e[name] for e in expected]),
                                                          rel=1e-12)


def test_nan_values_left_out_of_the_mean():
    rng = np.random.default_rng(1)
    metric = FusionQualityMetric(metrics=['SCD', 'EN'])
    batch, samples = _batch(rng, n=2, pad=(0, 0))
    # fused == infrared: F - A is constant, so corr2(F - A, B) and SCD are undefined
    samples[0].pred_fused = PixelData(data=batch['inputs']['ir'][0].float() / 255)
    metric.process(batch, [s.to_dict() for s in samples])
    out = metric.compute_metrics(metric.results)
    assert out['EN'] == pytest.approx(np.mean([r['EN'] for r in metric.results]))
    assert out['SCD'] == pytest.approx(metric.results[1]['SCD'])
    assert np.isnan(metric.results[0]['SCD'])


def test_missing_fused_field_is_explained():
    rng = np.random.default_rng(2)
    batch, samples = _batch(rng, n=1)
    metric = FusionQualityMetric(fused_key='fused_y')
    with pytest.raises(KeyError, match="no 'fused_y' field"):
        metric.process(batch, samples)
