"""A corrupt pretrained backbone file (``init_cfg.checkpoint``) is named at the pretrained
check, before any training (issue 14: it passed and later crashed with ``KeyError: 174812789``).
"""
from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from psfusion.benchmark.pretrained import (PretrainedCorrupt, PretrainedUnavailable,
                                           check_pretrained_file, hub_dir, resolve_pretrained)
from psfusion.errors import CheckpointError


def _cfg(checkpoint: str) -> Config:
    return Config(dict(model=dict(backbone=dict(
        type='MixVisionTransformer', init_cfg=dict(type='Pretrained', checkpoint=checkpoint)))))


def test_corrupt_pretrained_file_stops_before_training(tmp_path):
    path = tmp_path / 'mit_b2.pth'
    path.write_text('hello world\n')  # not a checkpoint: torch raised KeyError: 101 on it
    for mode in ('on', 'auto'):  # a broken file is never silently replaced by scratch training
        cfg = _cfg(str(path))
        with pytest.raises(PretrainedCorrupt) as info:
            resolve_pretrained(cfg, mode, log=lambda message: None)
        assert str(info.value) == (
            f'pretrained backbone (init_cfg.checkpoint): corrupt or incomplete checkpoint '
            f'{path} (not a complete zip archive, nor a legacy torch file): the file was '
            f'probably cut short by a killed or failed write, copy or download. Delete it and '
            f'download it again (or copy a complete one there), or run --pretrained off to '
            f'train from scratch.')
        assert cfg.model.backbone.init_cfg.checkpoint == str(path)  # untouched
    # caught where the tools catch PretrainedUnavailable, and a CheckpointError too
    assert issubclass(PretrainedCorrupt, PretrainedUnavailable)
    assert issubclass(PretrainedCorrupt, CheckpointError)
    assert resolve_pretrained(_cfg(str(path)), 'off') == 'off'  # not read at all


def test_truncated_download_in_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    url = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2.pth'
    good = tmp_path / 'good.pth'
    torch.save({'w': torch.zeros(100)}, good)
    (tmp_path / 'checkpoints').mkdir()
    cached = tmp_path / 'checkpoints' / 'mit_b2.pth'
    cached.write_bytes(good.read_bytes()[:300])
    assert hub_dir() == str(tmp_path / 'checkpoints')
    with pytest.raises(PretrainedCorrupt, match=f'corrupt or incomplete checkpoint {cached} '):
        resolve_pretrained(_cfg(url), 'on')
    cached.write_bytes(good.read_bytes())
    assert resolve_pretrained(_cfg(url), 'on') == f'on: {url}'
    check_pretrained_file(str(tmp_path / 'not_there.pth'))  # nothing local: nothing to check


def test_a_cut_short_run_checkpoint_is_named(tmp_path):
    """A run folder's checkpoint, loaded with full unpickling, is checked for completeness."""
    from psfusion.benchmark.checkpoints import trust_checkpoints_under

    path = tmp_path / 'iter_2.pth'
    torch.save({'w': torch.zeros(100)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with trust_checkpoints_under(str(tmp_path)), pytest.raises(CheckpointError) as info:
        torch.load(str(path))
    assert str(info.value) == (
        f'corrupt or incomplete checkpoint {path} (not a complete zip archive, nor a legacy '
        f'torch file): the file was probably cut short by a killed or failed write, copy or '
        f"download. Delete it (and the run folder's last_checkpoint if it names it): the run "
        f'then resumes from its previous checkpoint, or starts again.')
