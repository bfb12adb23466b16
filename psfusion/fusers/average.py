"""The per-pixel average of the two images: the classic parameter-free fusion baseline.

``fused = (ir + vi + 1) // 2`` on the 8-bit values, for each visible RGB channel (the infrared
value is added to each colour channel): the mean, halves rounded up.  No padding, no network:
``params`` and ``macs`` are 0 (three additions per pixel are not counted).
"""
from __future__ import annotations

import torch

from ..registry import FUSERS
from .base import Fuser, FusionOutput

RULE = '(ir + vi + 1) // 2 per visible RGB channel, on uint8 values'


def average_uint8(ir: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
    """``... x 1 x H x W`` and ``... x 3 x H x W`` integer values -> their rounded mean,
    uint8 ``... x 3 x H x W``."""
    total = ir.to(torch.int16) + vi.to(torch.int16)
    return torch.div(total + 1, 2, rounding_mode='floor').to(torch.uint8)


@FUSERS.register_module(name=['average', 'avg'])
class AverageFuser(Fuser):
    """``fused = (ir + vi + 1) // 2`` per RGB channel (see the module docstring); registered
    as ``average`` and, as a benchmark source, ``avg``."""

    name = 'average'
    colour = f'RGB: {RULE}'

    tile_overlap = 0  # per pixel: tiles change nothing

    def bytes_per_pixel(self) -> float:
        return 32.0  # int16 sums of the RGB channels and the uint8 result

    def identity(self) -> dict:
        return dict(rule=RULE)

    def complexity(self, height: int, width: int) -> dict:
        return dict(params=0, macs=0, input_hw=[int(height), int(width)])

    @torch.inference_mode()
    def fuse(self, ir: torch.Tensor, vi: torch.Tensor, semantic: bool = False) -> FusionOutput:
        if semantic:
            self.check_semantic()
        return FusionOutput(average_uint8((ir * 255).round(), (vi * 255).round()))
