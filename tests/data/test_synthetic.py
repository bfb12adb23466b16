"""The synthetic dataset: deterministic, MSRS layout, exact labels, complementary modalities."""
import json
import subprocess
import sys

import numpy as np
import pytest

from psfusion.data import MSRSDataset
from psfusion.data.synthetic import (CAR, CURVE, PERSON, make_sample,
                                     write_synthetic_dataset)

from ..conftest import REPO_ROOT


def test_deterministic_and_independent_of_count():
    a = make_sample(seed=3, split='train', index=5)
    b = make_sample(seed=3, split='train', index=5)
    for x, y in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(x, y)
    c = make_sample(seed=4, split='train', index=5)
    assert not np.array_equal(a[1], c[1])
    assert a[3] is True  # odd index: night


def test_cli_writes_msrs_layout_that_the_loader_reads(tmp_path):
    out = tmp_path / 'syn'
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'make_synthetic.py'), '--out', str(out),
         '--num-train', '6', '--num-val', '2', '--num-test', '4', '--seed', '1', '--height', '64',
         '--width', '96'], capture_output=True, text=True, check=True)
    assert 'train: 6 pairs in train/ (3 day, 3 night)' in result.stdout
    train = MSRSDataset(data_root=str(out), split='train')
    val = MSRSDataset(data_root=str(out), split='train', split_file='val.txt')
    test = MSRSDataset(data_root=str(out), split='test')
    assert (len(train), len(val), len(test)) == (6, 2, 4)
    assert not set(train.names) & set(val.names)
    assert train.names[:2] == ['00000D', '00001N']
    sample = test[1]
    assert sample['ir'].shape == (64, 96, 1) and sample['vi'].shape == (64, 96, 3)
    # the label on disk is exactly the generator's label
    ir, vi, label, night = make_sample(1, 'test', 1, 64, 96)
    np.testing.assert_array_equal(sample['gt_seg_map'], label)
    np.testing.assert_array_equal(sample['ir'][..., 0], ir)
    summary = json.loads((out / 'synthetic.json').read_text())
    assert summary['splits']['test']['images'] == 4


def test_physics_warm_targets_and_dark_nights():
    """Infrared: people and cars far warmer than their surroundings, curbs not; visible: night
    much darker than day."""
    import cv2
    contrast_ir = {CAR: [], PERSON: [], CURVE: []}
    day_light, night_light = [], []
    for index in range(12):
        ir, vi, label, night = make_sample(0, 'test', index)
        for cls in contrast_ir:
            mask = (label == cls).astype(np.uint8)
            ring = (cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0) & (mask == 0) & (label == 0)
            if mask.sum() > 20 and ring.sum() > 20:
                contrast_ir[cls].append(ir[mask > 0].mean() - ir[ring].mean())
        (night_light if night else day_light).append(vi.mean())
    assert np.mean(contrast_ir[PERSON]) > 40 and np.mean(contrast_ir[CAR]) > 40
    assert abs(np.mean(contrast_ir[CURVE])) < 15
    assert np.mean(day_light) > 2 * np.mean(night_light)


def _neighbourhood_features(image: np.ndarray) -> np.ndarray:
    """3x3 neighbourhood of every pixel (reflect padding): H*W x 9C."""
    h, w, c = image.shape
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode='reflect')
    shifted = [padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]
    return np.concatenate(shifted, axis=2).reshape(h * w, 9 * c)


def _features(split, count):
    ir_feats, vi_feats, labels = [], [], []
    for index in range(count):
        ir, vi, label, _ = make_sample(0, split, index)
        ir_feats.append(_neighbourhood_features(ir[..., None] / 255.0))
        vi_feats.append(_neighbourhood_features(vi / 255.0))
        labels.append(label.ravel())
    ir_x, vi_x = np.concatenate(ir_feats), np.concatenate(vi_feats)
    return {'ir': ir_x, 'vi': vi_x, 'both': np.hstack([ir_x, vi_x])}, np.concatenate(labels)


def _miou(truth, pred, num_classes=9):
    confusion = np.bincount(truth * num_classes + pred, minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    return float(np.mean(inter / np.maximum(union, 1)))


def test_modalities_are_complementary():
    """A per-pixel logistic regression on 3x3 neighbourhoods: infrared and visible stacked must
    beat each single modality by a clear margin (measured: both ~0.40, ir ~0.17, vi ~0.22)."""
    sklearn = pytest.importorskip('sklearn')
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    assert sklearn
    train_x, train_y = _features('train', 24)
    test_x, test_y = _features('test', 12)
    rng = np.random.default_rng(0)
    picked = np.concatenate([  # class-balanced training pixels
        rng.choice(np.flatnonzero(train_y == c), min(1500, int((train_y == c).sum())),
                   replace=False) for c in range(9)])
    scores = {}
    for name in ('ir', 'vi', 'both'):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200, tol=1e-3))
        model.fit(train_x[name][picked], train_y[picked])
        scores[name] = _miou(test_y, model.predict(test_x[name]))
    print('per-pixel logistic regression mIoU:', scores)
    assert scores['both'] > scores['ir'] + 0.10
    assert scores['both'] > scores['vi'] + 0.10
