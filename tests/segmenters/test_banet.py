"""BANet (psfusion.segmenters): the network's size and shapes, the attention structure, the OHEM
loss, the optimiser groups and learning-rate schedule of SeAFusion's recipe, and the ImageNet
backbone weights (torchvision's layout; ``--pretrained on`` stops when they cannot be reached).

The reference numbers (12,894,080 parameters; the learning rate per iteration; the OHEM rule)
are those of ``shared/spec/TABLE1_METHODS.md`` (a), measured on SeAFusion's code.
"""
from __future__ import annotations

import ast
import copy
import functools
import math
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS, PARAM_SCHEDULERS
from mmseg.structures import SegDataSample

from psfusion.benchmark.catalog import SEGMENTERS, config_path, display_name
from psfusion.benchmark.pretrained import PretrainedUnavailable, resolve_pretrained
from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.segmenters import (AttentionRefinement, BANetHead, BatchOhemCrossEntropyLoss,
                                 ohem_cross_entropy)

from ..benchmark._data import cached_mmseg_metainfo

REPO = Path(__file__).resolve().parents[2]
SCHEDULE = REPO / 'mmseg_configs' / '_base_' / 'schedules' / 'banet_80k.py'
#: Trainable parameters with 9 classes: the reference network's (SeAFusion's BiSeNet rebuilt on
#: a torchvision resnet18), counted the same way.
PARAMS, BACKBONE_PARAMS = 12_894_080, 11_176_512
#: The reference's 10x-lr parameters: main output (CBR3 128->128, 1x1 128->9) and auxiliary
#: output (CBR3 128->64, 1x1 64->9), conv weights and BN affine.
HEAD_PARAMS = (128 * 128 * 9 + 2 * 128 + 128 * 9) + (128 * 64 * 9 + 2 * 64 + 64 * 9)


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


@functools.lru_cache(maxsize=None)
def _parse(dataset: str = 'msrs') -> Config:
    return Config.fromfile(str(config_path('banet', dataset)))


def _model(dataset: str = 'msrs', seed: int = 0):
    cfg = copy.deepcopy(_parse(dataset))
    cfg.model.backbone.init_cfg = None  # no model zoo here
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _randomise_batch_norm(module: torch.nn.Module, seed: int = 0) -> None:
    """Statistics and affine parameters away from the identity, so that eval mode is a test."""
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            n = layer.num_features
            layer.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            layer.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            layer.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            layer.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


# ----------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------
def test_parameters_equal_the_reference_networks():
    model = _model()
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    backbone = sum(p.numel() for p in model.backbone.parameters())
    assert count == PARAMS
    assert backbone == BACKBONE_PARAMS
    resnet18 = torchvision.models.resnet18(weights=None)
    assert backbone == sum(p.numel() for name, p in resnet18.named_parameters()
                           if not name.startswith('fc.'))
    assert count - backbone == 1_717_568  # refinement, decoder and both outputs


def test_shapes_from_image_to_logits():
    model = _model().eval()
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        stages = model.backbone(x)
        refined = model.neck(stages)
        main = model.decode_head(refined)
        aux = model.auxiliary_head(refined)
        predictions = model.predict(x)
    assert [tuple(s.shape) for s in stages] == [(2, 128, 8, 10), (2, 256, 4, 5), (2, 512, 2, 3)]
    assert [tuple(a.shape) for a in refined] == [(2, 128, 8, 10), (2, 128, 4, 5), (2, 128, 2, 3)]
    assert tuple(main.shape) == (2, 9, 8, 10)  # the decoder works at 1/8
    assert tuple(aux.shape) == (2, 9, 4, 5)  # the auxiliary output on A16
    assert tuple(predictions[0].seg_logits.data.shape) == (9, 64, 80)
    assert tuple(predictions[0].pred_sem_seg.data.shape) == (1, 64, 80)
    # the prediction is the main output brought to the image with align_corners=True
    expected = F.interpolate(main, size=(64, 80), mode='bilinear', align_corners=True)
    assert torch.allclose(predictions[1].seg_logits.data, expected[1], atol=1e-5)


def test_decoder_convs_start_as_the_reference_initialises_them():
    """kaiming_normal_(a=1): std 1/sqrt(fan_in), where mmcv's default would give
    sqrt(2/fan_out)."""
    model = _model(seed=1)
    weight = model.decode_head.up32.conv.weight  # 3x3, 128 -> 128: fan_in 1152
    assert weight.std().item() == pytest.approx(1 / math.sqrt(128 * 9), rel=0.02)
    fuse = model.decode_head.fuse16.conv.weight  # 1x1, 256 -> 128: fan_in 256
    assert fuse.std().item() == pytest.approx(1 / math.sqrt(256), rel=0.02)
    assert model.decode_head.conv_seg.bias is None and model.auxiliary_head.conv_seg.bias is None
    assert not model.decode_head.head_conv.conv.bias  # conv + BN: no bias
    assert model.decode_head.dropout is None and model.auxiliary_head.dropout is None


def test_attention_refinement_weights_channels_by_a_sigmoid_of_the_pooled_features():
    torch.manual_seed(0)
    arm = AttentionRefinement(4, 3)
    _randomise_batch_norm(arm)
    arm.eval()
    x = torch.randn(2, 4, 5, 6)
    with torch.no_grad():
        feat = arm.conv(x)
        bn = arm.attention.bn
        pooled = feat.mean(dim=(2, 3), keepdim=True)
        logits = F.conv2d(pooled, arm.attention.conv.weight)
        weight = torch.sigmoid((logits - bn.running_mean[:, None, None]) /
                               torch.sqrt(bn.running_var[:, None, None] + bn.eps) *
                               bn.weight[:, None, None] + bn.bias[:, None, None])
        assert torch.allclose(arm(x), feat * weight, atol=1e-6)
        # a known gate: no weights, BN bias ln 3 -> every channel weighted by 0.75
        arm.attention.conv.weight.zero_()
        bn.running_mean.zero_()
        bn.running_var.fill_(1 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.fill_(math.log(3.0))
        assert torch.allclose(arm(x), 0.75 * feat, atol=1e-6)


def _small_head() -> BANetHead:
    torch.manual_seed(0)
    head = BANetHead(in_channels=[6, 5, 7], decoder_channels=8, channels=4, num_classes=3,
                     in_index=[0, 1, 2], loss_decode=dict(type='BatchOhemCrossEntropyLoss'))
    head.init_weights()
    _randomise_batch_norm(head)
    return head.eval()


def _inputs(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 6, 8, 10, generator=generator),
            torch.randn(2, 5, 4, 5, generator=generator),
            torch.randn(2, 7, 2, 3, generator=generator)]


def test_bilateral_attention_decoder_follows_its_equations():
    head = _small_head()
    a8, a16, a32 = _inputs()

    def up(x, like):
        return F.interpolate(x, size=like.shape[2:], mode='bilinear', align_corners=False)

    with torch.no_grad():
        c32 = up(a32, a8)
        u32 = head.up32(up(a32, a16))
        c16 = up(head.fuse16(torch.cat([u32, a16], 1)), a8)
        c8 = head.fuse8(torch.cat([head.up16(up(a16, a8)), a8], 1))
        g1 = head.gate32(c32)
        g2 = head.gate16(g1 * c16)
        f8 = head.fuse(c8 * g2)
        assert torch.allclose(head.decode(a8, a16, a32), f8, atol=1e-6)
        assert torch.allclose(head([a8, a16, a32]), head.conv_seg(head.head_conv(f8)),
                              atol=1e-6)
        assert 0 < g1.min() and g1.max() < 1 and 0 < g2.min() and g2.max() < 1


def test_gates_are_sigmoids_from_coarse_to_fine():
    """Gate 1 (from the 1/32 context) set to a known 0.75 scales the 1/16 path before gate 2;
    gate 2 closed (sigmoid -> 0) leaves the 1/8 output blind to every input."""
    head = _small_head()
    captured = {}
    head.gate32.register_forward_hook(lambda m, i, o: captured.__setitem__('g1', o))
    with torch.no_grad():
        gate = head.gate32
        gate.conv.weight.zero_()
        gate.bn.running_mean.zero_()
        gate.bn.running_var.fill_(1 - gate.bn.eps)
        gate.bn.weight.fill_(1.0)
        gate.bn.bias.fill_(math.log(3.0))
        head.decode(*_inputs())
        assert torch.allclose(captured['g1'], torch.full_like(captured['g1'], 0.75))
        head.gate16.bn.bias.fill_(-100.0)  # sigmoid(-100) = 0: the fine path is shut
        first, second = head.decode(*_inputs(0)), head.decode(*_inputs(1))
        assert torch.allclose(first, second) and torch.allclose(first, first[0:1, :, :1, :1])


def test_segmenters_stay_apart_from_the_fusion_network():
    """The benchmark reads fused images from folders: its segmenters neither import
    psfusion.models nor register in the psfusion scope (whose look-ups import the fusion
    network); they are mmseg's own types."""
    package = REPO / 'psfusion' / 'segmenters'
    for path in package.glob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [('.' * node.level) + (node.module or '')]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(('psfusion.models', 'psfusion.registry', '..models',
                                            '..registry')), f'{path.name} imports {name}'
    for name in ('BANetNeck', 'BANetHead', 'BANetAuxHead', 'BatchOhemCrossEntropyLoss'):
        assert MODELS.module_dict[name].__module__.startswith('psfusion.segmenters.')
    assert 'ExponentialWarmupLR' in PARAM_SCHEDULERS.module_dict


# ----------------------------------------------------------------------------------------
# OHEM
# ----------------------------------------------------------------------------------------
def _logits_with_losses(losses):
    """Two-class logits whose cross-entropy against class 0 is ``losses`` (one pixel each)."""
    losses = torch.tensor(losses, dtype=torch.float64)
    z = torch.log(torch.expm1(losses))  # CE = softplus(z) with logits (0, z)
    return torch.stack([torch.zeros_like(z), z]).reshape(1, 2, 1, -1)


def test_ohem_keeps_every_hard_pixel_when_there_are_enough():
    # 32 pixels: n_min = 2; threshold -ln(0.7) = 0.357: five pixels above it
    values = [2.0, 1.5, 1.0, 0.8, 0.4] + [0.1] * 27
    logits = _logits_with_losses(values)
    target = torch.zeros(1, 1, 32, dtype=torch.long)
    expected = sum(values[:5]) / 5
    assert ohem_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-9)


def test_ohem_keeps_the_hardest_n_min_when_few_are_hard():
    values = [2.0] + [0.3, 0.2] + [0.05] * 29  # only one pixel above 0.357
    logits = _logits_with_losses(values)
    target = torch.zeros(1, 1, 32, dtype=torch.long)
    assert ohem_cross_entropy(logits, target).item() == pytest.approx((2.0 + 0.3) / 2, rel=1e-9)
    # n_min is a share of the batch's pixels: 4 of 64 with a second image
    two = torch.cat([logits, _logits_with_losses([0.25] + [0.01] * 31)])
    assert ohem_cross_entropy(two, torch.zeros(2, 1, 32, dtype=torch.long)).item() == \
        pytest.approx((2.0 + 0.3 + 0.25 + 0.2) / 4, rel=1e-9)


def test_ohem_ignored_pixels_stay_in_the_pool_with_loss_zero():
    """As the reference: an ignored pixel counts as loss 0 in the ranking (so it can fill the
    n_min quota), never as a hard pixel."""
    logits = _logits_with_losses([1.0] * 32)
    target = torch.full((1, 1, 32), 255, dtype=torch.long)
    target[0, 0, 0] = 0  # one labelled pixel; n_min = 2
    assert ohem_cross_entropy(logits, target).item() == pytest.approx(0.5, rel=1e-9)
    target[0, 0, :4] = 0  # four labelled hard pixels: their mean
    assert ohem_cross_entropy(logits, target).item() == pytest.approx(1.0, rel=1e-9)


def test_loss_module_refuses_sampler_weights_and_checks_its_settings():
    loss = BatchOhemCrossEntropyLoss(loss_weight=0.75)
    logits, target = _logits_with_losses([2.0] * 32), torch.zeros(1, 1, 32, dtype=torch.long)
    assert loss(logits, target).item() == pytest.approx(1.5, rel=1e-9)
    assert loss.loss_name == 'loss_ohem'
    with pytest.raises(ValueError, match='without a pixel sampler'):
        loss(logits, target, weight=torch.ones(1, 1, 32))
    with pytest.raises(ValueError, match='probability'):
        BatchOhemCrossEntropyLoss(thresh=1.2)


def test_training_losses_are_main_plus_three_quarters_of_aux():
    model = _model().train()
    torch.manual_seed(3)
    x = torch.randn(2, 3, 64, 80)
    labels = torch.randint(0, 9, (2, 64, 80))
    samples = []
    for label in labels:
        sample = SegDataSample(gt_sem_seg=PixelData(data=label[None]))
        sample.set_metainfo(dict(img_shape=(64, 80), ori_shape=(64, 80)))
        samples.append(sample)
    losses = model.loss(x, samples)
    assert set(k for k in losses if k.startswith(('decode.loss', 'aux.loss'))) == {
        'decode.loss_ohem', 'aux.loss_ohem'}
    with torch.no_grad():
        refined = model.extract_feat(x)  # train mode: the same batch statistics again

        def ohem(logits):
            logits = F.interpolate(logits, size=(64, 80), mode='bilinear', align_corners=True)
            return ohem_cross_entropy(logits, labels)

        main = ohem(model.decode_head(refined))
        aux = ohem(model.auxiliary_head(refined))
    assert losses['decode.loss_ohem'].item() == pytest.approx(main.item(), rel=1e-5)
    assert losses['aux.loss_ohem'].item() == pytest.approx(0.75 * aux.item(), rel=1e-5)


# ----------------------------------------------------------------------------------------
# The recipe: optimiser groups and schedule (SeAFusion's optimizer.py and train.py)
# ----------------------------------------------------------------------------------------
def test_config_recipe_values():
    cfg = _parse('msrs')
    assert cfg.train_dataloader.batch_size == 16
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum, optimizer.weight_decay) == \
        ('SGD', 1e-2, 0.9, 5e-4)
    assert cfg.train_cfg.max_iters == 80000
    for head in (cfg.model.decode_head, cfg.model.auxiliary_head):
        assert head.loss_decode.type == 'BatchOhemCrossEntropyLoss'
        assert head.loss_decode.thresh == 0.7 and head.loss_decode.min_kept_ratio == 1 / 16
    assert cfg.model.decode_head.loss_decode.loss_weight == 1.0
    assert cfg.model.auxiliary_head.loss_decode.loss_weight == 0.75
    assert SEGMENTERS['banet'].display == display_name('banet') == 'BANet'
    assert list(SEGMENTERS)[0] == 'banet'  # Table 1's order: BANet, SegFormer, SegNeXt


def test_heads_learn_ten_times_faster_and_only_conv_weights_decay():
    model = _model()
    cfg = _parse('msrs')
    with DefaultScope.overwrite_default_scope('mmseg'):
        optimizer = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper)).optimizer
    group_of = {id(p): group for group in optimizer.param_groups for p in group['params']}
    fast, modules = 0, dict(model.named_modules())
    for name, param in model.named_parameters():
        group = group_of[id(param)]
        owner = modules[name.rsplit('.', 1)[0]]
        is_head = name.startswith(('decode_head.head_conv.', 'decode_head.conv_seg.',
                                   'auxiliary_head.head_conv.', 'auxiliary_head.conv_seg.'))
        assert group['lr'] == pytest.approx(1e-1 if is_head else 1e-2), name
        fast += param.numel() if is_head else 0
        decays = isinstance(owner, torch.nn.Conv2d) and name.endswith('.weight')
        assert group['weight_decay'] == (5e-4 if decays else 0.0), name
        assert group['momentum'] == 0.9
    assert fast == HEAD_PARAMS


def _reference_lr(it: int) -> float:
    """SeAFusion optimizer.py: exponential warm-up from 1e-5 over 1000 iterations, then poly."""
    if it <= 1000:
        return 1e-5 * (1e-2 / 1e-5)**(it / 1000)
    return 1e-2 * (1 - (it - 1000) / 79000)**0.9


def test_learning_rate_follows_the_reference_step_for_step():
    schedule = Config.fromfile(str(SCHEDULE))
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([{'params': params[:1]}, {'params': params[1:], 'lr': 1e-1}],
                                lr=1e-2, momentum=0.9)
    with DefaultScope.overwrite_default_scope('mmseg'):
        schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer))
                      for s in schedule.param_scheduler]
    for it in range(1500):  # the warm-up, the hand-over and the start of the decay
        expected = _reference_lr(it)
        assert optimizer.param_groups[0]['lr'] == pytest.approx(expected, rel=1e-9), it
        assert optimizer.param_groups[1]['lr'] == pytest.approx(10 * expected, rel=1e-9), it
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    poly = schedulers[1]  # the rest of the decay: one step of its recurrence from anywhere
    for it in (1500, 40000, 79999):
        poly._global_step, poly.last_step = it - 1, it - 1 - poly.begin
        for group, factor in zip(optimizer.param_groups, (1, 10)):
            group['lr'] = factor * _reference_lr(it - 1)
        poly.step()
        assert optimizer.param_groups[0]['lr'] == pytest.approx(_reference_lr(it), rel=1e-9), it
        assert optimizer.param_groups[1]['lr'] == pytest.approx(10 * _reference_lr(it),
                                                                rel=1e-9), it
    assert schedule.train_cfg.max_iters == 80000


# ----------------------------------------------------------------------------------------
# ImageNet weights
# ----------------------------------------------------------------------------------------
def test_torchvision_resnet18_weights_load_into_the_backbone(tmp_path):
    """The configured checkpoint is torchvision's file: its keys are mmseg ResNet's."""
    cfg = copy.deepcopy(_parse('msrs'))
    assert cfg.model.backbone.init_cfg.checkpoint.endswith('/resnet18-f37072fd.pth')
    torch.manual_seed(5)
    resnet18 = torchvision.models.resnet18(weights=None)
    path = tmp_path / 'resnet18.pth'
    torch.save(resnet18.state_dict(), path)  # with fc, as torchvision's file
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    model = MODELS.build(cfg.model)
    model.init_weights()
    loaded = model.backbone.state_dict()
    for key, value in resnet18.state_dict().items():
        if not key.startswith('fc.'):
            assert torch.equal(loaded[key], value), key


def test_pretrained_on_stops_when_the_backbone_cannot_be_fetched(tmp_path, monkeypatch, capsys):
    """No network and nothing in torch's cache: the benchmark stops before any training and
    says which file to place where."""
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError('network unreachable (test)')

    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cfg = copy.deepcopy(_parse('msrs'))
    with pytest.raises(PretrainedUnavailable, match='resnet18-f37072fd.pth cannot be reached'):
        resolve_pretrained(cfg, 'on')
    assert cfg.model.backbone.init_cfg.checkpoint.endswith('resnet18-f37072fd.pth')
    assert resolve_pretrained(cfg, 'auto', lambda message: None) == 'off (unreachable)'

    data = tmp_path / 'data'
    write_synthetic_dataset(str(data), num_train=2, num_test=1, num_val=0, height=32, width=32)
    sys.path.insert(0, str(REPO / 'tools'))
    try:
        import benchmark_downstream
    finally:
        sys.path.remove(str(REPO / 'tools'))
    work = tmp_path / 'work'
    argv = ['--seg', 'banet', '--dataset', 'msrs', '--data-root', str(data), '--sources', 'ir',
            '--max-iters', '1', '--workers', '0', '--work-dir', str(work)]
    assert benchmark_downstream.main(argv) == 2
    err = capsys.readouterr().err
    assert 'banet: the pretrained backbone https://download.pytorch.org/models/' \
           'resnet18-f37072fd.pth cannot be reached' in err
    assert os.path.join('torch', 'hub', 'checkpoints', 'resnet18-f37072fd.pth') in err
    assert '--pretrained off' in err and not work.exists()
