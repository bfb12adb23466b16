"""Hand-checkable values of the pixel-statistics metrics, and equality with libraries."""
from __future__ import annotations

import math

import numpy as np
import pytest

from psfusion.metrics import (average_gradient, correlation_coefficient, entropy,
                              mean_squared_error, mutual_information, psnr, scd,
                              spatial_frequency, standard_deviation)
from psfusion.metrics.quality import matlab_round, mutual_information_pair, vifb_rmse


@pytest.fixture(scope='module')
def images():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    b = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    f = ((a.astype(int) + b) // 2).astype(np.uint8)
    return a, b, f


def test_constant_image():
    f = np.full((20, 30), 77, dtype=np.uint8)
    assert entropy(f) == 0.0
    assert standard_deviation(f) == 0.0
    assert average_gradient(f) == 0.0
    assert spatial_frequency(f) == 0.0
    assert standard_deviation(f, uint8_saturation=True) == 0.0


def test_two_level_image():
    f = np.zeros((10, 10), dtype=np.uint8)
    f[:, 5:] = 255
    assert entropy(f) == pytest.approx(1.0, abs=1e-15)          # two equiprobable levels
    assert standard_deviation(f) == pytest.approx(127.5, abs=1e-12)
    # four levels with probabilities 1/2, 1/4, 1/8, 1/8: 1.75 bits
    g = np.array([0] * 4 + [1] * 2 + [2, 3], dtype=np.uint8).reshape(2, 4)
    assert entropy(g) == pytest.approx(1.75, abs=1e-15)


def test_horizontal_ramp():
    rows, cols = 6, 9
    f = np.tile(np.arange(cols, dtype=np.uint8) * 10, (rows, 1))
    # gradient: Gx = 10 everywhere (central and one-sided), Gy = 0
    expected_ag = rows * cols * math.sqrt(100 / 2) / ((rows - 1) * (cols - 1))
    assert average_gradient(f) == pytest.approx(expected_ag, rel=1e-14)
    # own counts: RF = 10, CF = 0; VIFB: RF^2 = 100 M(N-1) / MN
    assert spatial_frequency(f) == pytest.approx(10.0, rel=1e-14)
    assert spatial_frequency(f, 'mn') == pytest.approx(10 * math.sqrt((cols - 1) / cols),
                                                       rel=1e-14)
    assert spatial_frequency(f.T) == pytest.approx(10.0, rel=1e-14)


def test_identical_images(images):
    a, _, _ = images
    assert psnr(a, a, a) == math.inf
    assert mean_squared_error(a, a, a) == 0.0
    assert correlation_coefficient(a, a, a) == pytest.approx(1.0, abs=1e-14)
    # MI(A, A) = H(A), twice
    assert mutual_information(a, a, a) == pytest.approx(2 * entropy(a), rel=1e-13)


def test_scd_of_additive_fusion(images):
    a, b, _ = images
    f = a.astype(np.float64) + b  # F - B = A and F - A = B exactly
    assert scd(f, a, b) == pytest.approx(2.0, abs=1e-14)


def test_mse_psnr_conventions(images):
    a, b, f = images
    mse_a = np.mean((a.astype(float) - f) ** 2)
    mse_b = np.mean((b.astype(float) - f) ** 2)
    mse = (mse_a + mse_b) / 2
    assert mean_squared_error(f, a, b) == pytest.approx(mse, rel=1e-14)
    assert mean_squared_error(f, a, b, scale=1.0) == pytest.approx(mse / 255 ** 2, rel=1e-14)
    assert psnr(f, a, b) == pytest.approx(10 * math.log10(255 ** 2 / mse), rel=1e-14)
    # Tang's [0, 1] MSE with peak 255 is the default plus 20 log10(255) = 48.13 dB
    assert psnr(f, a, b, 'tang_mse01') - psnr(f, a, b) == pytest.approx(20 * math.log10(255))
    rmse = (math.sqrt(((a.astype(float) - f) ** 2).sum()) +
            math.sqrt(((b.astype(float) - f) ** 2).sum())) / (2 * f.size)
    assert vifb_rmse(f, a, b) == pytest.approx(rmse, rel=1e-14)
    assert psnr(f, a, b, 'vifb_rmse') == pytest.approx(10 * math.log10(255 ** 2 / rmse))


def test_sd_uint8_saturation():
    f = np.array([[0, 10, 20, 50]], dtype=np.uint8)  # mean 20
    # F - mean rounded and clipped at 0: 0, 0, 0, 30; squares clipped at 255
    assert standard_deviation(f, uint8_saturation=True) == pytest.approx(math.sqrt(255 / 4))
    assert standard_deviation(f) == pytest.approx(np.std([0, 10, 20, 50]))


def test_mi_variants():
    x = np.array([[0, 0, 254, 255]], dtype=np.uint8)
    f = np.array([[0, 1, 254, 255]], dtype=np.uint8)
    # bits: H(X) = 1.5, H(F) = 2, H(X, F) = 2 -> 1.5
    assert mutual_information_pair(x, f) == pytest.approx(1.5)
    # tang_uint8: the joint histogram merges 254/255 of both: H(X,F) = 1.5 -> 2.0
    assert mutual_information_pair(x, f, 'tang_uint8') == pytest.approx(2.0)
    # vifb: natural log after min-max normalisation (x: 0, 0, 254, 255 stays)
    assert mutual_information_pair(x, f, 'vifb') == pytest.approx(1.5 * math.log(2))


def test_matlab_round():
    assert matlab_round(np.array([0.5, 1.5, 2.5, -0.5, 2.4999])).tolist() == [1, 2, 3, -1, 2]


def test_float_levels_refused():
    with pytest.raises(ValueError, match='integer grey levels'):
        entropy(np.full((4, 4), 0.5))


def test_entropy_equals_skimage(images):
    measure = pytest.importorskip('skimage.measure')
    for img in images:
        assert entropy(img) == pytest.approx(measure.shannon_entropy(img), rel=1e-13)


def test_mi_equals_sklearn(images):
    metrics = pytest.importorskip('sklearn.metrics')
    a, b, f = images
    nats = (metrics.mutual_info_score(a.ravel(), f.ravel()) +
            metrics.mutual_info_score(b.ravel(), f.ravel()))
    assert mutual_information(f, a, b) == pytest.approx(nats / math.log(2), rel=1e-12)


def test_mse_psnr_equal_skimage(images):
    skm = pytest.importorskip('skimage.metrics')
    a, _, f = images
    assert mean_squared_error(f, a, a) == pytest.approx(skm.mean_squared_error(a, f), rel=1e-14)
    assert psnr(f, a, a) == pytest.approx(
        skm.peak_signal_noise_ratio(a, f, data_range=255), rel=1e-14)
