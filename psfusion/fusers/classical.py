"""Shared plumbing of the classical (parameter-free, per-pair numpy) fusion methods.

A classical method is written once, as MATLAB's code runs it, on float64 arrays of 8-bit values
(0-255): ``fuse_arrays(ir, vi)`` with ``ir`` ``1 x H x W`` and ``vi`` ``C x H x W`` returns the
fused ``C x H x W`` values before rounding.  :class:`ClassicalFuser` turns that into a
:class:`~.base.Fuser` with the two colour modes every such method offers:

* ``colour='y'`` (default, the benchmark's rule, as for PSFusion): the infrared image is fused
  with the visible BT.601 luma (:func:`psfusion.color.rgb_to_y`, in float64); the output is the
  fused Y (``B x 1``, float in [0, 1], not rounded) and the writer adds the visible Cb/Cr;
* ``colour='rgb'`` (VIFB's way): the infrared image, replicated, is fused with each visible RGB
  channel as the method's MATLAB code does for a grey or grey-stored-as-RGB infrared image; the
  output is ``B x 3`` uint8, rounded and saturated as MATLAB's ``uint8`` (halves away from
  zero).

Every pair of a batch is fused on its own (the methods have global steps: histograms,
covariances, iterative solvers), so results never depend on the batch.
"""
from __future__ import annotations

from typing import ClassVar, Union

import numpy as np
import torch

from ..color import rgb_to_y
from .base import Y_COLOUR, Fuser, FusingError, FusionOutput
from .matlab import to_uint8

__all__ = ['COLOUR_MODES', 'ClassicalFuser']

#: The colour modes of a classical fuser (see the module docstring).
COLOUR_MODES = ('y', 'rgb')


class ClassicalFuser(Fuser):
    """A parameter-free method fusing 8-bit values in float64 numpy (see the module docstring).

    Subclasses set :attr:`name`, :attr:`rgb_rule`, :attr:`note` and implement
    :meth:`settings` and :meth:`fuse_arrays`.

    Args:
        device: where the inputs arrive (the method itself runs on the CPU in numpy).
        colour: ``'y'`` (fuse the visible luma, default) or ``'rgb'`` (fuse each visible
            channel, VIFB's way).
    """

    #: How ``colour='rgb'`` combines the images, in words (manifest ``colour``).
    rgb_rule: ClassVar[str] = ''
    #: What the complexity count leaves out, in words (``complexity()['note']``).
    note: ClassVar[str] = 'not a network: no parameters, multiply-adds not counted'

    def __init__(self, device: Union[str, torch.device] = 'cpu', colour: str = 'y') -> None:
        super().__init__(device)
        if colour not in COLOUR_MODES:
            raise FusingError(f'{self.name}: colour must be one of {", ".join(COLOUR_MODES)}, '
                              f'got {colour!r}')
        self.colour_mode = colour
        # the manifest's words for the colour rule (the class default says 'fused Y + ...')
        self.colour = Y_COLOUR if colour == 'y' else f'RGB: {self.rgb_rule}'

    def settings(self) -> dict:
        """The method's fixed parameters (JSON-able), recorded in :meth:`identity`."""
        return {}

    def identity(self) -> dict:
        return dict(colour=self.colour_mode, **self.settings())

    def complexity(self, height: int, width: int) -> dict:
        return dict(params=0, macs=0, input_hw=[int(height), int(width)], note=self.note)

    def fuse_arrays(self, ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
        """Fuse one pair: ``ir`` ``1 x H x W`` and ``vi`` ``C x H x W`` float64 on the 0-255
        scale (``C`` = 1 or 3) -> fused ``C x H x W`` float64 on that scale, unrounded."""
        raise NotImplementedError

    @torch.inference_mode()
    def fuse(self, ir: torch.Tensor, vi: torch.Tensor, semantic: bool = False) -> FusionOutput:
        if semantic:
            self.check_semantic()
        # the inputs are 8-bit values / 255: recover the integers exactly, in float64
        ir64 = (ir.detach().to('cpu', torch.float64) * 255).round_()
        vi64 = (vi.detach().to('cpu', torch.float64) * 255).round_()
        if self.colour_mode == 'y':
            vi64 = rgb_to_y(vi64 / 255) * 255  # BT.601 luma, not rounded
        fused = np.stack([self.fuse_arrays(i.numpy(), v.numpy())
                          for i, v in zip(ir64, vi64)])
        if self.colour_mode == 'y':
            out = torch.from_numpy(np.clip(fused / 255.0, 0.0, 1.0)).float()
        else:
            out = torch.from_numpy(to_uint8(fused))
        return FusionOutput(out.to(self.device))
