"""Building the config of a run: schedules, smoke overrides, pretrained weights, hashing."""
from __future__ import annotations

import copy
import functools

import pytest
from mmengine.config import Config

from psfusion.benchmark.catalog import config_path, display_name, parse_segmenters
from psfusion.benchmark.checkpoints import trust_checkpoints_under
from psfusion.benchmark.runs import (PlainTextConfig, PretrainedUnavailable, apply_image_size,
                                     apply_max_iters, apply_schedule, config_hash,
                                     resolve_pretrained)

from ._data import cached_mmseg_metainfo


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


@functools.lru_cache(maxsize=None)
def _parse(segmenter: str, dataset: str) -> Config:
    return Config.fromfile(str(config_path(segmenter, dataset)))


def _cfg(segmenter='segnext_b', dataset='msrs') -> Config:
    return copy.deepcopy(_parse(segmenter, dataset))


def test_segmenter_names():
    assert parse_segmenters('all') == ['segformer_b2', 'segformer_b4', 'segnext_b', 'segnext_l']
    assert parse_segmenters('segnext_l, segformer_mini') == ['segnext_l', 'segformer_mini']
    with pytest.raises(ValueError, match=r'unknown segmenter\(s\): segnext_xl; valid names: '
                       r'segformer_b2, segformer_b4, segnext_b, segnext_l, segformer_mini'):
        parse_segmenters('segnext_xl')
    assert display_name('segnext_l', tta=True) == 'SegNeXt-Large + TTA'


def test_quick_schedule_and_max_iters_scale_the_milestones():
    cfg = _cfg()
    apply_schedule(cfg, 'quick')
    assert cfg.train_cfg.max_iters == 300 and cfg.optim_wrapper.optimizer.lr == 1.2e-3
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['head'].lr_mult == 10.0
    assert cfg.default_hooks.checkpoint.interval == 100
    apply_max_iters(cfg, 100)
    warmup, poly = cfg.param_scheduler
    assert (warmup.begin, warmup.end, poly.begin, poly.end) == (0, 10, 10, 100)
    assert cfg.train_cfg.max_iters == 100 and cfg.default_hooks.checkpoint.interval == 100
    apply_schedule(cfg, '160k')
    assert cfg.train_cfg.max_iters == 160000 and cfg.param_scheduler[0].end == 1500
    with pytest.raises(ValueError, match='unknown schedule'):
        apply_schedule(cfg, '80k')


def test_image_size_override_reaches_every_step():
    cfg = _cfg('segformer_b2', 'mfnet')
    apply_image_size(cfg, (64, 96))
    steps = {s.type: s for s in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandomCrop'].crop_size == (64, 96) and steps['RandomResize'].scale == (96, 64)
    assert cfg.test_dataloader.dataset.pipeline[1].scale == (96, 64)
    assert cfg.model.data_preprocessor.size == (64, 96)


def test_pretrained_decisions(tmp_path):
    cfg = _cfg()
    off = copy.deepcopy(cfg)
    assert resolve_pretrained(off, 'off') == 'off' and off.model.backbone.init_cfg is None
    local = copy.deepcopy(cfg)
    local.model.backbone.init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    messages = []
    assert resolve_pretrained(local, 'auto', messages.append) == 'off (unreachable)'
    assert 'missing.pth cannot be reached' in messages[0]
    local.model.backbone.init_cfg = dict(type='Pretrained',
                                         checkpoint=str(tmp_path / 'missing.pth'))
    with pytest.raises(PretrainedUnavailable, match='missing.pth cannot be reached') as info:
        resolve_pretrained(local, 'on')  # the default: stop before training
    assert '--pretrained off' in str(info.value) and 'missing.pth' in str(info.value)
    assert local.model.backbone.init_cfg.checkpoint.endswith('missing.pth')  # untouched
    (tmp_path / 'present.pth').write_bytes(b'')
    local.model.backbone.init_cfg = dict(type='Pretrained',
                                         checkpoint=str(tmp_path / 'present.pth'))
    assert resolve_pretrained(local, 'auto') == f'on: {tmp_path / "present.pth"}'
    assert resolve_pretrained(local, 'on') == f'on: {tmp_path / "present.pth"}'
    assert resolve_pretrained(_cfg('segformer_mini', 'synthetic'), 'auto').startswith('none')
    with pytest.raises(ValueError, match='unknown --pretrained'):
        resolve_pretrained(cfg, 'maybe')


def test_config_hash_ignores_paths_but_not_the_recipe():
    cfg = _cfg()
    base = config_hash(cfg)
    moved = copy.deepcopy(cfg)
    moved.train_dataloader.dataset.data_root = '/elsewhere'
    moved.work_dir = '/tmp/x'
    assert config_hash(moved) == base
    seeded = copy.deepcopy(cfg)
    seeded.randomness = dict(seed=1)
    assert config_hash(seeded) != base
    other = copy.deepcopy(cfg)
    other.model.data_preprocessor.mean = [1.0, 2.0, 3.0]
    assert config_hash(other) != base


def test_plain_text_config_is_loadable(tmp_path):
    cfg = PlainTextConfig(dict(model=dict(type='X', sizes=(1, 2)), name='a'))
    path = tmp_path / 'dumped.py'
    cfg.dump(str(path))
    assert Config.fromfile(str(path)).model.sizes == (1, 2)


def test_trusted_loading_only_inside_the_folder(tmp_path):
    import torch
    from mmengine.logging import HistoryBuffer

    inside, outside = tmp_path / 'run', tmp_path / 'other'
    inside.mkdir()
    outside.mkdir()
    for folder in (inside, outside):
        torch.save({'buffer': HistoryBuffer()}, folder / 'ckpt.pth')
    with trust_checkpoints_under(str(inside)):
        assert isinstance(torch.load(inside / 'ckpt.pth')['buffer'], HistoryBuffer)
        with pytest.raises(Exception, match='weights_only|Unsupported global'):
            torch.load(outside / 'ckpt.pth')
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(inside / 'ckpt.pth')
