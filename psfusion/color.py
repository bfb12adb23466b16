"""BT.601 YCbCr colour conversion, as PSFusion uses it (full range, on values in [0, 1]).

``Y = .299 R + .587 G + .114 B``, ``Cb = .564 (B - Y) + .5``, ``Cr = .713 (R - Y) + .5``;
back: ``R = Y + 1.403 (Cr - .5)``, ``G = Y - .714 (Cr - .5) - .344 (Cb - .5)``,
``B = Y + 1.773 (Cb - .5)``, clamped to [0, 1]: the PSFusion code's coefficients (its ``utils.py``),
written here rather than taken from kornia, whose way back changed in kornia 0.9 to the exact
inverse of the forward coefficients (``1.4025245442``, ...): that moved fused colours by up to
1.2e-4 (0.03 of an 8-bit level) against the authors' code, depending on the kornia version
installed.  The rounded coefficients are not an exact inverse: a round trip drifts by at most
2.7e-4.  The forward conversion is kornia's (unchanged, the same coefficients).
"""
from __future__ import annotations

import torch
from kornia.color import rgb_to_ycbcr as _rgb_to_ycbcr

#: Way back from (Y, Cb - .5, Cr - .5): BT.601 as the PSFusion code writes it.
CR_TO_R, CR_TO_G, CB_TO_G, CB_TO_B = 1.403, -0.714, -0.344, 1.773


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` RGB in [0, 1] -> ``(..., 3, H, W)`` Y, Cb, Cr (Y in [0, 1])."""
    return _rgb_to_ycbcr(rgb)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` Y, Cb, Cr -> RGB, clamped to [0, 1] (the PSFusion code's
    coefficients, see the module docstring)."""
    y = ycbcr[..., 0, :, :]
    cb = ycbcr[..., 1, :, :] - 0.5
    cr = ycbcr[..., 2, :, :] - 0.5
    rgb = torch.stack([y + CR_TO_R * cr, y + CR_TO_G * cr + CB_TO_G * cb, y + CB_TO_B * cb],
                      dim=-3)
    return rgb.clamp_(0.0, 1.0)


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``(..., 1, H, W)`` of an RGB tensor ``(..., 3, H, W)`` in [0, 1]."""
    return rgb_to_ycbcr(rgb)[..., :1, :, :]


def merge_luma(y: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Replace the luma of ``rgb`` by ``y`` (``(..., 1, H, W)``), keeping its Cb/Cr: RGB out.

    This is how PSFusion turns its fused Y channel into a colour image.
    """
    ycbcr = rgb_to_ycbcr(rgb)
    return ycbcr_to_rgb(torch.cat([y, ycbcr[..., 1:, :, :]], dim=-3))
