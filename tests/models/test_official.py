"""The switches that reproduce the authors' PSFusion code, and the converter of their weights.

Each switch must change the fused image where it should (same weights, other form), and the
defaults must compute the paper's equations (known-value cases).  The converter is checked on
a state dict built from the official key and shape list (tests/models/data/, facts read from the
official PSF.py; no third-party code here).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from psfusion.models import PSFusion
from psfusion.models.official import (OfficialCheckpointError, convert_official_state_dict,
                                      dropped_layers, official_state_dict, rename_official_key)
from psfusion.models.psfm import CrossModalAttention, DenseBlock
from psfusion.models.restoration import SIM, instance_norm
from psfusion.registry import MODELS

from .helpers import LIGHT, randomise_batchnorm

REPO = Path(__file__).resolve().parents[2]
KEYS = Path(__file__).with_name('data') / 'official_psf_state_dict_keys.txt'
OFFICIAL_CONFIG = REPO / 'psfusion' / 'configs' / 'psfusion_r34_msrs_official.py'
OFFICIAL_SWITCHES = dict(attention='reference', dense_order='input_last', fuse_order='ir_vi',
                         double_bn=True, align_corners=True, sdfm_reinforce='self')


def official_keys() -> dict:
    shapes = {}
    for line in KEYS.read_text().splitlines():
        if line.startswith('#') or not line.strip():
            continue
        name, _, shape = line.partition(' ')
        shapes[name] = tuple(int(s) for s in shape.split('x') if s.strip())
    return shapes


def fused(model: PSFusion, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    ir, vi = torch.rand(1, 1, 32, 64, generator=gen), torch.rand(1, 3, 32, 64, generator=gen)
    model.eval()
    with torch.no_grad():
        return model.run(ir, vi, semantic=False, fidelity=False)['fused']


@pytest.fixture(scope='module')
def light_state():
    torch.manual_seed(0)
    model = PSFusion(**LIGHT)
    randomise_batchnorm(model)
    with torch.no_grad():  # non-zero gains, so that the attention reaches the output
        for level in model.fuse_levels[3:]:
            level.attention.gain_vi.fill_(0.7)
            level.attention.gain_ir.fill_(-0.4)
    return model.state_dict(), fused(model)


@pytest.mark.parametrize('switch', [dict(attention='reference'), dict(dense_order='input_last'),
                                    dict(fuse_order='ir_vi'), dict(align_corners=True)])
def test_each_shape_preserving_switch_changes_the_fused_image(light_state, switch):
    state, default = light_state
    model = PSFusion(**LIGHT, **switch)
    model.load_state_dict(state)  # same weights: only the computation differs
    difference = (fused(model) - default).abs().max().item()
    assert difference > 1e-4, f'{switch} left the fused image unchanged ({difference:.2g})'


def test_double_bn_adds_one_batchnorm_per_s2pm_and_dsrm_block():
    base = sum(p.numel() for p in PSFusion(**LIGHT).parameters())
    double = sum(p.numel() for p in PSFusion(**LIGHT, double_bn=True).parameters())
    # 3 S2PM blocks of seg_channels, 2 DSRMs x 4 blocks of rec_channels; weight + bias each
    assert double - base == 2 * (3 * LIGHT['seg_channels'] + 8 * LIGHT['rec_channels'])


def test_official_switches_at_full_size_count_the_official_parameters():
    model = MODELS.build(dict(type='PSFusion', **OFFICIAL_SWITCHES))
    # the official 45,908,840 less its two layers the forward never uses (9,474)
    assert sum(p.numel() for p in model.parameters()) == 45_908_840 - 9_474


def test_unknown_switch_values_are_refused_with_the_option_named():
    for switch, message in ((dict(attention='flash'), 'attention must be one of'),
                            (dict(dense_order='middle'), 'dense_order must be one of'),
                            (dict(fuse_order='vi'), 'fuse_order must be one of'),
                            (dict(sim_form='spade'), 'sim_form must be one of')):
        with pytest.raises(ValueError, match=message):
            PSFusion(**LIGHT, **switch)


def test_attention_forms_are_the_papers_and_the_official_codes_known_values():
    torch.manual_seed(1)
    block = CrossModalAttention(4).eval()
    q, k, v = (torch.randn(1, 4, 2, 3) for _ in range(3))
    flat = [t.flatten(2)[0].T for t in (q, k, v)]  # positions x channels
    paper = torch.softmax(flat[0] @ flat[1].T, dim=-1) @ flat[2]  # eq. 9: softmax(Q K^T) V
    official = torch.softmax(flat[1] @ flat[0].T, dim=-1) @ flat[2]  # bmm(K, Q), softmax
    got = block.attend(q, k, v).flatten(2)[0].T
    assert torch.allclose(got, paper, atol=1e-5)
    block.reference_attention = True
    got = block.attend(q, k, v).flatten(2)[0].T
    assert torch.allclose(got, official, atol=1e-5)
    assert not torch.allclose(paper, official, atol=1e-2)


def test_dense_order_puts_the_reduced_input_first_or_last():
    seen = {}
    for order in ('input_first', 'input_last'):
        block = DenseBlock(8, 8, order=order).eval()
        inputs = []
        block.layers[1].register_forward_hook(lambda m, i, o: inputs.append(i[0]))
        x = torch.randn(1, 8, 4, 4)
        with torch.no_grad():
            reduced = block.reduce(x)
            block(x)
        seen[order] = (inputs[0], reduced)
    first, reduced = seen['input_first']
    assert torch.equal(first[:, :2], reduced)  # [reduced, x1]
    last, reduced = seen['input_last']
    assert torch.equal(last[:, 2:], reduced)  # [x1, reduced] (official)


def test_fuse_order_feeds_ir_first_only_when_asked():
    torch.manual_seed(2)
    for order, first in (('vi_ir', 'vi'), ('ir_vi', 'ir')):
        block = CrossModalAttention(4, fuse_order=order).eval()  # zero gains: outputs = inputs
        captured = []
        block.fuse.register_forward_hook(lambda m, i, o: captured.append(i[0]))
        vi, ir = torch.randn(1, 4, 2, 2), torch.randn(1, 4, 2, 2)
        with torch.no_grad():
            block(vi, ir)
        assert torch.equal(captured[0][:, :4], vi if first == 'vi' else ir)


def test_sim_paper_form_is_equation_15():
    torch.manual_seed(3)
    sim = SIM(4, 6, hidden=5, form='paper').eval()
    randomise_batchnorm(sim)
    x, guide = torch.randn(2, 4, 8, 8), torch.randn(2, 6, 4, 4)
    with torch.no_grad():
        up = torch.nn.functional.interpolate(guide, size=(8, 8), mode='bilinear',
                                             align_corners=False)
        h = torch.relu(sim.shared[0](up))
        expected = sim.gamma(h) * instance_norm(sim.pre_conv(x)) + sim.beta(h)
        assert torch.allclose(sim(x, guide), expected, atol=1e-6)
    assert sim.norm is None and SIM(4, 6, hidden=5).norm is not None


def test_every_official_key_has_a_place_and_every_weight_a_source():
    shapes = official_keys()
    assert len(shapes) == 1360
    model = MODELS.build(dict(type='PSFusion', **OFFICIAL_SWITCHES))
    gen = torch.Generator().manual_seed(0)
    official = {k: torch.randn(s, generator=gen) if s else torch.tensor(7)
                for k, s in shapes.items()}
    converted, dropped = convert_official_state_dict(official, model.state_dict())
    model.load_state_dict(converted, strict=True)
    assert len(dropped) == 8 and dropped_layers(dropped) == [
        'classfier.boundary_conv1', 'classfier.boundary_conv2']
    # spot checks of the renaming (the pairs the forward passes depend on)
    pairs = {
        'high_fuse6.obj_fuse.gamma1': 'fuse_levels.5.attention.gain_vi',  # rgb_refine = ir + g1 *
        'high_fuse6.obj_fuse.RGB_K.basicconv.0.weight': 'fuse_levels.5.attention.key_vi.conv.weight',
        'SIM1.mlp_gamma.0.weight': 'psim.inject2.gamma.weight',  # SIM1(F2, F3)
        'SIM2.bn.running_var': 'psim.inject1.norm.running_var',
        'encoder_thermal_layer3.0.conv1.weight': 'encoder_ir.trunk.layer1.0.conv1.weight',
        'encoder_rgb_conv1.SFEB2.3.weight': 'encoder_vi.sfeb2.2.weight',
        'seg_decoder.block2.1.running_mean': 's2pm.1.1.running_mean',  # the second BatchNorm
        'rec_decoder.block4.0.bn.weight': 'dsrm1.blocks.3.0.bn.weight',
        'classfier.boundary_conv.3.bias': 's2p2.boundary.1.bias',
        'pred_ir.mask.conv_block.weight': 'fidelity_ir.mask.norm.weight',
    }
    state = model.state_dict()
    for official_key, ours in pairs.items():
        assert rename_official_key(official_key) == ours
        assert torch.equal(state[ours], official[official_key])


def test_a_key_the_converter_cannot_place_stops_it_with_the_list():
    model = MODELS.build(dict(type='PSFusion', **OFFICIAL_SWITCHES))
    official = {k: torch.zeros(s) for k, s in official_keys().items()}
    official['extra_head.weight'] = torch.zeros(3)
    del official['SIM3.bn.weight']
    with pytest.raises(OfficialCheckpointError) as info:
        convert_official_state_dict(official, model.state_dict())
    message = str(info.value)
    assert '1 official keys no rule places: extra_head.weight' in message
    assert 'model weights no official key fills: sim.norm.weight' in message
    # against our default network (one BatchNorm per block) the shapes do not line up
    with pytest.raises(OfficialCheckpointError, match='no rule places|not in the model'):
        convert_official_state_dict({k: v for k, v in official.items() if 'extra' not in k},
                                    MODELS.build(dict(type='PSFusion')).state_dict())


def test_official_state_dict_reads_the_official_saver_format():
    inner = {'module.pred_fusion.conv_block.0.weight': torch.zeros(1)}
    assert list(official_state_dict({'MTAN': inner, 'ep': 3})) == [
        'pred_fusion.conv_block.0.weight']


@pytest.mark.slow
def test_convert_tool_writes_a_checkpoint_fuse_loads(tmp_path):
    """End to end through the tool (about 25 s: the full-size network is built twice)."""
    from psfusion.fusers.psfusion import load_fusion_model

    gen = torch.Generator().manual_seed(0)
    official = {k: torch.randn(s, generator=gen) * 0.01 if s else torch.tensor(1)
                for k, s in official_keys().items()}
    source, out = tmp_path / 'best_model.pth', tmp_path / 'out' / 'converted.pth'
    torch.save({'MTAN': official, 'ep': 10, 'total_it': 100, 'best_mIou': 0.5}, source)
    done = subprocess.run([sys.executable, str(REPO / 'tools' / 'convert_official_checkpoint.py'),
                           str(source), str(out)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    assert 'converted 1352 tensors (45,899,366 parameters)' in done.stdout
    model = load_fusion_model(str(OFFICIAL_CONFIG), str(out))[0]
    assert torch.equal(model.state_dict()['fusion_path.conv.weight'],
                       official['pred_fusion.conv_block.0.weight'])
