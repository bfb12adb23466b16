"""tools/model_info.py: parameters, MACs and FLOPs of mmseg segmenter configs (image-level and
feature-level, counted as the benchmark counts them) and of PSFusion configs."""
from __future__ import annotations

import importlib.util
import re

import pytest
from mmengine.config import Config

from psfusion.cli import run_tool
from psfusion.errors import ConfigError

from .train_helpers import REPO

CONFIGS = REPO / 'mmseg_configs'
#: Parameters with 9 classes (tests/segmenters/test_feature_level.py, test_mmseg_configs.py):
#: early-mini = SegFormer-mini + a fourth input channel's 16 x 7 x 7 patch-embedding weights.
MINI = {'cmx_mini': (2_768_945, 4), 'early_mini': (880_393, 4), 'segformer_mini': (879_609, 3)}


def _tool():
    spec = importlib.util.spec_from_file_location('model_info', REPO / 'tools' / 'model_info.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('name', sorted(MINI))
def test_mmseg_configs_print_parameters_macs_and_flops(name, capsys):
    params, channels = MINI[name]
    config = CONFIGS / f'{name}_synthetic.py'
    assert run_tool(_tool().main, [str(config), '--shape', '64', '80']) == 0
    out = capsys.readouterr().out
    assert f'parameters: {params:,} ({params / 1e6:.2f} M)' in out
    assert f'input: one {channels} x 64 x 80 image' in out
    assert ('feature-level' in out) == (channels == 4)
    macs = int(re.search(r'multiply-adds \(MACs, mmengine\): ([\d,]+)', out)[1].replace(',', ''))
    assert macs > 0
    assert f'FLOPs (2 x MACs): {2 * macs / 1e9:.2f} G' in out


def test_config_kind_and_input_channels():
    tool = _tool()
    cmx = Config.fromfile(str(CONFIGS / 'cmx_mini_synthetic.py'))
    assert tool.config_kind(cmx, 'cmx') == 'mmseg'
    assert tool.input_channels(cmx.model) == 4
    # mmseg's model by type only; channels from the data preprocessor's mean
    plain = Config(dict(model=dict(type='EncoderDecoder', backbone=dict(type='MSCAN'),
                                   data_preprocessor=dict(mean=[1, 2, 3, 4]))))
    assert tool.config_kind(plain, 'p') == 'mmseg' and tool.input_channels(plain.model) == 4
    assert tool.input_channels(Config(dict(model=dict(backbone=dict()))).model) == 3
    fusion = Config.fromfile(str(REPO / 'psfusion' / 'configs' / 'psfusion_light_synthetic.py'))
    assert tool.config_kind(fusion, 'f') == 'psfusion'
    with pytest.raises(ConfigError, match=r"x.py: model type 'Foo' is neither PSFusion nor"):
        tool.config_kind(Config(dict(model=dict(type='Foo'))), 'x.py')
    with pytest.raises(ConfigError, match='x.py: no model in the config'):
        tool.config_kind(Config(dict(a=1)), 'x.py')


def test_psfusion_configs_still_print_the_fusion_network(capsys):
    config = REPO / 'psfusion' / 'configs' / 'psfusion_light_synthetic.py'
    assert run_tool(_tool().main, [str(config), '--shape', '32', '48']) == 0
    out = capsys.readouterr().out
    assert 'input: one 32x48 pair (infrared 1 ch + visible RGB)' in out
    assert re.search(r'^parameters: [\d,]+ \(', out, re.M)
    assert 'inference only (fused image, no fidelity / semantic heads)' in out
