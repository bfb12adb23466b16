"""Feature-level and early RGB-thermal fusion (psfusion.segmenters.cmx, .early_fusion): sizes
against the reference, shapes, the FRM/FFM wiring, a training step, ImageNet weights in both
streams (and in the widened first filters), and the refusal of anything but (R, G, B, T).

The reference counts are ``shared/spec/FEATURE_LEVEL.md`` §3's, re-measured on
huaaaliu/RGBX_Semantic_Segmentation (e251d86) with its MLP decoder (E = 512, 9 classes).
"""
from __future__ import annotations

import copy
import functools
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.models.backbones.mit import MixVisionTransformer
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from psfusion.benchmark.pretrained import PretrainedUnavailable, resolve_pretrained
from psfusion.errors import CheckpointError, ConfigError
from psfusion.segmenters import (CMXBackbone, EarlyFusionMiT, FeatureFusion,
                                 FeatureRectification)

from ..benchmark._data import cached_mmseg_metainfo

BASES = Path(__file__).resolve().parents[2] / 'mmseg_configs' / '_base_' / 'models'
#: The reference CMX (dual MiT, FRMs, FFMs, MLP decoder with E = 512), 9 classes.
REFERENCE = {'cmx_b2': 66_565_521, 'cmx_b4': 139_858_321}
#: mmseg's SegformerHead has 3 x E more than the reference decoder (see cmx.py).
HEAD_EXTRA = 3 * 512
MIT_STREAM = {'cmx_b2': 24_196_288, 'cmx_b4': 60_842_688}  # a plain mmseg MiT-B2 / B4
FRM_PER_STAGE = [107_074, 427_138, 2_665_282, 6_820_354]
FFM_PER_STAGE = [71_296, 281_856, 1_749_120, 4_469_760]
#: The mini models' MiT (segformer_mini.py's backbone).
MINI_MIT = dict(embed_dims=16, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8])


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases_and_one_thread():
    """mmseg's metafiles read once; one thread: on these tiny models a second thread costs
    more in synchronisation than it saves (several times more on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with cached_mmseg_metainfo():
            yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def _parse(name: str) -> Config:
    return Config.fromfile(str(BASES / f'{name}.py'))


def _model(name: str, seed: int = 0, checkpoint=None):
    cfg = copy.deepcopy(_parse(name))
    cfg.model.backbone.init_cfg = \
        None if checkpoint is None else dict(type='Pretrained', checkpoint=str(checkpoint))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _samples(labels: torch.Tensor):
    samples = []
    for label in labels:
        sample = SegDataSample(gt_sem_seg=PixelData(data=label[None]))
        shape = tuple(label.shape)
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        samples.append(sample)
    return samples


# ----------------------------------------------------------------------------------------
# Sizes
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['cmx_b2', 'cmx_b4'])
def test_cmx_parameters_equal_the_reference_plus_mmsegs_head(name):
    cfg = copy.deepcopy(_parse(name))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)  # no init_weights: counting only
    backbone = model.backbone
    assert _count(backbone.rgb_stream) == _count(backbone.x_stream) == MIT_STREAM[name]
    assert [_count(m) for m in backbone.frms] == FRM_PER_STAGE
    assert [_count(m) for m in backbone.ffms] == FFM_PER_STAGE
    assert _count(model.decode_head) == 1_582_601
    total = _count(model)
    assert total == REFERENCE[name] + HEAD_EXTRA
    assert abs(total - REFERENCE[name]) / REFERENCE[name] < 1e-3
    assert not set(backbone.rgb_stream.parameters()) & set(backbone.x_stream.parameters())


def test_early_fusion_b2_is_segformer_b2_with_a_4_channel_patch_embedding():
    cfg = copy.deepcopy(_parse('early_b2'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert isinstance(model.backbone, EarlyFusionMiT)
    assert _count(model) == 24_728_585  # SegFormer-B2 24,725,449 + 64 x 7 x 7
    assert tuple(model.backbone.layers[0][0].projection.weight.shape) == (64, 4, 7, 7)
    assert cfg.model.decode_head.channels == 256  # the SegFormer-B2 base's head


def test_mini_models_share_segformer_minis_shape():
    segformer = _parse('segformer_mini').model
    for name in ('cmx_mini', 'early_mini'):
        cfg = _parse(name)
        assert cfg.pretrained is None and cfg.model.backbone.init_cfg is None
        assert cfg.model.backbone.embed_dims == segformer.backbone.embed_dims == 16
        assert list(cfg.model.decode_head.in_channels) == list(segformer.decode_head.in_channels)
        assert cfg.model.decode_head.channels == segformer.decode_head.channels == 64
    assert list(_parse('cmx_mini').model.backbone.num_layers) == \
        list(segformer.backbone.num_layers) == [2, 2, 2, 2]
    assert _count(_model('early_mini')) == _count(_model('segformer_mini')) + 16 * 7 * 7 == \
        880_393
    assert _count(_model('cmx_mini')) == 2_768_945  # the base's docstring


# ----------------------------------------------------------------------------------------
# Input contract and data preprocessor
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['cmx_mini', 'early_mini'])
def test_three_channel_input_is_refused(name):
    model = _model(name).eval()
    with torch.no_grad(), pytest.raises(ValueError, match=r'needs the `rgbt` source \(4 '
                                                          r'channels: visible RGB \+ infrared'):
        model.backbone(torch.randn(1, 3, 32, 32))
    with pytest.raises(ConfigError, match='got 5 channels'):
        model.extract_feat(torch.randn(1, 5, 32, 32))
    with pytest.raises(ConfigError, match='in_channels=3'):
        MODELS.build(dict(_parse(name).model.backbone, in_channels=3))


@pytest.mark.parametrize('name', ['cmx_b2', 'cmx_b4', 'cmx_mini', 'early_b2', 'early_mini'])
def test_bases_preprocess_4_channels_in_r_g_b_t_order(name):
    cfg = _parse(name)
    pre = cfg.model.data_preprocessor
    assert len(pre.mean) == len(pre.std) == 4 and pre.bgr_to_rgb is False
    assert cfg.norm_cfg.type == 'BN' and cfg.model.decode_head.type == 'SegformerHead'
    assert cfg.model.decode_head.num_classes == 9
    preprocessor = MODELS.build(dict(pre, mean=[1, 2, 3, 4], std=[1, 2, 4, 8]))
    image = torch.tensor([11, 22, 43, 84], dtype=torch.uint8)[:, None, None].expand(4, 2, 2)
    out = preprocessor(dict(inputs=[image], data_samples=[SegDataSample()]))['inputs']
    assert torch.equal(out[0, :, 0, 0], torch.tensor([10.0, 10.0, 10.0, 10.0]))  # no swap


def test_pretrained_values_are_mmsegs_mit_checkpoints():
    prefix = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/'
    assert _parse('cmx_b2').pretrained == _parse('segformer_b2').pretrained == \
        _parse('early_b2').pretrained == prefix + 'mit_b2_20220624-66e8bf70.pth'
    assert _parse('cmx_b4').pretrained == _parse('segformer_b4').pretrained
    for name in ('cmx_b2', 'cmx_b4', 'early_b2'):
        cfg = _parse(name)
        assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint=cfg.pretrained)
    assert list(_parse('cmx_b4').model.backbone.num_layers) == [3, 8, 27, 3]


# ----------------------------------------------------------------------------------------
# Shapes and a training step
# ----------------------------------------------------------------------------------------
def test_cmx_shapes_from_rgbt_to_logits():
    model = _model('cmx_mini').eval()
    x = torch.randn(2, 4, 64, 96)
    with torch.no_grad():
        fused = model.backbone(x)
        predictions = model.predict(x)
    assert [tuple(f.shape) for f in fused] == [(2, 16, 16, 24), (2, 32, 8, 12), (2, 80, 4, 6),
                                               (2, 128, 2, 3)]
    assert tuple(predictions[0].seg_logits.data.shape) == (9, 64, 96)
    assert tuple(predictions[1].pred_sem_seg.data.shape) == (1, 64, 96)


def test_cmx_thermal_stream_reads_the_replicated_thermal_channel():
    """Changing the thermal channel changes the output; the X stream sees T three times, the
    RGB stream R, G, B (checked on the first patch embedding's input)."""
    model = _model('cmx_mini').eval()
    seen = {}
    for name in ('rgb_stream', 'x_stream'):
        embed = getattr(model.backbone, name).layers[0][0]
        embed.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, i[0]))
    x = torch.randn(1, 4, 32, 32)
    with torch.no_grad():
        first = model.backbone(x)
        assert torch.equal(seen['rgb_stream'], x[:, :3])
        assert torch.equal(seen['x_stream'], x[:, 3:4].expand(-1, 3, -1, -1))
        x2 = x.clone()
        x2[:, 3] += 1
        second = model.backbone(x2)
    assert not torch.allclose(first[0], second[0])


@pytest.mark.parametrize('name', ['cmx_mini', 'early_mini'])
def test_one_training_step(name):
    model = _model(name, seed=1).train()
    torch.manual_seed(2)
    x = torch.randn(2, 4, 64, 64)
    labels = torch.randint(0, 9, (2, 64, 64))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    losses = model.loss(x, _samples(labels))
    loss = losses['decode.loss_ce']
    assert math.isfinite(loss.item()) and 1.0 < loss.item() < 5.0  # near ln 9 = 2.2 at start
    loss.backward()
    optimizer.step()
    for key, value in model.named_parameters():
        assert value.grad is not None and torch.isfinite(value.grad).all(), key
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    prefixes = ['backbone.rgb_stream.', 'backbone.x_stream.', 'backbone.frms.',
                'backbone.ffms.', 'decode_head.'] if name == 'cmx_mini' else \
        ['backbone.layers.0.0.projection.', 'decode_head.']
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in changed), prefix


# ----------------------------------------------------------------------------------------
# FRM and FFM
# ----------------------------------------------------------------------------------------
def _gates(frm: FeatureRectification, channel_bias, spatial_bias) -> None:
    """Weights zero, so every gate is sigmoid(its bias)."""
    with torch.no_grad():
        frm.channel_mlp[2].weight.zero_()
        frm.channel_mlp[2].bias.copy_(torch.tensor(channel_bias))
        frm.spatial_mlp[2].weight.zero_()
        frm.spatial_mlp[2].bias.copy_(torch.tensor(spatial_bias))


def test_frm_cross_update_with_known_gates():
    torch.manual_seed(0)
    frm = FeatureRectification(3)
    rgb, x = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    _gates(frm, [0.0] * 6, [0.0, 0.0])  # every gate 0.5
    with torch.no_grad():
        out_rgb, out_x = frm(rgb, x)
    assert torch.allclose(out_rgb, rgb + 0.5 * x, atol=1e-6)  # 0.5*0.5 x + 0.5*0.5 x
    assert torch.allclose(out_x, x + 0.5 * rgb, atol=1e-6)
    # distinct gates: wc_rgb 0.75, wc_x 0.5, ws_rgb 0.75, ws_x 0.25; each stream is corrected
    # by the *other* stream's features with the other's weights
    ln3 = math.log(3.0)
    _gates(frm, [ln3] * 3 + [0.0] * 3, [ln3, -ln3])
    with torch.no_grad():
        wc_rgb, wc_x, ws_rgb, ws_x = frm.weights(rgb, x)
        out_rgb, out_x = frm(rgb, x)
    assert torch.allclose(wc_rgb, torch.full((2, 3, 1, 1), 0.75))
    assert torch.allclose(ws_x, torch.full((2, 1, 4, 5), 0.25))
    assert torch.allclose(out_rgb, rgb + (0.5 * 0.5 + 0.5 * 0.25) * x, atol=1e-6)
    assert torch.allclose(out_x, x + (0.5 * 0.75 + 0.5 * 0.75) * rgb, atol=1e-6)


def test_frm_channel_weights_read_average_and_max_pooling():
    torch.manual_seed(0)
    frm = FeatureRectification(2)
    rgb, x = torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3)
    both = torch.cat([rgb, x], 1)
    pooled = torch.cat([both.mean((2, 3)), both.flatten(2).max(-1).values], 1)
    with torch.no_grad():
        expected = frm.channel_mlp(pooled)
        wc_rgb, wc_x, _, _ = frm.weights(rgb, x)
    assert torch.allclose(torch.cat([wc_rgb, wc_x], 1).flatten(1), expected)


def test_ffm_each_stream_queries_the_others_context():
    torch.manual_seed(0)
    ffm = FeatureFusion(4, num_heads=2).eval()
    rgb, x1, x2 = (torch.randn(2, 6, 4) for _ in range(3))
    with torch.no_grad():
        # the context is a softmax over the key dimension: its columns sum to 1
        ctx = ffm.context(ffm.kv_x, x1)
        assert tuple(ctx.shape) == (2, 2, 2, 2)
        assert torch.allclose(ctx.sum(dim=-2), torch.ones(2, 2, 2))
        assert not torch.allclose(ffm.cross(rgb, x1)[0], ffm.cross(rgb, x2)[0])
        # the X context uniform (kv_x zero): the RGB output no longer depends on x, and the
        # attention term is each head's mean of u_rgb
        ffm.kv_x.weight.zero_()
        out1, out2 = ffm.cross(rgb, x1)[0], ffm.cross(rgb, x2)[0]
        assert torch.allclose(out1, out2)
        y, u = torch.relu(ffm.proj_rgb(rgb)).chunk(2, -1)
        attention = u.reshape(2, 6, 2, 2).mean(-1, keepdim=True).expand(-1, -1, -1, 2)
        expected = ffm.norm_rgb(rgb + ffm.end_rgb(torch.cat([y, attention.reshape(2, 6, 4)], -1)))
        assert torch.allclose(out1, expected, atol=1e-6)


def test_fusion_modules_start_as_the_reference_initialises_them():
    model = _model('cmx_mini', seed=3)
    ffm = model.backbone.ffms[3]  # 128 channels
    assert ffm.residual.weight.std().item() == pytest.approx(math.sqrt(2 / 128), rel=0.03)
    assert ffm.proj_rgb.weight.std().item() == pytest.approx(0.02, rel=0.03)
    assert model.backbone.frms[3].channel_mlp[0].weight.std().item() == \
        pytest.approx(0.02, rel=0.03)
    assert torch.count_nonzero(ffm.proj_rgb.bias) == 0
    assert torch.equal(ffm.norm.weight, torch.ones(128))


# ----------------------------------------------------------------------------------------
# ImageNet weights
# ----------------------------------------------------------------------------------------
def _fake_mit_checkpoint(path: Path, seed: int = 7) -> dict:
    """A MiT checkpoint in mmseg's layout with the mini models' shape."""
    torch.manual_seed(seed)
    state = MixVisionTransformer(**MINI_MIT).state_dict()
    torch.save({'state_dict': state}, path)
    return state


def test_pretrained_mit_lands_in_both_cmx_streams(tmp_path):
    state = _fake_mit_checkpoint(tmp_path / 'mit.pth')
    model = _model('cmx_mini', checkpoint=tmp_path / 'mit.pth')
    backbone = model.backbone
    for key, value in state.items():
        assert torch.equal(backbone.rgb_stream.state_dict()[key], value), key
        assert torch.equal(backbone.x_stream.state_dict()[key], value), key
    scratch = _model('cmx_mini', checkpoint=None).backbone
    key = 'layers.2.1.0.attn.attn.in_proj_weight'
    assert not torch.equal(scratch.rgb_stream.state_dict()[key], state[key])
    assert not torch.equal(scratch.rgb_stream.state_dict()[key],
                           scratch.x_stream.state_dict()[key])
    # FRM/FFM stay random (as without a checkpoint, same seed)
    assert torch.equal(backbone.ffms[1].proj_rgb.weight, scratch.ffms[1].proj_rgb.weight)


def test_pretrained_thermal_filter_is_the_mean_of_the_rgb_filters(tmp_path):
    state = _fake_mit_checkpoint(tmp_path / 'mit.pth')
    backbone = _model('early_mini', checkpoint=tmp_path / 'mit.pth').backbone
    loaded = backbone.state_dict()
    rgb = state['layers.0.0.projection.weight']
    first = loaded['layers.0.0.projection.weight']
    assert torch.equal(first[:, :3], rgb)
    assert torch.allclose(first[:, 3], (rgb[:, 0] + rgb[:, 1] + rgb[:, 2]) / 3, atol=1e-7)
    for key, value in state.items():
        if key != 'layers.0.0.projection.weight':
            assert torch.equal(loaded[key], value), key


def test_a_checkpoint_of_another_layout_or_size_is_refused(tmp_path):
    torch.save({'patch_embed1.proj.weight': torch.zeros(16, 3, 7, 7)}, tmp_path / 'nvlabs.pth')
    with pytest.raises(CheckpointError, match="none of its keys.*mmseg's MiT layout"):
        _model('cmx_mini', checkpoint=tmp_path / 'nvlabs.pth')
    torch.manual_seed(0)
    b0 = MixVisionTransformer(embed_dims=32, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8])
    torch.save(b0.state_dict(), tmp_path / 'b0.pth')
    for name in ('cmx_mini', 'early_mini'):
        with pytest.raises(CheckpointError, match='another MiT size'):
            _model(name, checkpoint=tmp_path / 'b0.pth')


def test_pretrained_on_stops_and_off_drops_the_checkpoint(tmp_path, monkeypatch):
    """The benchmark's --pretrained handling works on these bases as on SegFormer's."""
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError('network unreachable (test)')

    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    for name in ('cmx_b2', 'early_b2'):
        cfg = copy.deepcopy(_parse(name))
        with pytest.raises(PretrainedUnavailable, match='mit_b2_20220624-66e8bf70.pth cannot'):
            resolve_pretrained(cfg, 'on')
        assert resolve_pretrained(cfg, 'off') == 'off' and cfg.model.backbone.init_cfg is None


def test_types_are_mmseg_models_from_this_package():
    for name, cls in (('CMXBackbone', CMXBackbone), ('EarlyFusionMiT', EarlyFusionMiT)):
        assert MODELS.get(name) is cls
        assert cls.__module__.startswith('psfusion.segmenters.')
