"""Image gradients used by the texture (eq. 18) and scene-fidelity (eq. 21) losses (kornia)."""
from __future__ import annotations

import torch
from kornia.filters import filter2d, get_spatial_gradient_kernel2d, spatial_gradient

#: Border handling of the losses' filters: ``'border'`` (ours: the image edge repeated or
#: mirrored) or ``'zeros'`` (the official code's ``conv2d(..., padding=k // 2)``).
PADDINGS = ('border', 'zeros')


def sobel_abs(img: torch.Tensor, padding: str = 'border') -> torch.Tensor:
    """``|d/dx|`` and ``|d/dy|`` of ``B x C x H x W`` images with the unnormalised 3x3 Sobel
    kernels (``[-1 0 1; -2 0 2; -1 0 1]``): ``B x C x 2 x H x W``.  ``padding='border'``
    replicates the edge pixels (no gradient across the image border); ``'zeros'`` pads with 0
    as the official code does (a strong gradient along the border of a bright image)."""
    if padding == 'border':
        return spatial_gradient(img, mode='sobel', order=1, normalized=False).abs()
    if padding != 'zeros':
        raise ValueError(f'padding must be one of {PADDINGS}, got {padding!r}')
    kernels = get_spatial_gradient_kernel2d('sobel', 1).to(img)
    return torch.stack([filter2d(img, k[None], border_type='constant') for k in kernels],
                       dim=2).abs()


def second_order_abs_sum(img: torch.Tensor) -> torch.Tensor:
    """``sum over channels and directions of |second-order 5x5 Sobel derivative|``: ``B x H x W``.

    The gradient the reference code uses in its scene-fidelity loss
    (``kornia.filters.spatial_gradient(x, order=2).abs().sum(dim=[1, 2])``).
    """
    return spatial_gradient(img, mode='sobel', order=2).abs().sum(dim=(1, 2))
