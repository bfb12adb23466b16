"""Each PSFusion block on its own: shapes, wiring and known-value cases."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from psfusion.models import (DSRM, PSFM, PSIM, S2P2, S2PM, SDFM, SFEB1, SFEB2, SIM,
                             CrossModalAttention, DenseBlock, FReLU, ImageFusionPath,
                             ModalityEncoder, ModalityMask, SceneFidelityPath, SemanticGather,
                             spatial_attention)

torch.manual_seed(0)


class Const(nn.Module):
    """Stand-in for a sub-module: a constant map shaped like its input."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, self.value)


def test_frelu_is_max_of_input_and_spatial_condition():
    act = FReLU(4).eval()
    nn.init.zeros_(act.spatial.conv.weight)
    nn.init.constant_(act.spatial.conv.bias, 0.25)  # BN (eval, fresh stats) is the identity
    x = torch.randn(2, 4, 5, 5)
    assert torch.allclose(act(x), x.clamp_min(0.25))


def test_sfeb_shapes():
    x = torch.rand(2, 3, 32, 48)
    f1 = SFEB1(3, 16)(x)
    assert f1.shape == (2, 16, 32, 48)
    assert SFEB2(16, 64)(f1).shape == (2, 64, 16, 24)


@pytest.mark.parametrize('depth, widths', [(18, (16, 64, 64, 128, 256, 512))])
def test_modality_encoder_levels(depth, widths):
    enc = ModalityEncoder(1, depth, stem_channels=16)
    feats = enc(torch.rand(1, 1, 64, 96))
    assert enc.out_channels == widths
    for level, (feat, width) in enumerate(zip(feats, widths)):
        stride = 2**level if level < 2 else 2**level  # 1, 2, 4, 8, 16, 32
        assert feat.shape == (1, width, 64 // stride, 96 // stride)
    assert not hasattr(enc.trunk, 'conv1')  # the ResNet stem conv is replaced by the SFEBs


def test_resnet34_trunk_size():
    """mmpretrain's ResNet-34 has 21,284,672 parameters; without its 7x7 stem conv (9,408) it is
    the reference's trunk."""
    enc = ModalityEncoder(3, 34, stem_channels=32)
    assert sum(p.numel() for p in enc.trunk.parameters()) == 21_284_672 - 9_408


def test_pretrained_trunk_loads_torchvision_and_mmpretrain_formats(tmp_path):
    source = ModalityEncoder(1, 18, 16)
    trunk_state = source.trunk.state_dict()
    torchvision_like = dict(trunk_state, **{'conv1.weight': torch.zeros(64, 3, 7, 7),
                                            'fc.weight': torch.zeros(1000, 512)})
    mmpretrain_like = {'state_dict': {f'backbone.{k}': v for k, v in trunk_state.items()}}
    for i, state in enumerate((torchvision_like, mmpretrain_like)):
        path = tmp_path / f'r18_{i}.pth'
        torch.save(state, path)
        target = ModalityEncoder(1, 18, 16)
        target.load_pretrained(str(path))
        for key, value in trunk_state.items():
            assert torch.equal(target.trunk.state_dict()[key], value), key


def test_pretrained_trunk_failures_say_what_to_do(tmp_path):
    from psfusion.models import PretrainedTrunkError
    enc = ModalityEncoder(1, 18, 16)
    with pytest.raises(PretrainedTrunkError, match='backbone_pretrained=None'):
        enc.load_pretrained(str(tmp_path / 'missing.pth'))
    other = tmp_path / 'r34.pth'
    torch.save(ModalityEncoder(1, 34, 16).trunk.state_dict(), other)
    with pytest.raises(PretrainedTrunkError, match='configured depth'):
        enc.load_pretrained(str(other))


def _sdfm_with(gate: float, local: float, reinforce: str) -> SDFM:
    """An SDFM whose adaptation is the identity and whose gates/weights are constants."""
    module = SDFM(4, 4, reinforce=reinforce).eval()
    module.adapt_vi = module.adapt_ir = nn.Identity()
    module.reinforce_gate = Const(gate)
    module.local_att, module.global_att = Const(local), Const(10)
    return module


def test_sdfm_fusion_weight_selects_modalities():
    vi, ir = torch.rand(1, 4, 6, 6), torch.rand(1, 4, 6, 6)
    # gates ~0: no reinforcement; W = sigmoid(+-100): all visible / all infrared (eq. 6)
    assert torch.allclose(_sdfm_with(-50, 10, 'cross')(vi, ir), vi, atol=1e-6)
    assert torch.allclose(_sdfm_with(-50, -10, 'cross')(vi, ir), ir, atol=1e-6)


def test_sdfm_reinforcement_cross_and_self():
    vi, ir = torch.rand(1, 4, 6, 6), torch.rand(1, 4, 6, 6)
    # gates ~1, W = 1: output is the reinforced visible feature (eq. 4)
    assert torch.allclose(_sdfm_with(50, 10, 'cross')(vi, ir), vi + ir, atol=1e-5)
    assert torch.allclose(_sdfm_with(50, 10, 'self')(vi, ir), 2 * vi, atol=1e-5)


def test_sdfm_shape_and_bad_option():
    assert SDFM(64, 32)(torch.rand(2, 64, 8, 8), torch.rand(2, 64, 8, 8)).shape == (2, 32, 8, 8)
    with pytest.raises(ValueError, match='reinforce'):
        SDFM(4, 4, reinforce='both')


@pytest.mark.parametrize('scale', [1.0, None])
def test_spatial_attention_matches_explicit_softmax(scale):
    q, k, v = torch.randn(2, 8, 3, 5), torch.randn(2, 8, 3, 5), torch.randn(2, 8, 3, 5)
    qf, kf, vf = (t.flatten(2).transpose(1, 2) for t in (q, k, v))  # B x N x C
    s = 1.0 if scale is not None else 8**-0.5
    expected = torch.softmax(s * qf @ kf.transpose(1, 2), dim=-1) @ vf
    expected = expected.transpose(1, 2).reshape(2, 8, 3, 5)
    assert torch.allclose(spatial_attention(q, k, v, scale), expected, atol=1e-5)


def test_attention_runs_on_the_fused_kernel():
    """With only the flash kernel allowed (no materialised HW x HW matrix) the PSFM attention
    still runs, forward and backward, on NCHW and channels-last maps."""
    x = torch.randn(1, 16, 12, 16, requires_grad=True)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        out = spatial_attention(x, x, x)
        out.sum().backward()
        spatial_attention(*(x.detach().contiguous(memory_format=torch.channels_last), ) * 3)
    assert x.grad is not None and out.shape == x.shape


def test_cross_modal_attention_cross_residual():
    att = CrossModalAttention(8).eval()
    vi, ir = torch.rand(1, 8, 4, 4), torch.rand(1, 8, 4, 4)
    with torch.no_grad():
        # zero-initialised gains: the attention starts as a no-op
        assert torch.allclose(att(vi, ir), att.fuse(torch.cat([vi, ir], 1)))
        att.gain_ir.fill_(1.0)  # visible branch receives infrared context (eq. 10)
        query = att.query(torch.cat([vi, ir], 1))
        from_ir = spatial_attention(query, att.key_ir(ir), att.value_ir(ir))
        assert torch.allclose(att(vi, ir), att.fuse(torch.cat([vi + from_ir, ir], 1)),
                              atol=1e-5)


def test_dense_block_and_psfm_shapes():
    block = DenseBlock(128, 64)
    assert [layer.conv.in_channels for layer in block.layers] == [16, 32, 48, 64]
    assert block.fuse.conv.in_channels == 128 + 16
    assert block(torch.rand(1, 128, 6, 8)).shape == (1, 64, 6, 8)
    assert PSFM(128, 64)(torch.rand(2, 128, 6, 8), torch.rand(2, 128, 6, 8)).shape == (2, 64, 6, 8)


def test_semantic_branch_shapes():
    feats = [torch.rand(2, 32, 16 // 2**i, 24 // 2**i) for i in range(4)]
    gather = SemanticGather([32] * 4, 16)
    init = gather(feats)
    assert init.shape == (2, 64, 16, 24) and gather.out_channels == 64
    f_se = S2PM(64, 16)(init)
    assert f_se.shape == (2, 16, 16, 24)
    sem, binary, boundary = S2P2(16, 9)(f_se, (64, 96))
    assert sem.shape == (2, 9, 64, 96)
    assert binary.shape == boundary.shape == (2, 2, 64, 96)


def test_s2p2_semantic_head_is_gated_by_the_binary_head():
    head = S2P2(8, 9).eval()
    nn.init.zeros_(head.binary[1].weight)
    head.binary[1].bias.data = torch.tensor([50.0, -50.0])  # foreground probability 0
    with torch.no_grad():
        a, _, _ = head(torch.rand(1, 8, 6, 6), (6, 6))
        b, _, _ = head(torch.rand(1, 8, 6, 6), (6, 6))
    assert torch.allclose(a, b)  # the semantic logits no longer depend on F_se


def test_sim_known_value():
    """gamma = sigmoid(0) = 0.5, beta = 0, BN the identity: SIM(x) = 1.5 * IN(x) (eq. 15)."""
    sim = SIM(4, 6, hidden=5).eval()
    for conv in (sim.gamma, sim.beta):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(2, 4, 8, 8)
    out = sim(x, torch.randn(2, 6, 4, 4))
    assert torch.allclose(out, 1.5 * F.instance_norm(x), atol=1e-5)
    assert SIM(4, 6, pre_conv=True)(x, torch.randn(2, 6, 4, 4)).shape == x.shape


def test_psim_and_dsrm():
    f1, f2, f3 = torch.rand(1, 16, 32, 32), torch.rand(1, 16, 16, 16), torch.rand(1, 32, 8, 8)
    assert PSIM(16, 32, 8)(f1, f2, f3).shape == (1, 16, 32, 32)
    dsrm = DSRM(16)
    assert [b.conv.in_channels for b in dsrm.blocks] == [16, 32, 48, 64]
    assert dsrm(f1).shape == (1, 16, 32, 32)


def test_output_paths_are_images_in_unit_range():
    x = torch.randn(2, 16, 10, 12) * 10
    path = ImageFusionPath(16)
    out = path(x)
    assert out.shape == (2, 1, 10, 12) and out.min() >= 0 and out.max() <= 1
    nn.init.zeros_(path.conv.weight)
    nn.init.zeros_(path.conv.bias)
    assert torch.allclose(path(x), torch.full_like(out, 0.5))
    assert ModalityMask(16)(x).shape == x.shape
    rec = SceneFidelityPath(16)(x)
    assert rec.shape == (2, 1, 10, 12) and 0 <= rec.min() and rec.max() <= 1
