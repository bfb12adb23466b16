"""VIF, VIFF, Qabf, Nabf and SSIM: hand-checkable cases, the MATLAB transcriptions, libraries."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from psfusion.metrics import nabf, qabf, ssim, vif, vif_pixel, viff
from psfusion.metrics.ssim import ssim_pair

from . import reference_impl as ref


def _smooth_noise(rng, shape, blur=3):
    """Natural-looking texture: blurred noise, rescaled to 0..255 uint8."""
    x = rng.normal(size=(shape[0] + 2 * blur, shape[1] + 2 * blur))
    k = np.ones(2 * blur + 1) / (2 * blur + 1)
    x = np.apply_along_axis(np.convolve, 0, x, k, 'valid')
    x = np.apply_along_axis(np.convolve, 1, x, k, 'valid')
    x = (x - x.min()) / (x.max() - x.min()) * 255
    return np.rint(x).astype(np.uint8)


@pytest.fixture(scope='module')
def triple():
    rng = np.random.default_rng(7)
    a = _smooth_noise(rng, (72, 88))
    b = _smooth_noise(rng, (72, 88), blur=1)
    b[:20, :30] = 128  # a flat region: exercises the zero-variance guards
    f = np.clip(0.6 * a + 0.5 * b - 20 + rng.normal(0, 3, a.shape), 0, 255).round()
    return a, b, f.astype(np.uint8)


def test_vif_matches_matlab_transcription(triple):
    a, b, f = triple
    expected = ref.vifp_mscale(a, f) + ref.vifp_mscale(b, f)
    assert vif(f, a, b) == pytest.approx(expected, rel=1e-12)
    assert vif_pixel(a, f) == pytest.approx(ref.vifp_mscale(a, f), rel=1e-12)


def test_vif_of_identical_images(triple):
    a, _, _ = triple
    assert vif_pixel(a, a) == pytest.approx(1.0, abs=1e-9)
    assert vif(a, a, a) == pytest.approx(2.0, abs=1e-9)
    flat = np.full((64, 64), 100, dtype=np.uint8)
    assert np.isnan(vif_pixel(flat, a[:64, :64]))  # 0/0 as in MATLAB


def test_vif_equals_piq(triple):
    piq = pytest.importorskip('piq')
    a, b, f = triple
    t = lambda x: torch.from_numpy(x.astype(np.float64))[None, None]  # noqa: E731
    # piq.vif_p(x, y): y is the reference; its guards use 1e-8 where MATLAB uses 1e-10
    expected = sum(float(piq.vif_p(t(f), t(s), data_range=255.0)) for s in (a, b))
    assert vif(f, a, b) == pytest.approx(expected, rel=1e-6)


def test_viff_matches_han_transcription(triple):
    a, b, f = triple
    assert viff(f, a, b) == pytest.approx(ref.viff_public(a, b, f), rel=1e-12)
    # identical images: VID ~= VIND at every scale -> weighted sum of ~1
    assert viff(a, a, a) == pytest.approx(1.0, abs=1e-6)


def test_qabf_matches_vifb_transcription(triple):
    a, b, f = triple
    a, b, f = a[:30, :40], b[:30, :40], f[:30, :40]
    assert qabf(f, a, b) == pytest.approx(ref.qabf_vifb(a, b, f), rel=1e-12)


def test_qabf_identical_images(triple):
    a, _, _ = triple
    # g_A == g_F everywhere: the kept quirk sets G = g_F (>> 1 on textured pixels), A = 1:
    # Q -> 0.9994 * 0.9879 / (1 + exp(-22 * 0.2)) on every edge pixel
    assert qabf(a, a, a) == pytest.approx(0.9994 * 0.9879 / (1 + np.exp(-4.4)), rel=1e-3)


def test_nabf_matches_kumar_transcription(triple):
    a, b, f = triple
    a, b, f = a[:30, :40], b[:30, :40], f[:30, :40]
    assert nabf(f, a, b) == pytest.approx(ref.nabf_kumar(f, a, b), rel=1e-12)


def test_nabf(triple):
    a, b, f = triple
    assert nabf(a, a, a) == 0.0          # no pixel where g_F exceeds both sources
    value = nabf(f, a, b)
    assert 0.0 < value < 1.0
    boosted = np.clip((a.astype(float) - 128) * 2 + 128, 0, 255)  # stronger edges: artifacts
    assert nabf(boosted, a, a) > 0.01


def test_ssim_identical_and_combine(triple):
    a, b, f = triple
    assert ssim_pair(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ssim(f, a, b, 'sum') == pytest.approx(2 * ssim(f, a, b), rel=1e-15)


def test_ssim_equals_skimage_and_kornia(triple):
    skm = pytest.importorskip('skimage.metrics')
    from kornia.metrics import ssim as kornia_ssim
    a, _, f = triple
    expected = skm.structural_similarity(a.astype(float), f.astype(float),
                                         gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255)
    assert ssim_pair(a, f) == pytest.approx(expected, rel=1e-12)
    t = lambda x: torch.from_numpy(x.astype(np.float64))[None, None]  # noqa: E731
    k = kornia_ssim(t(a), t(f), 11, max_val=255.0, eps=0.0, padding='valid').mean().item()
    assert ssim_pair(a, f) == pytest.approx(k, rel=1e-12)


def test_small_image_errors():
    tiny = np.zeros((8, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match='at least 41x41'):
        vif(tiny, tiny, tiny)
    vif(*[np.zeros((41, 41), dtype=np.uint8)] * 3)  # the smallest size that works
    with pytest.raises(ValueError, match='smaller than'):
        ssim(tiny, tiny, tiny)
