"""``--cfg-options`` (psfusion.config_options): unknown keys are refused with the valid ones, and
a top-level variable re-evaluates everything computed from it."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from psfusion.config_options import apply_cfg_options, config_variables, load_config
from psfusion.errors import ConfigError

from .train_helpers import DEMO_CONFIG


def test_a_top_level_variable_takes_effect_everywhere():
    cfg = load_config(DEMO_CONFIG, {'max_iters': 3, 'warmup_iters': 1})
    assert cfg.max_iters == 3 and cfg.train_cfg.max_iters == 3
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 1), (1, 3)]
    # mmengine alone only changes the unused top-level value (issue 14: 200 iterations ran)
    plain = Config.fromfile(DEMO_CONFIG)
    plain.merge_from_dict({'max_iters': 3})
    assert plain.train_cfg.max_iters == 200
    # dotted keys are merged as mmengine does; the file itself is untouched
    cfg = load_config(DEMO_CONFIG, {'train_cfg.val_interval': 7, 'val_interval': 5})
    assert cfg.train_cfg.val_interval == 7 and cfg.default_hooks.checkpoint.interval == 5
    assert load_config(DEMO_CONFIG).train_cfg.max_iters == 200


def test_variables_are_found_in_the_base_chain():
    variables = config_variables(DEMO_CONFIG)
    assert {'max_iters', 'warmup_iters', 'val_interval', 'crop_size'} <= set(variables)
    assert 'param_scheduler' not in variables  # assigned but used by no other statement
    assert any(f.endswith('sgd_poly_170k.py') for f in variables['max_iters'])


def test_unknown_keys_are_refused_with_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        load_config(DEMO_CONFIG, {'max_iter': 3, 'train_cfgs.max_iters': 3})
    message = str(info.value)
    assert message.startswith(f'--cfg-options: max_iter, train_cfgs.max_iters not in the config '
                              f'{DEMO_CONFIG}; valid top-level keys: crop_size, custom_hooks, ')
    assert ', max_iters, model, ' in message and message.endswith(', warmup_iters')


def test_values_that_cannot_apply_and_missing_files():
    with pytest.raises(ConfigError, match=r'^--cfg-options: cannot apply \{.max_iters.foo.: 1\}'):
        load_config(DEMO_CONFIG, {'max_iters.foo': 1})
    with pytest.raises(ConfigError, match=r'^config .*nope\.py not found$'):
        load_config('nope.py')


def test_an_evaluated_config_refuses_a_variable_it_cannot_re_evaluate():
    cfg = Config.fromfile(DEMO_CONFIG)
    with pytest.raises(ConfigError) as info:
        apply_cfg_options(cfg, {'max_iters': 3})
    assert str(info.value).startswith('--cfg-options: max_iters is a variable that other values '
                                      f'of {DEMO_CONFIG} were computed from; here it would '
                                      'change nothing else.')
    assert apply_cfg_options(cfg, {'train_cfg.max_iters': 3}).train_cfg.max_iters == 3
