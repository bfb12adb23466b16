"""The whole PSFusion model: size, modes, ablation switches, complexity count."""
from __future__ import annotations

import pytest
import torch

from psfusion.complexity import fusion_complexity
from psfusion.models import PSFM, SDFM, PSFusion
from psfusion.registry import MODELS

from .helpers import LIGHT, labelled_samples

REFERENCE_PARAMS = 45_908_840
REFERENCE_UNUSED = 9_474  # two layers of its S2P2 that its forward never calls
DOUBLE_BN = 896  # its S2PM / DSRM blocks apply BatchNorm twice; one is kept here


def test_default_model_matches_reference_size():
    model = MODELS.build(dict(type='PSFusion'))
    params = sum(p.numel() for p in model.parameters())
    assert params == REFERENCE_PARAMS - REFERENCE_UNUSED - DOUBLE_BN == 45_898_470


@pytest.fixture(scope='module')
def light():
    torch.manual_seed(0)
    model = PSFusion(**LIGHT)
    model.loss_module.set_foreground_share(0.3)  # what BinaryClassWeightHook does in training
    return model


def test_tensor_mode_outputs(light):
    light.eval()
    with torch.no_grad():
        out = light(dict(ir=torch.rand(2, 1, 32, 64), vi=torch.rand(2, 3, 32, 64)))
    assert out['semantic'].shape == (2, 9, 32, 64)
    assert out['binary'].shape == out['boundary'].shape == (2, 2, 32, 64)
    for key in ('fused', 'vi_rec', 'ir_rec'):
        assert out[key].shape == (2, 1, 32, 64)
        assert 0 <= float(out[key].min()) and float(out[key].max()) <= 1


def test_loss_mode_names_every_term_and_reaches_every_parameter(light):
    light.train()
    light.zero_grad()
    losses = light(dict(ir=torch.rand(2, 1, 32, 32), vi=torch.rand(2, 3, 32, 32)),
                   labelled_samples(2, 32, 32), mode='loss')
    assert set(losses) == {'loss_int', 'loss_text', 'loss_corr', 'corr_denominator',
                           'loss_sf_vi', 'loss_sf_ir', 'loss_se', 'loss_bd', 'loss_bi'}
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    unused = [n for n, p in light.named_parameters() if p.grad is None]
    assert unused == []  # no dead layers (the reference has 9,474 unused parameters)


def test_predict_mode_crops_to_image_shape(light):
    light.eval()
    samples = labelled_samples(2, 64, 64)
    samples[1].set_metainfo(dict(img_shape=(50, 60)))
    vi = torch.rand(2, 3, 64, 64)
    preds = light(dict(ir=torch.rand(2, 1, 64, 64), vi=vi), samples, mode='predict')
    assert preds[0].pred_fused.shape == (64, 64)
    assert preds[1].pred_fused.shape == (50, 60)
    assert preds[1].pred_fused_rgb.data.shape == (3, 50, 60)
    assert preds[1].pred_sem_seg.data.shape == (1, 50, 60)
    assert int(preds[1].pred_sem_seg.data.max()) < 9


def test_loss_without_labels_or_with_batch_1_explains():
    model = PSFusion(**LIGHT)
    with pytest.raises(ValueError, match='with_s2p2=False'):
        model(dict(ir=torch.rand(2, 1, 32, 32), vi=torch.rand(2, 3, 32, 32)), [], mode='loss')
    with pytest.raises(ValueError, match='at least 2 samples'):
        model(dict(ir=torch.rand(1, 1, 32, 32), vi=torch.rand(1, 3, 32, 32)),
              labelled_samples(1, 32, 32), mode='loss')


def test_ablation_switches():
    x = dict(ir=torch.rand(2, 1, 32, 32), vi=torch.rand(2, 3, 32, 32))
    samples = labelled_samples(2, 32, 32)
    no_sfp = PSFusion(**LIGHT, with_sfp=False)
    no_sfp.loss_module.set_foreground_share(0.3)
    assert no_sfp.fidelity_vi is None
    assert not any(k.startswith('loss_sf') for k in no_sfp(x, samples, mode='loss'))
    no_s2p2 = PSFusion(**LIGHT, with_s2p2=False)
    losses = no_s2p2(x, samples, mode='loss')
    assert not any(k in losses for k in ('loss_se', 'loss_bd', 'loss_bi'))
    assert 'loss_int' in losses and no_s2p2.s2pm is not None  # F_se is still injected
    assert isinstance(PSFusion(**LIGHT).fuse_levels[3], PSFM)
    assert all(isinstance(m, SDFM) for m in PSFusion(**LIGHT, deep_fusion='sdfm').fuse_levels)
    plain = PSFusion(**LIGHT, loss=dict(type='PSFusionLoss', intensity='plain'))
    assert plain.loss_module.intensity == 'plain'
    with pytest.raises(ValueError, match='deep_fusion'):
        PSFusion(**LIGHT, deep_fusion='transformer')


def test_complexity_counts_attention(light):
    """At 32x64 the PSFM levels have 4x8, 2x4 and 1x2 positions; each PSFM runs two attentions
    of N x N x (d + d) multiply-adds with d = 32."""
    result = fusion_complexity(light, 32, 64)
    expected = sum(2 * n * n * 64 for n in (32, 8, 2))
    assert result.macs_by_operator['scaled_dot_product_attention'] == expected
    assert result.params == sum(p.numel() for p in light.parameters())
    assert result.flops == 2 * result.macs


@pytest.mark.slow
def test_default_model_reference_cost_at_480x640():
    """The reference: 356.5 GFLOPs of convolutions and 12.6 G of attention per 480x640 pair."""
    result = fusion_complexity(MODELS.build(dict(type='PSFusion')), 480, 640)
    assert 2 * result.macs_by_operator['conv'] / 1e9 == pytest.approx(356.5, abs=0.1)
    assert 2 * result.macs_by_operator['scaled_dot_product_attention'] / 1e9 == pytest.approx(
        12.6, abs=0.05)
