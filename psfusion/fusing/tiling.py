"""Fuse an image larger than a pixel budget in overlapping tiles, blended so no seam shows.

A fusion network's working memory grows with the image area (PSFusion: about 1.2 KB per pixel
for the light network, 2.3 KB for the paper's, at 1024 x 1024 on the CPU; its level-4 attention
also makes the time grow faster than the area), so one 4000 x 3000 pair would need tens of GB.
:func:`plan_tiles` cuts an image whose padded area exceeds ``max_pixels`` into the fewest
overlapping tiles that each fit, with tile sides rounded up to the method's size multiple (32 for
PSFusion, so no tile is padded) and neighbours overlapping by at least ``overlap`` pixels;
:func:`fuse_tiled` fuses the tiles one at a time and blends the fused images with raised-cosine
ramps across each overlap (weights summing to one there), so the result is continuous across
tile borders.  Semantic class ids are not blended: each pixel takes the class of the tile in
which it lies deepest (largest weight).

The result is not exactly the untiled one for a method with a large or global receptive field
(PSFusion's deep levels attend over the whole image); the difference measured on real images is
stated in README (``benchmarks/fuse_large.py`` measures it).  A per-pixel method is unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from ..fusers.base import Fuser, FusingError, FusionOutput

__all__ = ['TilePlan', 'plan_tiles', 'min_tile_side', 'fuse_tiled', 'round_up']


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``."""
    return -(-int(value) // multiple) * multiple


def min_tile_side(overlap: int, multiple: int) -> int:
    """The smallest tile side: more than twice the overlap (a tile must have an inside)."""
    return round_up(2 * overlap + multiple, multiple)


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of a ``height x width`` image lie: tile ``(i, j)`` covers rows
    ``ys[i] : ys[i] + tile_h`` and columns ``xs[j] : xs[j] + tile_w``."""
    height: int
    width: int
    tile_h: int
    tile_w: int
    ys: tuple
    xs: tuple

    @property
    def count(self) -> int:
        return len(self.ys) * len(self.xs)

    @property
    def tiled(self) -> bool:
        return self.count > 1


def _axis(length: int, count: int, overlap: int, multiple: int) -> Optional[tuple[int, list]]:
    """``(tile side, starts)`` for ``count`` tiles along an axis of ``length`` pixels, or None
    when ``count`` tiles do not fit (the side would exceed the length)."""
    if count == 1:
        return length, [0]
    side = round_up(math.ceil((length + (count - 1) * overlap) / count), multiple)
    if side > length:
        return None
    step = (length - side) / (count - 1)
    return side, [round(i * step) for i in range(count)]


def plan_tiles(height: int, width: int, max_pixels: int, overlap: int = 64,
               multiple: int = 32) -> TilePlan:
    """The fewest tiles of at most ``max_pixels`` (padded to ``multiple``) covering the image,
    neighbours overlapping by at least ``overlap`` pixels; one tile (the whole image) when it
    fits.  Among grids with as few tiles, the one with the least padded area wins.

    Raises:
        FusingError: ``max_pixels`` is below the smallest tile (:func:`min_tile_side` squared).
    """
    if round_up(height, multiple) * round_up(width, multiple) <= max_pixels:
        return TilePlan(height, width, height, width, (0, ), (0, ))
    side = min_tile_side(overlap, multiple)
    if side * side > max_pixels:
        raise FusingError(f'a pixel budget of {max_pixels} is below the smallest tile '
                          f'({side} x {side} = {side * side} pixels for an overlap of {overlap}); '
                          f'raise --max-pixels')
    best = None
    max_ny = max(1, math.ceil((height - overlap) / (side - overlap)) + 1)
    max_nx = max(1, math.ceil((width - overlap) / (side - overlap)) + 1)
    for ny in range(1, max_ny + 1):
        rows = _axis(height, ny, overlap, multiple)
        if rows is None:
            continue
        for nx in range(1, max_nx + 1):
            cols = _axis(width, nx, overlap, multiple)
            if cols is None:
                continue
            area = round_up(rows[0], multiple) * round_up(cols[0], multiple)
            if area > max_pixels:
                continue
            key = (ny * nx, area)
            if best is None or key < best[0]:
                best = (key, rows, cols)
            break  # more columns only add tiles
    if best is None:  # cannot happen for side * side <= max_pixels, kept as a guard
        raise FusingError(f'no tiling of a {width} x {height} image fits {max_pixels} pixels')
    _, (tile_h, ys), (tile_w, xs) = best
    return TilePlan(height, width, tile_h, tile_w, tuple(ys), tuple(xs))


def _ramp_weights(starts: tuple, side: int, length: int) -> list[torch.Tensor]:
    """1-D blending weights of each tile along one axis: 1 inside, raised-cosine ramps across
    the overlaps with its neighbours (each overlap: the two ramps sum to one), never 0."""
    weights = []
    for index, start in enumerate(starts):
        weight = torch.ones(min(side, length - start), dtype=torch.float64)
        if index > 0:  # ramp up across the overlap with the previous tile
            width = starts[index - 1] + side - start
            if width > 0:
                t = (torch.arange(width, dtype=torch.float64) + 0.5) / width
                weight[:width] = torch.minimum(weight[:width], 0.5 - 0.5 * torch.cos(math.pi * t))
        if index + 1 < len(starts):  # ramp down across the overlap with the next tile
            width = start + side - starts[index + 1]
            if width > 0:
                t = (torch.arange(width, dtype=torch.float64) + 0.5) / width
                weight[-width:] = torch.minimum(weight[-width:],
                                                0.5 + 0.5 * torch.cos(math.pi * t))
        weights.append(weight.float())
    return weights


def _unit(tile: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A tile as the method takes it: float in [0, 1] on ``device`` (uint8 tiles divided by
    255; only the tile is converted, so the whole image can stay uint8)."""
    tile = tile.to(device)
    return tile.float().div_(255) if tile.dtype == torch.uint8 else tile.float().contiguous()


def fuse_tiled(fuser: Fuser, ir: torch.Tensor, vi: torch.Tensor, plan: TilePlan,
               semantic: bool = False) -> FusionOutput:
    """Fuse ``ir`` / ``vi`` (``B x C x H x W``, the plan's size; float in [0, 1], or uint8 to
    keep the whole image small: each tile is converted on its own) tile by tile with
    :meth:`Fuser.fuse` and blend the tiles (see the module docstring).  ``fused`` is float in
    [0, 1] (``B x 1`` or ``B x 3``, as the method returns); ``semantic`` class ids ``B x H x W``
    when asked for."""
    if not plan.tiled:
        return fuser.fuse(_unit(ir, fuser.device), _unit(vi, fuser.device), semantic=semantic)
    batch, height, width = ir.shape[0], plan.height, plan.width
    row_w = _ramp_weights(plan.ys, plan.tile_h, height)
    col_w = _ramp_weights(plan.xs, plan.tile_w, width)
    total = weight_sum = best = classes = None
    for i, y in enumerate(plan.ys):
        for j, x in enumerate(plan.xs):
            window = (..., slice(y, y + plan.tile_h), slice(x, x + plan.tile_w))
            out = fuser.fuse(_unit(ir[window], fuser.device), _unit(vi[window], fuser.device),
                             semantic=semantic)
            fused = out.fused.float() / 255 if out.fused.dtype == torch.uint8 else out.fused.float()
            weight = (row_w[i][:, None] * col_w[j][None, :]).to(fused.device)
            if total is None:
                total = fused.new_zeros(batch, fused.shape[1], height, width)
                weight_sum = fused.new_zeros(height, width)
            total[window] += fused * weight
            weight_sum[window[1:]] += weight
            if semantic:
                if best is None:
                    best = weight.new_full((height, width), -1.0)
                    classes = torch.zeros(batch, height, width, dtype=torch.uint8,
                                          device=weight.device)  # class ids < 256
                deeper = weight > best[window[1:]]
                best[window[1:]] = torch.where(deeper, weight, best[window[1:]])
                classes[window] = torch.where(deeper, out.semantic.to(torch.uint8),
                                              classes[window])
            del out, fused
    total /= weight_sum
    return FusionOutput(total.clamp_(0, 1), classes)
