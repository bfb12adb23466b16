"""Score one fused image against its sources under a profile: the metric table.

``score_images(ir, vi, fused, metrics, profile)`` takes the images as stored (uint8 arrays,
``H x W`` or ``H x W x C``), applies the profile's colour handling (luma, or VIFB's per-band
scoring) and returns ``{metric: value}``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .edges import nabf, qabf
from .profiles import Profile, get_profile, to_grey
from .quality import (average_gradient, correlation_coefficient, entropy, mean_squared_error,
                      mutual_information, psnr, scd, spatial_frequency, standard_deviation)
from .ssim import ssim
from .vif import vif, viff

PAPER_METRICS = ('EN', 'SD', 'AG', 'SF', 'SCD', 'VIF')
ALL_METRICS = PAPER_METRICS + ('MI', 'Qabf', 'Nabf', 'SSIM', 'PSNR', 'CC', 'MSE', 'VIFF')
# Direction of "better", for tables and plots.
LOWER_IS_BETTER = frozenset({'Nabf', 'MSE'})

_Band = Callable[[np.ndarray, np.ndarray, np.ndarray, Profile], float]

_METRICS: dict[str, _Band] = {
    'EN': lambda f, a, b, p: entropy(f),
    'SD': lambda f, a, b, p: standard_deviation(f, p.sd_uint8_saturation),
    'AG': lambda f, a, b, p: average_gradient(f),
    'SF': lambda f, a, b, p: spatial_frequency(f, p.sf_normalise) * p.sf_scale / 255.0,
    'SCD': lambda f, a, b, p: scd(f, a, b),
    'VIF': lambda f, a, b, p: vif(f, a, b),
    'MI': lambda f, a, b, p: mutual_information(f, a, b, p.mi_variant),
    'Qabf': lambda f, a, b, p: qabf(f, a, b),
    'Nabf': lambda f, a, b, p: nabf(f, a, b),
    'SSIM': lambda f, a, b, p: ssim(f, a, b, p.ssim_combine),
    'PSNR': lambda f, a, b, p: psnr(f, a, b, p.psnr_variant),
    'CC': lambda f, a, b, p: correlation_coefficient(f, a, b),
    'MSE': lambda f, a, b, p: mean_squared_error(f, a, b, p.mse_scale),
    'VIFF': lambda f, a, b, p: viff(f, a, b),
}
_CANONICAL = {name.lower(): name for name in ALL_METRICS}


def resolve_metrics(names: str | Sequence[str]) -> list[str]:
    """Canonical metric names from ``'EN,SD,...'`` or a list (case-insensitive).

    Raises ValueError for an unknown or repeated name, listing the valid ones.
    """
    if isinstance(names, str):
        names = [part.strip() for part in names.split(',') if part.strip()]
    resolved = []
    for name in names:
        canonical = _CANONICAL.get(str(name).lower())
        if canonical is None:
            raise ValueError(f'unknown metric {name!r}; choose from {", ".join(ALL_METRICS)}')
        if canonical in resolved:
            raise ValueError(f'metric {name!r} is listed twice')
        resolved.append(canonical)
    if not resolved:
        raise ValueError(f'no metric given; choose from {", ".join(ALL_METRICS)}')
    return resolved


def is_colour(image: np.ndarray) -> bool:
    """True for ``H x W x C`` with C >= 3 (an alpha channel does not count)."""
    return image.ndim == 3 and image.shape[2] >= 3


def score_images(ir: np.ndarray, vi: np.ndarray, fused: np.ndarray,
                 metrics: Sequence[str] = PAPER_METRICS,
                 profile: str | Profile = 'default') -> dict[str, float]:
    """Score ``fused`` against the infrared ``ir`` (A) and visible ``vi`` (B) images.

    Images are uint8 arrays as stored, ``H x W`` or ``H x W x C``, of one height and width.
    Under ``luma`` profiles every colour image is converted to grey first; under ``vifb`` a
    colour fused image is scored per RGB band against the grey infrared image and the matching
    visible band (a grey visible image serves all three), the band scores averaged, and SF is
    taken over the bands side by side.
    """
    prof = get_profile(profile)
    names = resolve_metrics(metrics)
    shapes = {np.shape(x)[:2] for x in (ir, vi, fused)}
    if len(shapes) != 1:
        raise ValueError(f'images differ in size: infrared {np.shape(ir)[:2]}, visible '
                         f'{np.shape(vi)[:2]}, fused {np.shape(fused)[:2]}')
    a = to_grey(ir, prof.grey)
    if prof.colour == 'per_band' and is_colour(fused):
        bands = [fused[..., k] for k in range(3)]
        vi_bands = ([vi[..., k] for k in range(3)] if is_colour(vi)
                    else [to_grey(vi, prof.grey)] * 3)
        out = {}
        for name in names:
            if name == 'SF':
                out[name] = _METRICS[name](np.concatenate(bands, axis=1), a, a, prof)
            else:
                out[name] = float(np.mean([_METRICS[name](f, a, b, prof)
                                           for f, b in zip(bands, vi_bands)]))
        return out
    if prof.colour not in ('luma', 'per_band'):
        raise ValueError(f'profile {prof.name!r}: unknown colour handling {prof.colour!r}')
    f = to_grey(fused, prof.grey)
    b = to_grey(vi, prof.grey)
    return {name: _METRICS[name](f, a, b, prof) for name in names}
