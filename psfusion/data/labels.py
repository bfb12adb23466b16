"""Auxiliary labels derived on the fly from a semantic label (class ids, 255 = ignore).

PSFusion's sparse semantic perception path is supervised by a semantic label, a binary
(foreground) label and a boundary label; its intensity loss uses a salient-target mask.  The
reference code precomputes the binary and boundary labels offline with unpublished scripts; here
they are pure functions of the semantic label, so any dataset with semantic labels works as is.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .io import IGNORE_INDEX

#: Salient targets (warm objects) when a sample names none: MSRS's car, person, bike.  Datasets
#: give their own in ``metainfo['target_classes']`` (see :mod:`psfusion.data.layouts`).
DEFAULT_TARGET_CLASSES = (1, 2, 3)


def binary_label(seg: np.ndarray, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Foreground label: 1 where the class is not background (0), 0 on background.

    Ignored pixels stay ``ignore_index``.
    """
    out = (seg != 0).astype(np.uint8)
    out[seg == ignore_index] = ignore_index
    return out


def boundary_label(seg: np.ndarray, width: int = 3,
                   ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Boundary label: 1 where the ``width x width`` neighbourhood holds more than one class.

    ``width`` must be odd; a straight edge between two regions then gives a band ``width - 1``
    pixels wide (``(width - 1) / 2`` on each side).  Ignored pixels do not count as a class and
    keep ``ignore_index`` in the output.  Computed as dilation != erosion (OpenCV).
    """
    if width < 3 or width % 2 == 0:
        raise ValueError(f'boundary width must be an odd number >= 3, got {width}')
    ignored = seg == ignore_index
    shifted = seg.astype(np.uint8) + 1  # classes 1..9, so that 0 and 255 can mark "ignore"
    for_max = np.where(ignored, 0, shifted).astype(np.uint8)
    for_min = np.where(ignored, 255, shifted).astype(np.uint8)
    kernel = np.ones((width, width), np.uint8)
    largest = cv2.dilate(for_max, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    smallest = cv2.erode(for_min, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=255)
    out = ((largest != smallest) & (largest > 0) & (smallest < 255)).astype(np.uint8)
    out[ignored] = ignore_index
    return out


def target_mask(seg: np.ndarray,
                classes: Sequence[int] = DEFAULT_TARGET_CLASSES) -> np.ndarray:
    """Salient-target mask (uint8 0/1): pixels of the given classes (default car, person, bike)."""
    return np.isin(seg, np.asarray(list(classes), dtype=seg.dtype)).astype(np.uint8)


def colorize(seg: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """Render class ids as an RGB image in the dataset's palette (ignored pixels white)."""
    table = np.full((256, 3), 255, np.uint8)
    table[:len(palette)] = np.asarray(palette, np.uint8)
    return table[seg]
