"""SSIM of a fused image against its two sources.

Wang et al.'s SSIM (``ssim_index.m``): Gaussian window 11x11, sigma 1.5, K1 0.01, K2 0.03,
L = 255, 'valid' filtering, mean of the SSIM map
``((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))``,
population moments; no automatic downsampling (the 2009 ``ssim.m`` and piq's default
downsample images larger than 256 px; VIFB's values are without).

The same number comes from ``kornia.metrics.ssim(x, y, 11, max_val=255, eps=0,
padding='valid').mean()`` and from ``skimage.metrics.structural_similarity(x, y,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)`` (both equal
to ~1e-14, tested).  It is computed here with the separable OpenCV filter of
:mod:`._filters` because kornia's float64 path is ~3x slower on the CPU, and its fast float32
path drifts by ~4e-7, enough to change the fifth digit VIFB prints.
"""
from __future__ import annotations

import numpy as np

from ._filters import filter_valid, gaussian_1d

WINDOW, SIGMA = 11, 1.5
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def ssim_pair(reference: np.ndarray, fused: np.ndarray) -> float:
    """Mean SSIM between two grey images on 0..255 (float64)."""
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(fused, dtype=np.float64)
    window = gaussian_1d(WINDOW, SIGMA)
    mu_x = filter_valid(x, window)
    mu_y = filter_valid(y, window)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    s_xx = filter_valid(x * x, window) - mu_xx
    s_yy = filter_valid(y * y, window) - mu_yy
    s_xy = filter_valid(x * y, window) - mu_xy
    ssim_map = ((2 * mu_xy + C1) * (2 * s_xy + C2)) / ((mu_xx + mu_yy + C1) * (s_xx + s_yy + C2))
    return float(ssim_map.mean())


def ssim(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray, combine: str = 'mean') -> float:
    """SSIM = (SSIM(A, F) + SSIM(B, F)) / 2 (``combine='mean'``, default) or the sum of the two
    (``combine='sum'``, VIFB, range up to 2)."""
    total = ssim_pair(ir, fused) + ssim_pair(vi, fused)
    if combine == 'mean':
        return 0.5 * total
    if combine == 'sum':
        return total
    raise ValueError(f"combine must be 'mean' or 'sum', got {combine!r}")
