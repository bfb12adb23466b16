"""Fusion loss terms (paper eq. 16-20, 23).  Images are ``B x 1 x H x W`` in [0, 1]: the
infrared image, the visible image's Y channel and the fused Y channel.

``L_f = L_int + L_text + alpha * L_corr`` (eq. 20).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d

from .gradients import PADDINGS, sobel_abs

INTENSITY_MODES = ('mask', 'plain', 'reference')


def local_variance(img: torch.Tensor, window: int = 9, sigma: float = 1.5,
                   padding: str = 'border') -> torch.Tensor:
    """Gaussian-weighted local variance ``G*(x^2) - (G*x)^2`` (``window`` x ``window``),
    clamped at 0 against rounding.  ``padding='border'``: reflect padding; ``'zeros'``: zero
    padding (the official code's), which raises the variance along the image border."""
    if padding not in PADDINGS:
        raise ValueError(f'padding must be one of {PADDINGS}, got {padding!r}')
    border = 'reflect' if padding == 'border' else 'constant'
    kernel, sig = (window, window), (sigma, sigma)
    mean = gaussian_blur2d(img, kernel, sig, border_type=border)
    mean_sq = gaussian_blur2d(img * img, kernel, sig, border_type=border)
    return (mean_sq - mean * mean).clamp_min(0)


def contrast_masks(ir: torch.Tensor, vi: torch.Tensor, window: int = 9, sigma: float = 1.5,
                   padding: str = 'border') -> tuple[torch.Tensor, torch.Tensor]:
    """Contrast masks of eq. 16: ``M_ir = var(ir) > var(vi)``, ``M_vi = var(vi) > var(ir)``
    (float 0/1; both 0 where the variances are equal)."""
    var_ir = local_variance(ir, window, sigma, padding)
    var_vi = local_variance(vi, window, sigma, padding)
    return (var_ir > var_vi).float(), (var_vi > var_ir).float()


def windowed_mse(a: torch.Tensor, b: torch.Tensor, window: int = 9) -> torch.Tensor:
    """Mean of ``(a - b)^2`` over a ``window`` x ``window`` box (zero padding counted), per pixel:
    the reference code's intensity distance."""
    return F.avg_pool2d((a - b)**2, window, 1, window // 2, count_include_pad=True)


def intensity_loss(fused: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor,
                   target: Optional[torch.Tensor] = None, mode: str = 'mask',
                   window: int = 9, sigma: float = 1.5, padding: str = 'border') -> torch.Tensor:
    """Intensity loss.

    * ``'mask'`` (eq. 17, default): ``mean|s(M_ir + M_tar) (f - ir)| +
      mean|s(M_vi + 1 - M_tar) (f - vi)|`` with ``s`` the sigmoid;
    * ``'plain'`` (eq. 23, the "w/o mask" ablation): ``mean|f - ir| + mean|f - vi|``;
    * ``'reference'`` (the authors' code): ``map = (M_ir + M_tar) > 0``;
      ``mean(map * wmse(ir, f) + (1 - map) * wmse(vi, f))`` with a 9x9 windowed MSE.

    ``target`` is the salient-target mask ``M_tar`` (``B x 1 x H x W``, 1 on targets); ``None``
    means no targets.  ``padding``: of the contrast masks' variance (:func:`local_variance`).
    """
    if mode not in INTENSITY_MODES:
        raise ValueError(f'intensity mode must be one of {INTENSITY_MODES}, got {mode!r}')
    if mode == 'plain':
        return (fused - ir).abs().mean() + (fused - vi).abs().mean()
    if target is None:
        target = torch.zeros_like(ir)
    m_ir, m_vi = contrast_masks(ir, vi, window, sigma, padding)
    if mode == 'mask':
        w_ir = torch.sigmoid(m_ir + target)
        w_vi = torch.sigmoid(m_vi + 1 - target)
        return (w_ir * (fused - ir)).abs().mean() + (w_vi * (fused - vi)).abs().mean()
    map_ir = ((m_ir + target) > 0).float()
    return (map_ir * windowed_mse(ir, fused, window) +
            (1 - map_ir) * windowed_mse(vi, fused, window)).mean()


def texture_loss(fused: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor,
                 padding: str = 'border') -> torch.Tensor:
    """Texture loss (eq. 18), per Sobel direction: ``sum_d mean| |d f| - max(|d ir|, |d vi|) |``.

    Zero exactly when the fused image's absolute gradient equals the larger source gradient
    in both directions everywhere.  ``padding``: of the Sobel filters (:func:`.sobel_abs`).
    """
    g_f, g_ir, g_vi = (sobel_abs(x, padding) for x in (fused, ir, vi))
    diff = (g_f - torch.maximum(g_ir, g_vi)).abs()
    return diff.mean(dim=(0, 1, 3, 4)).sum()


def correlation(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Pearson correlation of each image pair of a batch (``B x C x H x W`` -> ``B``).

    ``eps`` keeps a constant image from dividing by zero (its correlation is then 0).
    """
    a = a.flatten(1) - a.flatten(1).mean(dim=1, keepdim=True)
    b = b.flatten(1) - b.flatten(1).mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / torch.sqrt((a * a).sum(dim=1) * (b * b).sum(dim=1) + eps)


def guarded_reciprocal(x: torch.Tensor, floor: float = 0.5) -> torch.Tensor:
    """``1 / x`` for ``x >= floor``; below the floor, its tangent line at ``floor``
    (``2 / floor - x / floor^2``).

    Continuous with a continuous derivative, always decreasing, and linear (not explosive) as
    ``x`` approaches 0 or turns negative: it keeps pushing the correlation up without the
    blow-ups of ``1 / (x + 1e-6)`` (the reference's, which gave a total loss of -134.7 in a
    measured step from random weights).
    """
    inside = x >= floor
    reciprocal = 1.0 / torch.where(inside, x, torch.ones_like(x))  # no 1/0 in either branch
    return torch.where(inside, reciprocal, 2.0 / floor - x / floor**2)


def correlation_loss(fused: torch.Tensor, ir: torch.Tensor, vi: torch.Tensor,
                     floor: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Correlation loss (eq. 19) per image, averaged over the batch:
    ``1 / (corr(f, ir) + corr(f, vi))`` with :func:`guarded_reciprocal`.

    Returns ``(loss, denominators)``; the per-image denominators are for logging.
    """
    denom = correlation(fused, ir) + correlation(fused, vi)
    return guarded_reciprocal(denom, floor).mean(), denom.detach()
