"""psfusion.metrics.segmentation: per-class IoU and accuracy with known values."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from psfusion.metrics.segmentation import (PerClassIoUMetric, evaluate_label_pairs,
                                           format_class_table, summarize_areas)

NAMES = ('a', 'b', 'c')


def test_known_values_with_ignore_and_absent_class():
    # label: 4 px of class 0, 2 px of class 1, one ignored pixel; class 2 nowhere in labels.
    label = np.array([[0, 0, 0, 0], [1, 1, 255, 0]], np.uint8)
    pred = np.array([[0, 0, 1, 2], [1, 0, 2, 0]], np.uint8)
    m = evaluate_label_pairs([(pred, label)], NAMES)
    # class 0: predicted 0 at 4 labelled-0 px... intersect: (0,0),(0,1),(1,3) = 3;
    #          pred 0 (non-ignored) = 4 px, label 0 = 5 px -> union 6.
    assert m['IoU.a'] == pytest.approx(3 / 6 * 100)
    assert m['Acc.a'] == pytest.approx(3 / 5 * 100)
    # class 1: intersect (1,0) = 1; pred 1 = 2 px; label 1 = 2 px -> union 3.
    assert m['IoU.b'] == pytest.approx(100 / 3)
    assert m['Acc.b'] == pytest.approx(50.0)
    # class 2: predicted once (the ignored pixel does not count), never labelled: IoU 0, Acc NaN.
    assert m['IoU.c'] == 0.0
    assert math.isnan(m['Acc.c'])
    assert m['mIoU'] == pytest.approx((50 + 100 / 3 + 0) / 3)
    assert m['mAcc'] == pytest.approx((60 + 50) / 2)  # NaN skipped, as mmseg's nanmean
    assert m['aAcc'] == pytest.approx(4 / 7 * 100)


def test_class_absent_everywhere_is_nan_and_left_out_of_the_mean():
    label = np.zeros((2, 2), np.uint8)
    pred = np.zeros((2, 2), np.uint8)
    m = evaluate_label_pairs([(pred, label)], NAMES)
    assert m['IoU.a'] == 100.0 and math.isnan(m['IoU.b']) and math.isnan(m['IoU.c'])
    assert m['mIoU'] == 100.0


def test_sums_over_images_not_mean_of_images():
    label1, pred1 = np.zeros((1, 4), np.uint8), np.array([[0, 0, 1, 1]], np.uint8)
    label2, pred2 = np.ones((1, 2), np.uint8), np.ones((1, 2), np.uint8)
    m = evaluate_label_pairs([(pred1, label1), (pred2, label2)], NAMES[:2])
    # class 0: I=2, U=4; class 1: I=2, U=4 (pred 4, label 2)
    assert m['IoU.a'] == pytest.approx(50.0) and m['IoU.b'] == pytest.approx(50.0)


def test_errors_are_precise():
    with pytest.raises(ValueError, match='shape'):
        evaluate_label_pairs([(np.zeros((2, 2)), np.zeros((2, 3)))], NAMES)
    with pytest.raises(ValueError, match='no'):
        evaluate_label_pairs([], NAMES)
    with pytest.raises(ValueError, match='class names'):
        summarize_areas(np.ones(2), np.ones(2), np.ones(2), NAMES)
    with pytest.raises(ValueError, match='iou_metrics'):
        PerClassIoUMetric(iou_metrics=['mDice'])


def _sample(pred: np.ndarray, label: np.ndarray) -> dict:
    sample = SegDataSample()
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred.astype(np.int64))[None])
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(label.astype(np.int64))[None])
    sample.set_metainfo(dict(img_path='/x/00001N.png'))
    return sample.to_dict()


def test_metric_returns_every_class_and_matches_the_functional_form(tmp_path):
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(0, 3, (5, 6)), rng.integers(0, 3, (5, 6))) for _ in range(3)]
    metric = PerClassIoUMetric(pred_dir=str(tmp_path / 'preds'))
    metric.dataset_meta = dict(classes=NAMES)
    for pred, label in pairs:
        metric.process({}, [_sample(pred, label)])
    result = metric.evaluate(len(pairs))
    expected = evaluate_label_pairs(pairs, NAMES)
    assert set(result) == set(expected) == {'aAcc', 'mIoU', 'mAcc'} | {
        f'{k}.{n}' for k in ('IoU', 'Acc') for n in NAMES}
    for key, value in expected.items():
        assert result[key] == pytest.approx(value)
    assert (tmp_path / 'preds' / '00001N.png').is_file()
    assert 'mean' in format_class_table(result, NAMES)
