"""psfusion: PSFusion (Tang et al., Information Fusion 2023) on OpenMMLab, and a downstream
segmentation benchmark harness for any infrared-visible fusion method.

Importing the package makes mmsegmentation importable on mmcv-lite (see :mod:`psfusion.compat`);
it must therefore be imported before the first ``import mmseg``.
"""
from .compat import install_light_mmcv_ops

install_light_mmcv_ops()

__version__ = '0.1.0'

__all__ = ['__version__', 'install_light_mmcv_ops']
