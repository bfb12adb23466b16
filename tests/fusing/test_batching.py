"""Per-image results whatever the batch size: pairs of different sizes are never padded to a
common size, so ``batch_size`` 1 and 4 write the same PNG bytes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psfusion.fusers import PSFusionFuser
from psfusion.fusing import fuse_dataset

from ..fusing_helpers import tiny_config

ROADSCENE = Path(__file__).resolve().parents[2].parent / 'shared' / 'data' / 'roadscene_sample'


@pytest.fixture(scope='module')
def tiny():
    """The tiny PSFusion (16-channel trunks), random weights, optimised as tools/fuse.py runs
    it; no complexity count (a seconds-long trace, tested elsewhere)."""
    fuser = PSFusionFuser(tiny_config(), 'none')
    fuser.complexity = lambda height, width: dict(params=0, macs=0, input_hw=[height, width])
    return fuser


def fuse_at(fuser, src: Path, out: Path, batch_size: int, limit=None) -> dict:
    calls = []
    real = type(fuser).fuse

    def counted(ir, vi, semantic=False):
        calls.append(tuple(ir.shape))
        return real(fuser, ir, vi, semantic)

    fuser.fuse = counted
    try:
        fuse_dataset(fuser, str(src), 'folders', str(out), batch_size=batch_size,
                     progress=False, limit=limit)
    finally:
        del fuser.fuse
    return dict(calls=calls, files={p.name: p.read_bytes()
                                    for p in sorted((out / 'fused').iterdir())})


def test_mixed_sizes_batch_1_and_4_identical(tiny, tmp_path):
    """Synthetic: sizes alternate and repeat, so batch 4 groups runs of one size only."""
    rng = np.random.default_rng(0)
    sizes = [(37, 45), (50, 33), (50, 33), (50, 33), (37, 45), (64, 64), (37, 45), (37, 45)]
    for sub in ('ir', 'vi'):
        (tmp_path / 'src' / sub).mkdir(parents=True)
    for index, (h, w) in enumerate(sizes):
        stem = f'p{index}'
        Image.fromarray(rng.integers(0, 255, (h, w), np.uint8)).save(
            tmp_path / 'src' / 'ir' / f'{stem}.png')
        Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(
            tmp_path / 'src' / 'vi' / f'{stem}.jpg')
    one = fuse_at(tiny, tmp_path / 'src', tmp_path / 'b1', 1)
    four = fuse_at(tiny, tmp_path / 'src', tmp_path / 'b4', 4)
    assert [c[0] for c in one['calls']] == [1] * 8
    assert four['calls'] == [(1, 1, 37, 45), (3, 1, 50, 33), (1, 1, 37, 45), (1, 1, 64, 64),
                             (2, 1, 37, 45)]
    assert len(one['files']) == 8 and one['files'] == four['files']


@pytest.mark.slow  # about 17 s on 2 idle cores
@pytest.mark.skipif(not ROADSCENE.is_dir(), reason=f'{ROADSCENE} not found (real test data '
                    'lives beside the project, see ../shared/data/README.md)')
def test_roadscene_batch_1_and_4_identical(tiny, tmp_path):
    """Real pairs of many sizes (RoadScene sample): the same bytes at batch sizes 1 and 4."""
    one = fuse_at(tiny, ROADSCENE, tmp_path / 'b1', 1, limit=16)
    four = fuse_at(tiny, ROADSCENE, tmp_path / 'b4', 4, limit=16)
    sizes = {call[2:] for call in one['calls']}
    assert len(one['files']) == 16 and len(sizes) >= 12  # really mixed
    assert one['files'] == four['files']
