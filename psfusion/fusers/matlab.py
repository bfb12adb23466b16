"""MATLAB's image conventions in numpy, for classical fusion methods checked against the MATLAB
code that VIFB runs (``../shared/spec/TABLE1_METHODS.md``, section b).

Each function reproduces one MATLAB behaviour that numpy's obvious counterpart gets wrong:

* :func:`matlab_round`: ``round`` halves away from zero (numpy rounds halves to even);
* :func:`im2uint8`: ``im2uint8(double)`` = clip to [0, 1], x 255, round halves away;
* :func:`to_uint8`: ``uint8(x)`` on values in 0-255: round halves away and saturate;
* :func:`rgb2gray`: ``rgb2gray`` on uint8 with MATLAB's exact weights (not 0.299/0.587/0.114);
* :func:`imfilter`: correlation (not convolution), zero padding unless ``'replicate'``, output
  the input's size;
* :func:`fspecial_gaussian`: ``fspecial('gaussian', n, sigma)``, normalised to sum 1.
"""
from __future__ import annotations

import cv2
import numpy as np

#: MATLAB rgb2gray weights (the inverse of its NTSC transform), R, G, B.
RGB2GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)


def matlab_round(x: np.ndarray) -> np.ndarray:
    """Round halves away from zero, as MATLAB's ``round``."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``uint8(x)``: round halves away from zero, saturate to 0-255."""
    return np.clip(matlab_round(x), 0, 255).astype(np.uint8)


def im2uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB ``im2uint8`` of a double image in [0, 1]: clip, x 255, round halves away."""
    return to_uint8(np.clip(np.asarray(x, np.float64), 0.0, 1.0) * 255.0)


def rgb2gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` of an ``H x W x 3`` uint8 image: rounded weighted sum, uint8."""
    rgb = np.asarray(rgb, np.float64)
    grey = sum(w * rgb[..., c] for c, w in enumerate(RGB2GRAY_WEIGHTS))
    return to_uint8(grey)


def imfilter(image: np.ndarray, kernel: np.ndarray, boundary: str = 'zero') -> np.ndarray:
    """MATLAB ``imfilter(image, kernel[, 'replicate'])`` on a float ``H x W`` (or ``H x W x C``,
    each channel alike) image: correlation, output of the input's size.

    MATLAB centres a kernel of even size at ``floor((size + 1) / 2)`` (1-based), i.e. index
    ``(size - 1) // 2`` here, which is also OpenCV's default anchor for ``filter2D``.
    """
    borders = {'zero': cv2.BORDER_CONSTANT, 'replicate': cv2.BORDER_REPLICATE}
    if boundary not in borders:
        raise ValueError(f'boundary must be one of {sorted(borders)}, got {boundary!r}')
    kernel = np.asarray(kernel, np.float64)
    anchor = ((kernel.shape[1] - 1) // 2, (kernel.shape[0] - 1) // 2)
    image = np.asarray(image, np.float64)
    return cv2.filter2D(image, cv2.CV_64F, kernel, anchor=anchor, borderType=borders[boundary])


def fspecial_gaussian(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``: a ``size x size`` Gaussian summing to 1."""
    half = (size - 1) / 2.0
    axis = np.arange(size, dtype=np.float64) - half
    y, x = np.meshgrid(axis, axis, indexing='ij')
    kernel = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    kernel[kernel < np.finfo(np.float64).eps * kernel.max()] = 0
    total = kernel.sum()
    return kernel / total if total != 0 else kernel
