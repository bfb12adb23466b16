"""Fusion loss terms (eq. 16-20, 23) on inputs with hand-computable answers."""
from __future__ import annotations

import math

import pytest
import torch

from psfusion.losses import (contrast_masks, correlation, correlation_loss, guarded_reciprocal,
                             intensity_loss, local_variance, sobel_abs, texture_loss,
                             windowed_mse)


def checkerboard(h: int, w: int, lo: float = 0.2, hi: float = 0.8) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return torch.where((yy + xx) % 2 == 0, hi, lo).float()[None, None]


def test_local_variance_of_flat_and_checkerboard():
    flat = torch.full((1, 1, 20, 20), 0.3)
    assert torch.allclose(local_variance(flat), torch.zeros_like(flat), atol=1e-6)
    board = checkerboard(20, 20)
    # values 0.2 / 0.8 in (nearly) equal Gaussian weight: variance ~0.3^2 = 0.09
    assert local_variance(board)[..., 10, 10].item() == pytest.approx(0.09, abs=0.005)


def test_contrast_masks_follow_the_higher_variance():
    """Infrared textured on the left, visible textured on the right (eq. 16)."""
    board, flat = checkerboard(24, 48), torch.full((1, 1, 24, 48), 0.5)
    ir = torch.cat([board[..., :24], flat[..., 24:]], dim=-1)
    vi = torch.cat([flat[..., :24], board[..., 24:]], dim=-1)
    m_ir, m_vi = contrast_masks(ir, vi)
    assert torch.all(m_ir[..., 4:20, 2:18] == 1) and torch.all(m_vi[..., 4:20, 2:18] == 0)
    assert torch.all(m_ir[..., 4:20, 30:46] == 0) and torch.all(m_vi[..., 4:20, 30:46] == 1)
    assert torch.all(m_ir * m_vi == 0)
    same_ir, same_vi = contrast_masks(flat, flat)  # equal variance: neither mask
    assert same_ir.sum() == 0 and same_vi.sum() == 0


def test_intensity_loss_eq17_by_hand():
    """Flat images: no contrast mask; on targets weights are s(1)=0.731 (ir) and s(0)=0.5 (vi),
    elsewhere s(0)=0.5 (ir) and s(1)=0.731 (vi)."""
    ir, vi, fused = (torch.full((1, 1, 8, 8), v) for v in (0.9, 0.1, 0.5))
    target = torch.zeros(1, 1, 8, 8)
    target[..., :4, :] = 1  # half the pixels are targets
    s0, s1 = 0.5, 1 / (1 + math.exp(-1))
    expected = 0.4 * (0.5 * s1 + 0.5 * s0) + 0.4 * (0.5 * s0 + 0.5 * s1)
    assert intensity_loss(fused, ir, vi, target).item() == pytest.approx(expected, rel=1e-5)
    # fused = ir on targets, = vi elsewhere is strictly better than the average
    better = torch.where(target.bool(), ir, vi)
    assert intensity_loss(better, ir, vi, target) < intensity_loss(fused, ir, vi, target)


def test_intensity_loss_plain_eq23_and_reference():
    ir, vi, fused = (torch.full((1, 1, 8, 8), v) for v in (0.9, 0.1, 0.5))
    assert intensity_loss(fused, ir, vi, mode='plain').item() == pytest.approx(0.8)
    target = torch.zeros(1, 1, 8, 8)
    target[..., :4, :] = 1
    # reference: map = targets (no contrast mask on flat images); windowed MSE of a constant
    # difference is the squared difference (less at the zero-padded borders)
    expected = (target * windowed_mse(ir, fused) + (1 - target) * windowed_mse(vi, fused)).mean()
    assert intensity_loss(fused, ir, vi, target, mode='reference') == pytest.approx(
        expected.item())
    big_ir, big_f = torch.full((1, 1, 20, 20), 0.9), torch.full((1, 1, 20, 20), 0.5)
    assert windowed_mse(big_ir, big_f)[..., 10, 10].item() == pytest.approx(0.16, rel=1e-5)
    # at a corner only 5 x 5 of the 81 window pixels lie inside the image
    assert windowed_mse(big_ir, big_f)[..., 0, 0].item() == pytest.approx(0.16 * 25 / 81)
    with pytest.raises(ValueError, match='intensity mode'):
        intensity_loss(fused, ir, vi, mode='max')


def test_texture_loss_zero_when_fused_gradient_is_the_max_source_gradient():
    ramp = torch.linspace(0, 1, 16).repeat(16, 1)[None, None]
    vertical = ramp.transpose(-1, -2)
    ir, vi = ramp * 0.5, vertical * 0.5  # ir varies along x, vi along y
    fused = (ramp + vertical) * 0.5  # |d/dx f| = |d/dx ir|, |d/dy f| = |d/dy vi|
    assert texture_loss(fused, ir, vi).item() == pytest.approx(0.0, abs=1e-6)
    # a flat fused image loses all texture: the loss is the mean max gradient
    flat = torch.zeros_like(ir)
    expected = torch.maximum(sobel_abs(ir), sobel_abs(vi)).mean(dim=(0, 1, 3, 4)).sum()
    assert texture_loss(flat, ir, vi).item() == pytest.approx(expected.item())
    assert expected > 0


def test_correlation_known_values():
    a = torch.rand(3, 1, 8, 8)
    assert torch.allclose(correlation(a, a), torch.ones(3), atol=1e-5)
    assert torch.allclose(correlation(a, 1 - a), -torch.ones(3), atol=1e-5)
    assert torch.allclose(correlation(a, 2 * a + 0.3), torch.ones(3), atol=1e-5)
    flat = correlation(a, torch.full_like(a, 0.4))  # constant image: 0, not NaN
    assert torch.allclose(flat, torch.zeros(3), atol=1e-6)


def test_guarded_reciprocal():
    x = torch.tensor([2.0, 0.1, 0.05, 0.0, -1.0], requires_grad=True)
    y = guarded_reciprocal(x, floor=0.1)
    assert y[0].item() == pytest.approx(0.5)
    assert y[1].item() == pytest.approx(10.0)
    assert y[2].item() == pytest.approx(15.0)  # tangent line 20 - 100 x
    assert y[3].item() == pytest.approx(20.0) and y[4].item() == pytest.approx(120.0)
    y.sum().backward()
    assert torch.all(torch.isfinite(x.grad)) and torch.all(x.grad < 0)  # always decreasing


def test_correlation_loss_guarded_against_zero_and_negative_denominators():
    ir = torch.rand(2, 1, 8, 8)
    vi = 1 - ir  # corr(f, ir) + corr(f, vi) = 0 for any f
    fused = ir.clone().requires_grad_()
    loss, denom = correlation_loss(fused, ir, vi)
    assert torch.allclose(denom, torch.zeros(2), atol=1e-5)
    assert loss.item() == pytest.approx(4.0, rel=1e-4)  # 2 / floor at the default floor 0.5
    loss.backward()
    assert torch.all(torch.isfinite(fused.grad))
    good, d = correlation_loss(ir, ir, ir)
    assert good.item() == pytest.approx(0.5, rel=1e-4) and torch.allclose(d, 2 * torch.ones(2))


def test_padding_modes_differ_only_along_the_border():
    from psfusion.losses import local_variance, sobel_abs

    flat = torch.ones(1, 1, 12, 12)
    # a constant image has no gradient and no variance with border padding ...
    assert sobel_abs(flat).abs().max() == 0 and local_variance(flat).max() < 1e-6
    # ... but zero padding (the official code's) puts an edge around it
    zeros = sobel_abs(flat, 'zeros')
    assert zeros[..., 1:-1, 1:-1].abs().max() == 0
    assert zeros[0, 0, 0, 5, 0] == 4 and zeros[0, 0, 1, 0, 5] == 4  # |[-1 0 1; -2 0 2; ..]|
    variance = local_variance(flat, padding='zeros')
    assert variance[..., 4:-4, 4:-4].max() < 1e-6 and variance[0, 0, 0, 0] > 0.1
    with pytest.raises(ValueError, match='padding must be one of'):
        sobel_abs(flat, 'reflect')
