"""Filtering helpers shared by the windowed metrics (VIF, VIFF, Qabf, Nabf).

OpenCV does the filtering: its separable filters run in float64 when given float64 images, so
MATLAB's ``filter2(fspecial('gaussian', N, N/5), x, 'valid')`` is reproduced to rounding
(~1e-13 relative) at a fraction of the cost of a direct 2-D convolution.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=None)
def gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of ``size`` taps.

    Its outer product with itself is MATLAB's ``fspecial('gaussian', size, sigma)`` (that 2-D
    kernel is separable; its cut-off of values below ``eps * max`` never applies to the sizes
    used here).
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    kernel = np.exp(-(x * x) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    kernel.setflags(write=False)
    return kernel


def fspecial_gaussian(size: int, sigma: float) -> np.ndarray:
    """MATLAB's ``fspecial('gaussian', size, sigma)`` as a 2-D array (for reference code/tests)."""
    half = (size - 1) / 2.0
    y, x = np.ogrid[-half:half + 1, -half:half + 1]
    kernel = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    kernel[kernel < np.finfo(np.float64).eps * kernel.max()] = 0
    return kernel / kernel.sum()


def filter_valid(image: np.ndarray, kernel_1d: np.ndarray) -> np.ndarray:
    """``filter2(outer(k, k), image, 'valid')`` for a symmetric 1-D kernel ``k`` (float64).

    Works on ``H x W`` or ``H x W x C`` (C <= 4, each channel filtered alone).
    """
    radius = (kernel_1d.size - 1) // 2
    height, width = image.shape[:2]
    if height <= 2 * radius or width <= 2 * radius:
        raise ValueError(f'image of {height}x{width} pixels is smaller than the '
                         f'{kernel_1d.size}x{kernel_1d.size} window of this metric')
    out = cv2.sepFilter2D(image, cv2.CV_64F, kernel_1d, kernel_1d,
                          borderType=cv2.BORDER_REFLECT)
    return out[radius:height - radius, radius:width - radius]


def filter_same_zero(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """MATLAB ``conv2(image, kernel, 'same')``: true convolution, zero padding (float64)."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float64)
    return cv2.filter2D(image, cv2.CV_64F, flipped, borderType=cv2.BORDER_CONSTANT)


def filter_same_reflect101(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlation with ``kernel``, the border mirrored without repeating the edge pixel."""
    return cv2.filter2D(image, cv2.CV_64F, np.asarray(kernel, dtype=np.float64),
                        borderType=cv2.BORDER_REFLECT_101)
