"""Fusion methods for the fused-dataset writer (:mod:`psfusion.fusing`).

Each method is a :class:`~.base.Fuser` registered in :data:`psfusion.registry.FUSERS` by name:

* ``psfusion`` - :class:`~.psfusion.PSFusionFuser`, a trained PSFusion network (config +
  checkpoint), through ``PSFusion.predict``;
* ``average`` (also ``avg``) - :class:`~.average.AverageFuser`, the per-pixel average;
* ``gtf``, ``adf``, ``gff``, ``msvd`` - the classical methods as VIFB runs them (Gradient
  Transfer Fusion, anisotropic diffusion, guided filtering, multi-resolution SVD), on
  :class:`~.classical.ClassicalFuser` (``colour='y'``: fuse the visible luma, the default;
  ``'rgb'``: each visible channel, VIFB's way).

Methods that need no config or checkpoint are also benchmark sources by name
(:mod:`psfusion.benchmark.fused_sources`).

A new method is one module here: a ``Fuser`` subclass with ``@FUSERS.register_module(name=...)``,
imported below.  Build one with :func:`build_fuser`.
"""
from __future__ import annotations

from typing import Union

from ..registry import FUSERS
from .adf import ADFFuser
from .average import AverageFuser, average_uint8
from .base import Y_COLOUR, Fuser, FusingError, FusionOutput
from .classical import COLOUR_MODES, ClassicalFuser
from .gff import GFFFuser
from .gtf import GTFFuser
from .msvd import MSVDFuser
from .psfusion import PSFusionFuser, load_fusion_model

__all__ = ['FUSERS', 'Fuser', 'FusionOutput', 'FusingError', 'Y_COLOUR', 'AverageFuser',
           'ClassicalFuser', 'COLOUR_MODES', 'GTFFuser', 'ADFFuser', 'GFFFuser', 'MSVDFuser',
           'PSFusionFuser', 'average_uint8', 'load_fusion_model', 'build_fuser', 'fuser_class',
           'fuser_names']


def fuser_names() -> list[str]:
    """The registered method names."""
    return sorted(FUSERS.module_dict)


def fuser_class(name: str) -> type[Fuser]:
    """The fuser registered as ``name``; unknown names get the list of valid ones."""
    cls = FUSERS.module_dict.get(name)
    if cls is None:
        raise FusingError(f'unknown fusion method {name!r}; registered: '
                          f'{", ".join(fuser_names())}')
    return cls


def build_fuser(method: Union[str, dict, Fuser], **kwargs) -> Fuser:
    """A fuser from its name plus arguments, or a config dict (``dict(type='average')``);
    a :class:`Fuser` is returned as is."""
    if isinstance(method, Fuser):
        if kwargs:
            raise TypeError('build_fuser: arguments given with a fuser that is already built')
        return method
    cfg = dict(type=method) if isinstance(method, str) else dict(method)
    cfg.update(kwargs)
    fuser_class(cfg['type'])
    return FUSERS.build(cfg)
