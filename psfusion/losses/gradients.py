"""Image gradients used by the texture (eq. 18) and scene-fidelity (eq. 21) losses (kornia)."""
from __future__ import annotations

import torch
from kornia.filters import spatial_gradient


def sobel_abs(img: torch.Tensor) -> torch.Tensor:
    """``|d/dx|`` and ``|d/dy|`` of ``B x C x H x W`` images with the unnormalised 3x3 Sobel
    kernels (``[-1 0 1; -2 0 2; -1 0 1]``), replicate-padded: ``B x C x 2 x H x W``."""
    return spatial_gradient(img, mode='sobel', order=1, normalized=False).abs()


def second_order_abs_sum(img: torch.Tensor) -> torch.Tensor:
    """``sum over channels and directions of |second-order 5x5 Sobel derivative|``: ``B x H x W``.

    The gradient the reference code uses in its scene-fidelity loss
    (``kornia.filters.spatial_gradient(x, order=2).abs().sum(dim=[1, 2])``).
    """
    return spatial_gradient(img, mode='sobel', order=2).abs().sum(dim=(1, 2))
