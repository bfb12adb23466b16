"""The weighted objective (eq. 22): keys, weights from the config, ablation options."""
from __future__ import annotations

import pytest
import torch

from psfusion.losses import (PSFusionLoss, correlation_loss, intensity_loss,
                             scene_fidelity_loss, texture_loss)


def inputs(batch: int = 2, size: int = 16, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    rand = lambda *s: torch.rand(*s, generator=gen)  # noqa: E731
    outputs = dict(fused=rand(batch, 1, size, size), vi_rec=rand(batch, 1, size, size),
                   ir_rec=rand(batch, 1, size, size), semantic=rand(batch, 9, size, size),
                   binary=rand(batch, 2, size, size), boundary=rand(batch, 2, size, size))
    seg = torch.randint(0, 9, (batch, size, size), generator=gen)
    labels = dict(sem_seg=seg, binary=(seg > 0).long(), boundary=(seg % 2).long(),
                  target=((seg >= 1) & (seg <= 3)).float().unsqueeze(1))
    return outputs, rand(batch, 1, size, size), rand(batch, 1, size, size), labels


def test_terms_are_weighted_as_eq22():
    outputs, ir, vi, labels = inputs()
    losses = PSFusionLoss(lambda_f=10, lambda_sf=5, lambda_se=10, alpha=0.1,
                          binary_weights='batch')(outputs, ir, vi, labels)
    f = outputs['fused']
    assert losses['loss_int'].item() == pytest.approx(
        10 * intensity_loss(f, ir, vi, labels['target']).item(), rel=1e-5)
    assert losses['loss_text'].item() == pytest.approx(10 * texture_loss(f, ir, vi).item(),
                                                       rel=1e-5)
    assert losses['loss_corr'].item() == pytest.approx(
        1.0 * correlation_loss(f, ir, vi)[0].item(), rel=1e-5)
    assert losses['loss_sf_ir'].item() == pytest.approx(
        5 * scene_fidelity_loss(outputs['ir_rec'], ir).item(), rel=1e-5)
    assert {'loss_se', 'loss_bd', 'loss_bi', 'corr_denominator'} <= set(losses)


def test_options_change_the_terms():
    outputs, ir, vi, labels = inputs()
    base = PSFusionLoss(binary_weights='batch')(outputs, ir, vi, labels)
    plain = PSFusionLoss(intensity='plain', binary_weights='batch')(outputs, ir, vi, labels)
    assert plain['loss_int'].item() == pytest.approx(
        10 * intensity_loss(outputs['fused'], ir, vi, mode='plain').item(), rel=1e-5)
    assert plain['loss_int'] != base['loss_int']
    doubled = PSFusionLoss(lambda_se=20, binary_weights='batch')(outputs, ir, vi, labels)
    assert doubled['loss_se'].item() == pytest.approx(2 * base['loss_se'].item(), rel=1e-5)


def test_without_fidelity_or_semantic_outputs():
    outputs, ir, vi, labels = inputs()
    fusion_only = {'fused': outputs['fused']}
    losses = PSFusionLoss()(fusion_only, ir, vi, {'target': None})
    assert set(losses) == {'loss_int', 'loss_text', 'loss_corr', 'corr_denominator'}
    with pytest.raises(ValueError, match='with_s2p2=False'):
        PSFusionLoss()(outputs, ir, vi, {'target': None})


def test_binary_weights_come_from_the_dataset_the_batch_or_the_reference():
    outputs, ir, vi, labels = inputs()
    loss = PSFusionLoss()  # 'dataset': waits for the training split's foreground share
    assert loss.needs_foreground_share
    with pytest.raises(RuntimeError, match='BinaryClassWeightHook'):
        loss(outputs, ir, vi, labels)
    loss.set_foreground_share(0.03155)  # MSRS training set: the official fixed weights
    assert loss.binary_weight() == pytest.approx([1.4548, 19.8962], abs=2e-3)
    fixed = PSFusionLoss(binary_weights='reference')
    assert fixed.binary_weight() == (1.4548, 19.8962) and not fixed.needs_foreground_share
    assert PSFusionLoss(binary_weights='batch').binary_weight() is None
    with pytest.raises(ValueError, match='foreground share must be in'):
        loss.set_foreground_share(0.0)
    with pytest.raises(ValueError, match='binary_weights must be one of'):
        PSFusionLoss(binary_weights='epoch')
    # the weights reach the binary term: the reference's differ from this batch's own
    batch = PSFusionLoss(binary_weights='batch')(outputs, ir, vi, labels)['loss_bi']
    reference = fixed(outputs, ir, vi, labels)['loss_bi']
    assert abs(batch.item() - reference.item()) > 1e-4


def test_zero_padding_changes_the_fusion_terms_only_through_the_border():
    outputs, ir, vi, labels = inputs()
    border = PSFusionLoss(binary_weights='batch')(outputs, ir, vi, labels)
    zeros = PSFusionLoss(binary_weights='batch', padding='zeros')(outputs, ir, vi, labels)
    assert zeros['loss_text'] != border['loss_text']
    assert zeros['loss_se'] == border['loss_se']
