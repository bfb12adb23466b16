"""Fusion methods: the Fuser contract, the registry, the average and PSFusion fusers."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from psfusion.complexity import Complexity, count_params
from psfusion.fusers import FUSERS, AverageFuser, Fuser, FusingError, PSFusionFuser, \
    average_uint8, build_fuser, fuser_names, load_fusion_model
from psfusion.registry import SCOPE

from .fusing_helpers import batch_independent_kernels, tiny_config, write_checkpoint


@pytest.fixture(scope='module')
def config():
    return tiny_config()


@pytest.fixture(scope='module')
def checkpoint(config, tmp_path_factory):
    return write_checkpoint(config, tmp_path_factory.mktemp('ckpt') / 'model.pth')


@pytest.fixture(scope='module')
def eager(config, checkpoint):
    """The training-form network in eval mode (fusers keep no state between calls)."""
    return PSFusionFuser(config, checkpoint, optimise=False)


@pytest.fixture(scope='module')
def optimised(config, checkpoint):
    return PSFusionFuser(config, checkpoint)


def unit_pairs(batch: int, h: int, w: int, seed: int = 0) -> tuple:
    """Inputs as the writer gives them: 8-bit values / 255, float32."""
    gen = torch.Generator().manual_seed(seed)
    ir = torch.randint(0, 256, (batch, 1, h, w), generator=gen).float() / 255
    vi = torch.randint(0, 256, (batch, 3, h, w), generator=gen).float() / 255
    return ir, vi


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().clamp(0, 255).to(torch.uint8)


# ------------------------------------------------------------------------------ registry
def test_registry_builds_by_name_and_config():
    assert FUSERS.scope == SCOPE and {'average', 'psfusion'} <= set(fuser_names())
    assert isinstance(build_fuser('average'), AverageFuser)
    assert isinstance(build_fuser(dict(type='average', device='cpu')), AverageFuser)
    fuser = AverageFuser()
    assert build_fuser(fuser) is fuser
    with pytest.raises(FusingError, match="unknown fusion method 'nope'.*average"):
        build_fuser('nope')


def test_fuser_is_abstract():
    with pytest.raises(TypeError):
        Fuser()


# ------------------------------------------------------------------------------ average
def test_average_known_values_round_half_up():
    ir = torch.tensor([[[[10]]], [[[255]]]], dtype=torch.uint8)          # 2 x 1 x 1 x 1
    vi = torch.tensor([[[[20]], [[31]], [[0]]], [[[255]], [[0]], [[254]]]], dtype=torch.uint8)
    assert average_uint8(ir, vi)[:, :, 0, 0].tolist() == [[15, 21, 5], [255, 128, 255]]
    out = AverageFuser().fuse(ir.float() / 255, vi.float() / 255)
    assert out.fused.dtype == torch.uint8 and out.semantic is None
    assert out.fused[:, :, 0, 0].tolist() == [[15, 21, 5], [255, 128, 255]]


def test_average_matches_integer_rule_on_every_value():
    ir = torch.arange(256, dtype=torch.uint8).repeat_interleave(256).view(1, 1, 256, 256)
    vi = torch.arange(256, dtype=torch.uint8).repeat(256).view(1, 1, 256, 256).expand(1, 3, 256,
                                                                                    256)
    fused = AverageFuser().fuse(ir.float() / 255, vi.float() / 255).fused
    expected = (ir.int() + vi.int() + 1) // 2
    assert torch.equal(fused.int(), expected)


def test_average_manifest_entries():
    fuser = AverageFuser()
    assert fuser.complexity(37, 45) == dict(params=0, macs=0, input_hw=[37, 45])
    assert fuser.identity() == dict(rule='(ir + vi + 1) // 2 per visible RGB channel, on '
                                    'uint8 values')
    assert not fuser.has_semantic
    with pytest.raises(FusingError, match="--save-seg.*'average' has none"):
        fuser.check_semantic()


# ------------------------------------------------------------------------------ psfusion
def reference_predict(config, checkpoint, ir, vi, semantic=True):
    """``PSFusion.predict`` of an independently loaded eager model on each image padded (by
    reflection) to a multiple of 32 on its own, cropped back by ``predict``."""
    model, _ = load_fusion_model(config, checkpoint)
    model.eval()
    h, w = ir.shape[-2:]
    ph, pw = -(-h // 32) * 32 - h, -(-w // 32) * 32 - w
    pad = lambda t: F.pad(t, (0, pw, 0, ph), mode='reflect')  # noqa: E731
    samples = [BaseDataElement(metainfo=dict(img_shape=(h, w))) for _ in range(len(ir))]
    out = model.predict(pad(ir), pad(vi), samples, semantic=semantic)
    fused = torch.stack([s.pred_fused_rgb.data for s in out])
    seg = torch.cat([s.pred_sem_seg.data for s in out]) if semantic else None
    return fused, seg


def test_psfusion_fuser_is_predict(config, checkpoint, eager):
    """The eager fuser gives exactly what ``PSFusion.predict`` gives (fused RGB and class ids),
    cropped to the input size."""
    ir, vi = unit_pairs(2, 32, 40)
    out = eager.fuse(ir, vi, semantic=True)
    fused, seg = reference_predict(config, checkpoint, ir, vi)
    assert out.fused.shape == (2, 3, 32, 40) and out.semantic.shape == (2, 32, 40)
    assert torch.equal(to_uint8(out.fused), to_uint8(fused))
    assert torch.equal(out.semantic, seg)


def test_psfusion_results_do_not_depend_on_the_batch(optimised):
    """Each image is padded on its own: a pair's result is the same fused alone or in a batch.
    Bit for bit with batch-independent kernels; oneDNN's convolutions (the CPU default) pick
    their blocking by batch size, which moves float results by ~1e-6 (at most 1 level of 255
    after rounding)."""
    ir, vi = unit_pairs(2, 32, 40, seed=3)
    fuser = optimised

    def both() -> tuple:
        together = to_uint8(fuser.fuse(ir, vi).fused)
        alone = torch.cat([to_uint8(fuser.fuse(ir[i:i + 1], vi[i:i + 1]).fused)
                           for i in range(2)])
        return together, alone

    with batch_independent_kernels():
        together, alone = both()
    assert torch.equal(together, alone)
    together, alone = both()
    diff = (together.int() - alone.int()).abs()
    assert diff.max() <= 1 and (diff == 0).float().mean() > 0.999


def test_psfusion_optimised_matches_eager(eager, optimised):
    ir, vi = unit_pairs(1, 32, 40, seed=1)
    reference = to_uint8(eager.fuse(ir, vi).fused)
    folded = to_uint8(optimised.fuse(ir, vi).fused)
    assert optimised._folded and not eager._folded
    diff = (reference.int() - folded.int()).abs()
    assert diff.max() <= 1 and (diff == 0).float().mean() > 0.99


def test_psfusion_manifest_entries(config, checkpoint, eager):
    from psfusion.fusing import sha256_file

    fuser = eager
    assert fuser.has_semantic
    identity = fuser.identity()
    assert identity['checkpoint_sha256'] == sha256_file(checkpoint)
    assert identity['random_seed'] is None
    assert fuser.describe()['model']['trunk_channels'] == 16
    random = PSFusionFuser(config, 'none', seed=3).identity()
    assert random['checkpoint_sha256'] is None and random['random_seed'] == 3
    assert random['model_sha256'] == identity['model_sha256']

    counts = fuser.complexity(32, 40)  # a real count, on the padded size
    assert counts['input_hw'] == [32, 64] and counts['params'] == count_params(fuser.model)
    assert counts['macs'] > 0 and 'multiply-adds' in counts['note']


def test_psfusion_complexity_counts_the_training_form(config, monkeypatch):
    """Counted on the fuser's own network before BatchNorm folding and remembered per padded
    size; a size first asked for after folding is counted on a fresh unfolded network
    (folding would hide the BatchNorm parameters); never on the folded network."""
    import psfusion.complexity

    seen = []

    def fake_count(model, height, width, **kwargs):
        seen.append((model, height, width, kwargs))
        return Complexity(params=count_params(model), macs=7)

    monkeypatch.setattr(psfusion.complexity, 'fusion_complexity', fake_count)
    fuser = PSFusionFuser(config, 'none')
    before = fuser.complexity(33, 40)
    fuser.fuse(*unit_pairs(1, 32, 40))
    after = fuser.complexity(40, 64)  # the same padded size: remembered, not recounted
    assert len(seen) == 1 and seen[0][0] is fuser.model
    other = fuser.complexity(33, 70)  # a new size after folding: a fresh network
    assert len(seen) == 2 and seen[1][0] is not fuser.model
    assert [s[1:] for s in seen] == [(64, 64, dict(semantic=False, fidelity=False)),
                                     (64, 96, dict(semantic=False, fidelity=False))]
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in seen[1][0].modules())
    assert before == after and before['macs'] == 7
    assert other['params'] == before['params'] and other['input_hw'] == [64, 96]


def test_psfusion_errors(config, checkpoint, tmp_path):
    no_head = config.copy()
    no_head.merge_from_dict({'model.with_s2p2': False})
    fuser = PSFusionFuser(no_head, 'none')
    assert not fuser.has_semantic
    with pytest.raises(FusingError, match='with_s2p2=True'):
        fuser.fuse(*unit_pairs(1, 32, 40), semantic=True)
    with pytest.raises(FusingError, match='not found'):
        PSFusionFuser(config, str(tmp_path / 'missing.pth'))
    wider = config.copy()
    wider.merge_from_dict({'model.trunk_channels': 8})
    with pytest.raises(FusingError, match='do not fit the model'):
        PSFusionFuser(wider, checkpoint)
