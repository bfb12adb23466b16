"""Scene fidelity (eq. 21) and semantic-path losses (OHEM, weighted binary CE, boundary CE)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from psfusion.losses import (boundary_cross_entropy, enet_class_weights, ohem_cross_entropy,
                             ohem_min_kept, scene_fidelity_loss, weighted_cross_entropy)


def test_scene_fidelity_loss():
    src = torch.rand(2, 1, 16, 16)
    for gradient in ('sobel', 'second_order'):
        assert scene_fidelity_loss(src, src, gradient).item() == pytest.approx(0.0, abs=1e-7)
    flat = torch.full_like(src, 0.5)
    # constant offset: intensity term only (gradients of a constant shift are unchanged)
    assert scene_fidelity_loss(src + 0.1, src).item() == pytest.approx(0.1, rel=1e-4)
    assert scene_fidelity_loss(flat, src) > (flat - src).abs().mean()  # texture term adds
    with pytest.raises(ValueError, match='gradient'):
        scene_fidelity_loss(src, src, 'laplace')


def test_ohem_min_kept_scales_with_batch():
    assert ohem_min_kept(16 * 256 * 256) == 65_536  # the reference's fixed value at batch 16
    assert ohem_min_kept(1 * 256 * 256) == 4_096
    assert ohem_min_kept(2 * 256 * 256) == 2 * ohem_min_kept(256 * 256)
    assert ohem_min_kept(3) == 1


def test_ohem_keeps_hard_pixels_or_the_hardest_min_kept():
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    logits = torch.zeros(1, 2, 4, 4)
    logits[0, 0] = 10.0  # every pixel confidently right: loss ~4.5e-5, none hard
    logits[0, 0, 0, 0] = -10.0  # one pixel confidently wrong: loss ~20
    per_pixel = F.cross_entropy(logits, target, reduction='none').flatten()
    # min_kept = 16 / 16 = 1 hard pixel available -> mean over hard pixels = that pixel
    assert ohem_cross_entropy(logits, target).item() == pytest.approx(per_pixel.max().item())
    # min_kept = 8 > 1 hard pixel -> the 8 largest losses
    expected = per_pixel.topk(8).values.mean()
    assert ohem_cross_entropy(logits, target, min_kept_ratio=0.5).item() == pytest.approx(
        expected.item())


def test_ohem_ignores_255_and_survives_batch_1_and_empty_labels():
    logits = torch.randn(1, 9, 8, 8, requires_grad=True)
    target = torch.randint(0, 9, (1, 8, 8))
    target[0, :4] = 255
    loss = ohem_cross_entropy(logits, target)
    valid = F.cross_entropy(logits, target, ignore_index=255, reduction='none')[target != 255]
    assert loss.item() <= valid.max().item() + 1e-6
    loss.backward()
    assert torch.all(logits.grad[0, :, :4] == 0)  # ignored pixels get no gradient
    empty = ohem_cross_entropy(logits, torch.full((1, 8, 8), 255))
    assert empty.item() == 0.0 and empty.requires_grad


def test_enet_weights_reproduce_the_reference_constants():
    """The reference's (1.4548, 19.8962) are 1/ln(1.02 + p) at 3.155 % foreground."""
    target = torch.zeros(100_000, dtype=torch.long)
    target[:3155] = 1
    weights = enet_class_weights(target)
    assert weights[0].item() == pytest.approx(1.4548, abs=1e-3)
    assert weights[1].item() == pytest.approx(19.8962, abs=1e-2)


def test_weighted_binary_cross_entropy_by_hand():
    logits = torch.zeros(1, 2, 1, 4)  # p = 0.5 everywhere: CE = ln 2 per pixel
    target = torch.tensor([[[0, 0, 0, 1]]])
    # weighted mean: sum(w_i ln2) / sum(w_i) = ln 2 for any weights
    assert weighted_cross_entropy(logits, target, (1.0, 3.0)).item() == pytest.approx(
        math.log(2))
    logits[0, 1, 0, 3] = 2.0  # the foreground pixel right with p = e^2 / (1 + e^2)
    ce_fg = -math.log(math.exp(2) / (1 + math.exp(2)))
    expected = (3 * math.log(2) + 3.0 * ce_fg) / (3 + 3.0)
    assert weighted_cross_entropy(logits, target, (1.0, 3.0)).item() == pytest.approx(expected)
    # default: ENet weights from the batch (p_fg = 1/4)
    w = [1 / math.log(1.02 + 0.75), 1 / math.log(1.02 + 0.25)]
    expected = (3 * w[0] * math.log(2) + w[1] * ce_fg) / (3 * w[0] + w[1])
    assert weighted_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-5)


def test_boundary_cross_entropy():
    logits = torch.zeros(2, 2, 4, 4)
    target = torch.randint(0, 2, (2, 4, 4))
    target[0] = 255
    assert boundary_cross_entropy(logits, target).item() == pytest.approx(math.log(2))
    assert boundary_cross_entropy(logits, torch.full_like(target, 255)).item() == 0.0


def _ohem_by_indexing(logits, target, thresh=0.75, ratio=1 / 16, ignore=255):
    """The textbook form (boolean indexing, a host read to choose the branch)."""
    loss = F.cross_entropy(logits, target, ignore_index=ignore, reduction='none')
    loss = loss.flatten()[target.flatten() != ignore]
    min_kept = min(ohem_min_kept(target.numel(), ratio), loss.numel())
    hard = loss > -math.log(thresh)
    if int(hard.sum()) >= min_kept:
        return loss[hard].mean()
    return loss.topk(min_kept).values.mean()


@pytest.mark.parametrize('confident, ratio, branch', [(False, 1 / 16, 'hard'),
                                                      (False, 0.9, 'hard'),
                                                      (True, 1 / 16, 'hard'),
                                                      (True, 0.5, 'top-k')])
def test_sync_free_losses_equal_the_indexing_forms(confident, ratio, branch):
    """Both OHEM branches (few hard pixels: the top-k mean; many: the hard mean), a quarter of
    the pixels unlabelled; the class-weighted and plain cross-entropies equal torch's mean."""
    generator = torch.Generator().manual_seed(3)
    target = torch.randint(0, 9, (2, 16, 20), generator=generator)
    logits = torch.randn(2, 9, 16, 20, generator=generator)
    if confident:  # 80 % of the pixels predicted right with a large margin: few hard ones
        right = torch.rand(2, 16, 20, generator=generator) < 0.8
        logits = logits + 8 * F.one_hot(target, 9).permute(0, 3, 1, 2) * right[:, None]
    logits.requires_grad_(True)
    target[torch.rand(2, 16, 20, generator=generator) < 0.25] = 255
    per_pixel = F.cross_entropy(logits, target, ignore_index=255, reduction='none')
    n_hard = int(((per_pixel > -math.log(0.75)) & (target != 255)).sum())
    kept = min(ohem_min_kept(target.numel(), ratio), int((target != 255).sum()))
    assert (n_hard >= kept) == (branch == 'hard')
    ours = ohem_cross_entropy(logits, target, min_kept_ratio=ratio)
    expected = _ohem_by_indexing(logits, target, ratio=ratio)
    torch.testing.assert_close(ours, expected)
    grad_ours, = torch.autograd.grad(ours, logits)
    grad_expected, = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(grad_ours, grad_expected)
    binary = target.clamp_max(1).masked_fill(target == 255, 255)
    two = logits[:, :2]
    torch.testing.assert_close(
        weighted_cross_entropy(two, binary, [1.5, 20.0]),
        F.cross_entropy(two, binary, weight=torch.tensor([1.5, 20.0]), ignore_index=255))
    torch.testing.assert_close(boundary_cross_entropy(two, binary),
                               F.cross_entropy(two, binary, ignore_index=255))


def test_losses_without_labelled_pixels_are_zero_and_keep_the_graph():
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    target = torch.full((1, 4, 4), 255)
    for value in (ohem_cross_entropy(logits, target), boundary_cross_entropy(logits, target),
                  weighted_cross_entropy(logits, target, [1.0, 2.0]),
                  weighted_cross_entropy(logits, target)):
        assert value.item() == 0.0 and value.requires_grad
        grad, = torch.autograd.grad(value, logits)
        assert torch.all(grad == 0)
