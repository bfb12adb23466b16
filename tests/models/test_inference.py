"""Inference rewrites keep the network's function."""
from __future__ import annotations

import pytest
import torch

from psfusion.models import PSFusion
from psfusion.models.inference import fold_batchnorm, prepare_for_inference

from .helpers import LIGHT, randomise_batchnorm


def test_fold_batchnorm_keeps_outputs():
    torch.manual_seed(0)
    model = PSFusion(**LIGHT)
    randomise_batchnorm(model)
    model.eval()
    ir, vi = torch.rand(1, 1, 32, 64), torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        before = model.run(ir, vi)
        folded = fold_batchnorm(model)
        after = model.run(ir, vi)
    left = [n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    # only the BatchNorms that follow no convolution remain (SIM outputs, fidelity masks)
    assert sorted(left) == sorted(['psim.inject2.norm', 'psim.inject1.norm', 'sim.norm',
                                   'fidelity_vi.mask.norm', 'fidelity_ir.mask.norm'])
    assert folded > 100
    for key in before:
        assert torch.allclose(before[key], after[key], atol=1e-4), key


def test_prepare_for_inference_channels_last_same_result():
    torch.manual_seed(0)
    model = PSFusion(**LIGHT)
    randomise_batchnorm(model)
    model.eval()
    ir, vi = torch.rand(1, 1, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        ref = model.run(ir, vi, fidelity=False)['fused']
    prepare_for_inference(model)
    with torch.inference_mode():
        out = model.run(ir.contiguous(memory_format=torch.channels_last),
                        vi.contiguous(memory_format=torch.channels_last), fidelity=False)
    assert torch.allclose(ref, out['fused'], atol=1e-4)


def test_fold_refuses_training_mode():
    with pytest.raises(RuntimeError, match='eval'):
        fold_batchnorm(PSFusion(**LIGHT).train())
