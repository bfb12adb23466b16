"""BT.601 YCbCr colour conversion, as PSFusion uses it (full range, on values in [0, 1]).

``Y = .299 R + .587 G + .114 B``, ``Cb = .564 (B - Y) + .5``, ``Cr = .713 (R - Y) + .5``;
back: ``R = Y + 1.403 (Cr - .5)``, ``G = Y - .714 (Cr - .5) - .344 (Cb - .5)``,
``B = Y + 1.773 (Cb - .5)``.  These are exactly kornia's coefficients, so kornia does the work;
this module fixes the channel order (Y, Cb, Cr), clamps the way back to [0, 1] and adds the
fused-image assembly (fused Y + the visible image's chroma) the writer needs.
"""
from __future__ import annotations

import torch
from kornia.color import rgb_to_ycbcr as _rgb_to_ycbcr
from kornia.color import ycbcr_to_rgb as _ycbcr_to_rgb


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` RGB in [0, 1] -> ``(..., 3, H, W)`` Y, Cb, Cr (Y in [0, 1])."""
    return _rgb_to_ycbcr(rgb)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` Y, Cb, Cr -> RGB, clamped to [0, 1]."""
    return _ycbcr_to_rgb(ycbcr).clamp_(0.0, 1.0)


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``(..., 1, H, W)`` of an RGB tensor ``(..., 3, H, W)`` in [0, 1]."""
    return rgb_to_ycbcr(rgb)[..., :1, :, :]


def merge_luma(y: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Replace the luma of ``rgb`` by ``y`` (``(..., 1, H, W)``), keeping its Cb/Cr: RGB out.

    This is how PSFusion turns its fused Y channel into a colour image.
    """
    ycbcr = rgb_to_ycbcr(rgb)
    return ycbcr_to_rgb(torch.cat([y, ycbcr[..., 1:, :, :]], dim=-3))
