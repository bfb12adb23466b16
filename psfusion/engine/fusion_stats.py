"""Label-aware fusion statistics for validation and for the demo's "better than averaging" check.

Two retention ratios say whether a fused image keeps what each source is there for; 1 means
"as much as the source that carries it", and a plain average of the sources scores about 0.5
where the other source is blind:

* **target contrast retention** (infrared's job): warm targets (car, person, bike) stand out
  from their surroundings in the infrared image.  ``(mean F(T) - mean F(R)) /
  (mean IR(T) - mean IR(R))`` with ``T`` the target pixels and ``R`` a ring of ``ring`` pixels
  around them;
* **marking edge retention** (visible's job): painted markings (curb, car stop, guardrail,
  colour cone, bump) show edges in the visible image only.  ``mean |grad F| / mean |grad VI_Y|``
  (Sobel magnitude) over the markings' edge band.

Images are ``H x W`` float tensors in [0, 1] (Y or infrared); ``seg`` holds class ids.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from kornia.filters import spatial_gradient

TARGET_CLASSES = (1, 2, 3)
MARKING_CLASSES = (4, 5, 6, 7, 8)
MIN_SOURCE_CONTRAST = 0.02  # below this the infrared image shows no target: no ratio


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    return F.max_pool2d(mask[None, None].float(), 2 * radius + 1, 1, radius)[0, 0] > 0


def class_mask(seg: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """Boolean mask of the pixels whose class is in ``classes``."""
    return torch.isin(seg, torch.as_tensor(list(classes), device=seg.device))


def target_contrast(img: torch.Tensor, targets: torch.Tensor, ring: int = 7) -> float:
    """``mean img(T) - mean img(R)``, ``R`` = pixels within ``ring`` of ``T`` but not in it
    (NaN when either is empty)."""
    around = _dilate(targets, ring) & ~targets
    if not bool(targets.any()) or not bool(around.any()):
        return math.nan
    return float(img[targets].mean() - img[around].mean())


def target_contrast_retention(fused: torch.Tensor, ir: torch.Tensor, seg: torch.Tensor,
                              classes: Sequence[int] = TARGET_CLASSES, ring: int = 7) -> float:
    """Target contrast of ``fused`` relative to the infrared's (NaN if the infrared shows no
    target contrast)."""
    targets = class_mask(seg, classes)
    ref = target_contrast(ir, targets, ring)
    if math.isnan(ref) or abs(ref) < MIN_SOURCE_CONTRAST:
        return math.nan
    return target_contrast(fused, targets, ring) / ref


def gradient_magnitude(img: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of an ``H x W`` image (replicate padding)."""
    grad = spatial_gradient(img[None, None], mode='sobel', order=1, normalized=True)[0, 0]
    return torch.sqrt(grad[0]**2 + grad[1]**2)


def edge_band(seg: torch.Tensor, classes: Sequence[int] = MARKING_CLASSES,
              radius: int = 1) -> torch.Tensor:
    """Pixels within ``radius`` of a border of the given classes' region."""
    region = class_mask(seg, classes)
    return _dilate(region, radius) & _dilate(~region, radius)


def edge_retention(fused: torch.Tensor, vi_y: torch.Tensor, seg: torch.Tensor,
                   classes: Sequence[int] = MARKING_CLASSES) -> float:
    """Mean gradient magnitude of ``fused`` over the markings' edges relative to the visible
    image's (NaN without marking edges)."""
    band = edge_band(seg, classes)
    if not bool(band.any()):
        return math.nan
    ref = float(gradient_magnitude(vi_y)[band].mean())
    if ref < 1e-6:
        return math.nan
    return float(gradient_magnitude(fused)[band].mean()) / ref


def nanmean(values: Sequence[float]) -> float:
    """Mean of the non-NaN values (NaN if there are none)."""
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan
