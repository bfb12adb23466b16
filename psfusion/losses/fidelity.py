"""Scene fidelity loss (paper eq. 21): the scene fidelity path must reconstruct each source."""
from __future__ import annotations

import torch

from .gradients import second_order_abs_sum, sobel_abs

GRADIENTS = ('sobel', 'second_order')


def scene_fidelity_loss(recon: torch.Tensor, source: torch.Tensor,
                        gradient: str = 'sobel', padding: str = 'border') -> torch.Tensor:
    """``mean|I - I^| + mean| |grad I| - |grad I^| |`` for ``B x 1 x H x W`` images.

    ``gradient='sobel'`` (paper: the same Sobel operator as eq. 18, per direction, the two
    directions' means summed) or ``'second_order'`` (the reference code: kornia's 5x5
    second-order Sobel, absolute values summed over directions before the L1; kornia pads
    by replication, as in the reference).  ``padding``: of the first-order Sobel filters.
    """
    intensity = (recon - source).abs().mean()
    if gradient == 'sobel':
        texture = (sobel_abs(recon, padding) - sobel_abs(source, padding)).abs().mean(dim=(0, 1, 3, 4)).sum()
    elif gradient == 'second_order':
        texture = (second_order_abs_sum(recon) - second_order_abs_sum(source)).abs().mean()
    else:
        raise ValueError(f'gradient must be one of {GRADIENTS}, got {gradient!r}')
    return intensity + texture
