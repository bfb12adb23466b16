"""Images larger than the pixel budget: the tile plan, the blend, the memory check."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from psfusion.fusers import AverageFuser, Fuser, FusionOutput, PSFusionFuser
from psfusion.fusing import FusingError, fuse_dataset, fuse_tiled, plan_tiles, writer
from psfusion.fusing.memory import (DEFAULT_MAX_PIXELS, IMAGE_BYTES_PER_PIXEL, MemoryBudget,
                                    auto_max_pixels, check_fits)
from psfusion.fusing.tiling import _ramp_weights, round_up

from ..fusing_helpers import read, tiny_config


def covered(plan, axis):
    starts, side, length = ((plan.ys, plan.tile_h, plan.height) if axis == 0 else
                            (plan.xs, plan.tile_w, plan.width))
    return starts, side, length


@pytest.mark.parametrize('height, width, max_pixels', [
    (3000, 4000, 1 << 20), (1080, 1920, 1 << 20), (480, 640, 160 * 160), (37, 5000, 64 * 640)])
def test_plan_covers_the_image_with_overlapping_aligned_tiles(height, width, max_pixels):
    plan = plan_tiles(height, width, max_pixels, overlap=64, multiple=32)
    assert plan.tiled
    for axis in (0, 1):
        starts, side, length = covered(plan, axis)
        assert starts[0] == 0 and starts[-1] + side == length or (len(starts) == 1 and
                                                                   side == length)
        if len(starts) > 1:
            assert side % 32 == 0
            assert all(b - a > 0 and a + side - b >= 64 for a, b in zip(starts, starts[1:]))
    assert round_up(plan.tile_h, 32) * round_up(plan.tile_w, 32) <= max_pixels
    # no grid with fewer tiles fits the budget
    for ny, nx in itertools.product(range(1, len(plan.ys) + 1), range(1, len(plan.xs) + 1)):
        if ny * nx < plan.count:
            h = height if ny == 1 else round_up(-(-(height + (ny - 1) * 64) // ny), 32)
            w = width if nx == 1 else round_up(-(-(width + (nx - 1) * 64) // nx), 32)
            assert round_up(h, 32) * round_up(w, 32) > max_pixels or h > height or w > width


def test_plan_4000x3000_values():
    plan = plan_tiles(3000, 4000, 1 << 20, overlap=64, multiple=32)
    assert (plan.tile_h, plan.tile_w, len(plan.ys), len(plan.xs)) == (1536, 640, 2, 7)
    assert plan.ys == (0, 1464) and plan.xs == (0, 560, 1120, 1680, 2240, 2800, 3360)


def test_an_image_that_fits_is_one_tile():
    plan = plan_tiles(480, 640, 480 * 640, overlap=64, multiple=32)
    assert (plan.count, plan.tile_h, plan.tile_w) == (1, 480, 640)
    assert plan_tiles(481, 640, 480 * 640).count > 1  # padded to 512 x 640


def test_budget_below_the_smallest_tile_is_refused():
    with pytest.raises(FusingError) as info:
        plan_tiles(1000, 1000, 100 * 100, overlap=64, multiple=32)
    assert str(info.value) == ('a pixel budget of 10000 is below the smallest tile (160 x 160 = '
                               '25600 pixels for an overlap of 64); raise --max-pixels')


def test_cosine_ramps_sum_to_one():
    plan = plan_tiles(300, 500, 192 * 256, overlap=64, multiple=32)
    rows = _ramp_weights(plan.ys, plan.tile_h, plan.height)
    cols = _ramp_weights(plan.xs, plan.tile_w, plan.width)
    total = torch.zeros(plan.height, plan.width)
    for (y, wy), (x, wx) in itertools.product(zip(plan.ys, rows), zip(plan.xs, cols)):
        total[y:y + plan.tile_h, x:x + plan.tile_w] += wy[:, None] * wx[None, :]
    assert plan.count > 4 and torch.allclose(total, torch.ones_like(total), atol=1e-6)
    assert min(float(w.min()) for w in rows + cols) > 0


class PositionLuma(Fuser):
    """A per-pixel stand-in returning a luma and class ids; records each call's size."""
    name = 'position_luma'
    size_multiple = 32

    def __init__(self):
        super().__init__()
        self.calls = []

    @property
    def has_semantic(self):
        return True

    def identity(self):
        return {}

    def complexity(self, height, width):
        return dict(params=0, macs=0, input_hw=[height, width])

    def fuse(self, ir, vi, semantic=False):
        self.calls.append(tuple(ir.shape))
        seg = (ir[:, 0] * 8).round().long() if semantic else None
        return FusionOutput((ir + vi.mean(1, keepdim=True)) / 2, seg)


def test_a_per_pixel_method_is_unchanged_by_tiling():
    gen = torch.Generator().manual_seed(0)
    ir = (torch.randint(0, 256, (1, 1, 300, 500), generator=gen) / 255).float()
    vi = (torch.randint(0, 256, (1, 3, 300, 500), generator=gen) / 255).float()
    plan = plan_tiles(300, 500, 192 * 256, overlap=64, multiple=32)
    fuser = PositionLuma()
    whole = fuser.fuse(ir, vi, semantic=True)
    fuser.calls.clear()
    tiled = fuse_tiled(fuser, ir, vi, plan, semantic=True)
    assert len(fuser.calls) == plan.count > 1
    assert all(h * w <= 192 * 256 for *_, h, w in fuser.calls)
    assert torch.allclose(tiled.fused, whole.fused, atol=1e-6)
    assert torch.equal(tiled.semantic, whole.semantic)
    average = AverageFuser()
    assert np.array_equal(writer.to_uint8(fuse_tiled(average, ir, vi, plan).fused),
                          writer.to_uint8(average.fuse(ir, vi).fused))


def write_pair(root: Path, stem: str, height: int, width: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for sub, shape in (('ir', (height, width)), ('vi', (height, width, 3))):
        (root / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, shape, np.uint8)).save(root / sub / f'{stem}.png')


def test_writer_tiles_a_pair_above_the_budget(tmp_path):
    root = tmp_path / 'src'
    write_pair(root, 'big', 300, 500)
    write_pair(root, 'small', 100, 120, seed=1)
    out = tmp_path / 'out'
    fuser = PositionLuma()
    summary = fuse_dataset(fuser, str(root), 'folders', str(out), save_seg=True,
                           max_pixels=192 * 256, batch_size=4, progress=False)
    assert (summary.written, summary.tiled, summary.max_pixels) == (2, 1, 192 * 256)
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['files']['fused/big.png']['tiles'] == [1, 5]  # 5 of 320 x 128 (padded)
    assert 'tiles' not in manifest['files']['fused/small.png']
    assert manifest['tiling']['max_pixels'] == 192 * 256 and manifest['tiling']['overlap'] == 32
    assert manifest['tiling']['max_pixels_from'] == 'given'
    assert manifest['complexity_note'] == ('counted on one 128 x 300 piece of the 500 x 300 '
                                           'image (fused in 5 tiles of 128 x 300)')
    assert read(out / 'fused' / 'big.png').shape == (300, 500, 3)
    assert read(out / 'seg_pred' / 'big.png').shape == (300, 500)
    reference = tmp_path / 'whole'
    fuse_dataset(PositionLuma(), str(root), 'folders', str(reference), save_seg=True,
                 max_pixels=10 ** 6, progress=False)
    for name in ('fused/big.png', 'seg_pred/big.png'):
        diff = np.abs(read(out / name).astype(int) - read(reference / name).astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.999, name


def test_tiny_psfusion_tiled_is_close_to_untiled(tmp_path):
    """A real network: no seam (the blend is continuous), the result near the untiled one."""
    fuser = PSFusionFuser(tiny_config(), 'none')
    gen = torch.Generator().manual_seed(0)
    ir = torch.rand(1, 1, 192, 256, generator=gen)
    vi = torch.rand(1, 3, 192, 256, generator=gen)
    plan = plan_tiles(192, 256, 160 * 192, overlap=64, multiple=32)
    assert (plan.count, plan.tile_h, plan.tile_w) == (2, 192, 160)
    whole = writer.fused_rgb(fuser.fuse(ir, vi).fused, vi, 'psfusion').astype(int)
    tiled = writer.fused_rgb(fuse_tiled(fuser, ir, vi, plan).fused, vi, 'psfusion').astype(int)
    diff = np.abs(whole - tiled)
    # measured 1.46 mean, 45 max (random weights: instance norms see one tile's statistics)
    assert diff.mean() < 2 and diff.max() <= 64 and (diff <= 5).mean() > 0.9, (
        diff.mean(), diff.max(), (diff <= 5).mean())


def test_auto_budget_from_memory():
    budget = MemoryBudget(16 << 30, 'test')
    assert auto_max_pixels(1280, budget) == DEFAULT_MAX_PIXELS == 2048 * 2048
    assert auto_max_pixels(1280, MemoryBudget(4 << 30, 'test')) == 1677312  # 1638 x 32 x 32
    assert auto_max_pixels(2560, MemoryBudget(1 << 30, 'test')) == 208896  # 204 x 32 x 32
    assert auto_max_pixels(1e9, budget) == 32 * 32


def test_a_pair_that_cannot_fit_even_tiled_is_refused_before_loading(tmp_path, monkeypatch):
    root = tmp_path / 'src'
    write_pair(root, 'big', 300, 500)
    budget = MemoryBudget(20 << 20, 'the address-space limit (ulimit -v)')
    monkeypatch.setattr(writer, 'available_memory', lambda: budget)
    monkeypatch.setattr(writer.LoadFusionPair, 'transform',
                        lambda self, results: pytest.fail('loaded'))
    with pytest.raises(FusingError) as info:
        fuse_dataset(PositionLuma(), str(root), 'folders', str(tmp_path / 'out'),
                     max_pixels=192 * 256, progress=False)
    need = 300 * 500 * IMAGE_BYTES_PER_PIXEL + 320 * 128 * 512  # 5 tiles of 320 x 128
    assert str(info.value) == (
        f'{root}/ir/big.png: a 500 x 300 pair needs about {need >> 20} MiB even when fused in '
        f'tiles ({300 * 500 * IMAGE_BYTES_PER_PIXEL >> 20} MiB for the whole-image buffers, '
        f'{320 * 128 * 512 >> 20} MiB for a tile of 40960 pixels), but only 20 MiB are '
        f'available (the address-space limit (ulimit -v)). Free memory, raise the limit, lower '
        f'--max-pixels, or fuse a downscaled copy of the image.')
    assert not list((tmp_path / 'out' / 'fused').glob('*.png'))


def test_check_fits_accepts_what_fits():
    check_fits('x.png', 3000, 4000, 1 << 20, 1280, MemoryBudget(2 << 30, 'test'))
    with pytest.raises(FusingError, match='x.png: a 4000 x 3000 pair needs about 1600 MiB '
                       r'even when fused in tiles \(320 MiB for the whole-image buffers'):
        check_fits('x.png', 3000, 4000, 1 << 20, 1280, MemoryBudget(3 << 29, 'test'))
