"""Fusion quality metrics that reproduce the published values (see ``../shared/spec/METRICS.md``).

Functional metrics (numpy, one band, 0..255): :mod:`.quality` (EN, SD, AG, SF, SCD, CC, MSE,
PSNR, MI), :mod:`.vif` (VIF, VIFF), :mod:`.edges` (Qabf, Nabf), :mod:`.ssim` (SSIM).
:mod:`.profiles` names the published conventions (``default``, ``vifb``, ``tang_matlab``),
:mod:`.scoring` applies one to an image triple, :mod:`.folders` scores folders of fused
images, :mod:`.report` writes the tables and plots, and :mod:`.evaluator` is the mmengine
``Metric`` for validation during training.

``FusionQualityMetric`` is imported on first use (it needs torch and mmengine, seconds of
start-up that ``tools/eval_fusion.py`` does not need); mmengine's ``psfusion`` metric registry
imports :mod:`.evaluator` itself (``psfusion/registry.py``).
"""
from .edges import nabf, qabf
from .profiles import PROFILES, Profile, get_profile, to_grey
from .quality import (average_gradient, correlation_coefficient, entropy, mean_squared_error,
                      mutual_information, psnr, scd, spatial_frequency, standard_deviation)
from .scoring import ALL_METRICS, PAPER_METRICS, resolve_metrics, score_images
from .ssim import ssim
from .vif import vif, vif_pixel, viff

__all__ = [
    'ALL_METRICS', 'PAPER_METRICS', 'PROFILES', 'FusionQualityMetric', 'Profile',
    'average_gradient', 'correlation_coefficient', 'entropy', 'get_profile',
    'mean_squared_error', 'mutual_information', 'nabf', 'psnr', 'qabf', 'resolve_metrics',
    'scd', 'score_images', 'spatial_frequency', 'ssim', 'standard_deviation', 'to_grey', 'vif',
    'vif_pixel', 'viff',
]


def __getattr__(name: str):
    if name == 'FusionQualityMetric':
        from .evaluator import FusionQualityMetric
        return FusionQualityMetric
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
