"""The mmcv-lite compatibility module: mmseg imports, compiled ops fail with a clear error."""
import importlib

import pytest
import torch

from psfusion import compat


def test_light_ops_installed_when_compiled_ops_absent():
    if compat.has_compiled_mmcv_ops():
        pytest.skip('full mmcv with compiled ops is installed: nothing to patch')
    import mmcv.ops
    assert isinstance(mmcv.ops, compat._LightOpsModule)
    assert compat.install_light_mmcv_ops() is True  # idempotent


def test_mmseg_models_import_and_build_segformer():
    mmseg_models = importlib.import_module('mmseg.models')
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    backbone = MODELS.build(dict(type='MixVisionTransformer', in_channels=3, embed_dims=32,
                                 num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8]))
    outs = backbone(torch.rand(1, 3, 64, 64))
    assert hasattr(mmseg_models, 'EncoderDecoder')
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2]


def test_pure_python_op_works():
    from mmcv.ops import point_sample
    feature = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    # the centre of pixel (row 1, col 2) in normalised [0, 1] coordinates (x, y)
    points = torch.tensor([[[2.5 / 4, 1.5 / 4]]])
    assert point_sample(feature, points, align_corners=False).item() == pytest.approx(6.0)


def test_compiled_op_raises_clear_error():
    if compat.has_compiled_mmcv_ops():
        pytest.skip('full mmcv with compiled ops is installed')
    from mmcv.ops import sigmoid_focal_loss, DeformConv2d
    with pytest.raises(compat.MissingCompiledOpError, match='sigmoid_focal_loss.*compiled'):
        sigmoid_focal_loss(torch.rand(2, 3), torch.tensor([0, 1]), 2.0, 0.25)
    with pytest.raises(compat.MissingCompiledOpError, match='install full mmcv'):
        DeformConv2d(3, 3, 3)
