"""The interface every fusion method offers the fused-dataset writer (:mod:`psfusion.fusing`).

A :class:`Fuser` fuses a batch of registered pairs:

* **Inputs**: ``ir`` ``B x 1 x H x W`` and ``vi`` ``B x 3 x H x W`` (RGB) ``float32`` tensors in
  [0, 1] on :attr:`Fuser.device`: decoded 8-bit images divided by 255, so every value is an
  exact multiple of 1/255 (a method that works on integers recovers them with
  ``(x * 255).round()``).  All pairs of one batch have the same size (the writer groups them);
  any size is allowed, and padding the method needs is its own business: it pads each image
  on its own and crops back, so a pair's result never depends on the other pairs of its batch
  (the batch size is a speed setting, not a result setting).
* **Output**: a :class:`FusionOutput`.  ``fused`` is ``B x 1 x H x W`` (a fused luma Y; the
  writer adds the visible image's Cb/Cr, BT.601, with :func:`psfusion.color.merge_luma`) or
  ``B x 3 x H x W`` (RGB), float in [0, 1] (rounded to uint8 by the writer) or uint8 (written
  as is).  ``semantic`` (``B x H x W`` class ids) only when asked for and
  :attr:`Fuser.has_semantic`.
* **Memory**: :meth:`bytes_per_pixel` (working memory of one fused pixel, for the writer's
  pixel budget), :attr:`size_multiple` (the method pads to it: tiles are cut to it) and
  :attr:`tile_overlap` (how far tiles of an image too large to fuse at once overlap; see
  :mod:`psfusion.fusing.tiling`).
* **Manifest**: :attr:`name`, :meth:`identity` (what must match for a rerun to continue an
  output folder), :meth:`describe` (further fields worth recording), :meth:`complexity`
  (``params`` and ``macs`` of fusing one pair; 0 for parameter-free methods), and the
  :attr:`colour` / :attr:`geometry` rules in words.

Fusers are registered in :data:`psfusion.registry.FUSERS` under their :attr:`name` and built
with :func:`psfusion.fusers.build_fuser`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Optional, Union

import torch

from ..errors import PsfusionError

__all__ = ['Fuser', 'FusionOutput', 'FusingError', 'Y_COLOUR']

#: The colour rule of a fuser that outputs a fused luma (the writer's merge).
Y_COLOUR = 'fused Y + visible CbCr (BT.601), rounded to uint8'


class FusingError(PsfusionError, RuntimeError):
    """A problem with a fusing run's method, inputs or output folder (the message says which
    and how to fix it)."""


@dataclass
class FusionOutput:
    """What :meth:`Fuser.fuse` returns (see the module docstring for shapes and ranges)."""
    fused: torch.Tensor
    semantic: Optional[torch.Tensor] = None


class Fuser(ABC):
    """A fusion method (see the module docstring for the contract).

    Args:
        device: where the inputs are given and the method runs.
    """

    #: Registry name, also the manifest's ``method``.
    name: ClassVar[str] = ''
    #: How the written colour image is made, in words (manifest ``colour``).
    colour: ClassVar[str] = Y_COLOUR
    #: How image sizes are handled, in words (manifest ``geometry``).
    geometry: ClassVar[str] = 'per pixel; no padding, no resizing'
    #: True when the method is built from a config and a checkpoint (``tools/fuse.py``'s
    #: positional CONFIG and CHECKPOINT).
    uses_model_files: ClassVar[bool] = False
    #: The method pads each image to a multiple of this (tiles are cut to it).
    size_multiple: ClassVar[int] = 1
    #: Overlap, in pixels, of neighbouring tiles of an image too large to fuse at once.
    tile_overlap: ClassVar[int] = 32

    def bytes_per_pixel(self) -> float:
        """Working memory of fusing one pixel, bytes (an upper estimate; the writer's default
        pixel budget divides the available memory by it).  Default: a generous 512 for the
        classical methods (float64 images and a few filtered copies)."""
        return 512.0

    def __init__(self, device: Union[str, torch.device] = 'cpu') -> None:
        self.device = torch.device(device)

    @property
    def has_semantic(self) -> bool:
        """Whether :meth:`fuse` can also predict class ids (``semantic=True``)."""
        return False

    def check_semantic(self) -> None:
        """Raise :class:`FusingError` unless semantic predictions are available."""
        if not self.has_semantic:
            raise FusingError(f'--save-seg needs a fusion method with a semantic head; '
                              f'{self.name!r} has none (drop --save-seg).')

    @abstractmethod
    def identity(self) -> dict:
        """JSON-able settings that must match for a rerun to continue an output folder
        (besides :attr:`name`), e.g. the weights' checksum.  Empty for a method with none."""

    def describe(self) -> dict:
        """Further JSON-able fields for the manifest (not compared on resume)."""
        return {}

    @abstractmethod
    def complexity(self, height: int, width: int) -> dict:
        """``dict(params=..., macs=..., input_hw=[h, w])`` for fusing one ``height x width``
        pair (``input_hw``: the size actually processed, e.g. after padding; ``macs``:
        multiply-adds); may add ``note``."""

    @abstractmethod
    def fuse(self, ir: torch.Tensor, vi: torch.Tensor, semantic: bool = False) -> FusionOutput:
        """Fuse one batch of same-sized pairs (see the module docstring)."""

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self.name!r}, device={str(self.device)!r})'
