"""Profiles and colour handling of ``score_images``."""
from __future__ import annotations

import numpy as np
import pytest

from psfusion.metrics import (ALL_METRICS, PAPER_METRICS, PROFILES, entropy, get_profile,
                              resolve_metrics, score_images, spatial_frequency, to_grey)


@pytest.fixture(scope='module')
def colour_triple():
    rng = np.random.default_rng(3)
    ir = rng.integers(0, 256, (48, 56), dtype=np.uint8)
    vi = rng.integers(0, 256, (48, 56, 3), dtype=np.uint8)
    fused = ((vi.astype(int) + ir[..., None]) // 2).astype(np.uint8)
    return ir, vi, fused


def test_resolve_metrics():
    assert resolve_metrics('EN, sd,VIF') == ['EN', 'SD', 'VIF']
    assert resolve_metrics(['qabf', 'NABF', 'viff']) == ['Qabf', 'Nabf', 'VIFF']
    with pytest.raises(ValueError, match='unknown metric .XYZ.; choose from EN, SD'):
        resolve_metrics('EN,XYZ')
    with pytest.raises(ValueError, match='listed twice'):
        resolve_metrics('EN,en')
    assert PAPER_METRICS == ('EN', 'SD', 'AG', 'SF', 'SCD', 'VIF')
    assert len(ALL_METRICS) == 14


def test_profiles():
    assert set(PROFILES) == {'default', 'vifb', 'tang_matlab'}
    assert get_profile('vifb').ssim_combine == 'sum'
    with pytest.raises(ValueError, match='unknown metric profile'):
        get_profile('matlab')


def test_to_grey():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    assert to_grey(rgb).tolist() == [[76, 150, 29, 18]]           # rint(.299 R + .587 G + ...)
    assert to_grey(rgb, 'matlab').tolist() == [[76, 150, 29, 18]]
    grey = np.array([[7, 200]], dtype=np.uint8)
    assert to_grey(np.dstack([grey] * 3), 'matlab').tolist() == grey.tolist()
    assert to_grey(grey) is grey


def test_default_scores_luma(colour_triple):
    ir, vi, fused = colour_triple
    scores = score_images(ir, vi, fused, ALL_METRICS)
    assert list(scores) == list(ALL_METRICS)
    luma = score_images(ir, to_grey(vi), to_grey(fused), ALL_METRICS)
    assert scores == luma
    assert scores['EN'] == entropy(to_grey(fused))


def test_vifb_scores_per_band(colour_triple):
    ir, vi, fused = colour_triple
    scores = score_images(ir, vi, fused, ['EN', 'SF', 'SSIM'], 'vifb')
    bands = [score_images(ir, vi[..., k], fused[..., k], ['EN', 'SSIM'], 'vifb')
             for k in range(3)]
    assert scores['EN'] == pytest.approx(np.mean([b['EN'] for b in bands]), rel=1e-15)
    assert scores['SSIM'] == pytest.approx(np.mean([b['SSIM'] for b in bands]), rel=1e-15)
    side_by_side = np.concatenate([fused[..., k] for k in range(3)], axis=1)
    assert scores['SF'] == pytest.approx(spatial_frequency(side_by_side, 'mn'), rel=1e-15)
    # a grey fused image is scored once, on the rgb2gray of the visible image
    grey = score_images(ir, vi, fused[..., 0], ['SSIM'], 'vifb')['SSIM']
    assert grey == score_images(ir, to_grey(vi, 'matlab'), fused[..., 0], ['SSIM'],
                                'vifb')['SSIM']


def test_tang_profile_units(colour_triple):
    ir, vi, fused = colour_triple
    d = score_images(ir, vi, fused, ['SF', 'MSE', 'PSNR'], 'default')
    t = score_images(ir, to_grey(vi, 'bt601'), to_grey(fused, 'bt601'), ['SF', 'MSE', 'PSNR'],
                     'tang_matlab')
    assert t['SF'] == pytest.approx(d['SF'] / 255, rel=1e-14)
    assert t['MSE'] == pytest.approx(d['MSE'] / 255 ** 2, rel=1e-14)
    assert t['PSNR'] == pytest.approx(d['PSNR'] + 20 * np.log10(255), rel=1e-14)


def test_size_mismatch(colour_triple):
    ir, vi, fused = colour_triple
    with pytest.raises(ValueError, match='differ in size'):
        score_images(ir, vi, fused[:-1])
