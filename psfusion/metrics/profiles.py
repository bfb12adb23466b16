"""Profiles: the published conventions a metric table was computed with.

Papers in this field print values from different MATLAB scripts that disagree on details (grey
conversion, per-band scoring of colour images, normalisations, units).  A profile names one
such set, so that a user can reproduce a given paper's table:

``default``
    ``../shared/spec/METRICS.md``: colour images (fused and visible) are scored on their BT.601
    luma ``rint(.299 R + .587 G + .114 B)``; SF over own counts; MI in bits on the raw 256-bin
    histograms; SSIM and CC are the mean over the two sources; MSE on 0..255 and
    PSNR = 10 log10(255^2 / MSE).
``vifb``
    the VIFB benchmark (Zhang et al., CVPRW 2020).  A colour fused image is scored per RGB band
    (against the matching visible band and the grey infrared image) and the band scores are
    averaged, except SF, computed on the M x 3N image of the bands side by side; grey
    conversion is MATLAB's ``rgb2gray`` (coefficients .298936 .587043 .114021, rounded); SF
    divides both sums by MN; MI normalises both images to 0..255 and is in nats; SSIM is the
    **sum** of the two source-fused scores; PSNR = 10 log10(255^2 / RMSE_vifb).  Metrics that
    VIFB does not compute (SCD, VIF, CC, Nabf, VIFF, MSE) use the default definitions per band.
``tang_matlab``
    SeAFusion / PSFusion's published MATLAB evaluation (an old run on uint8 data): colour
    converted with ``rgb2gray``; SF on the [0, 1] scale (default / 255); SD with uint8
    saturation; MI with the joint histogram's levels 254 and 255 merged; MSE on the [0, 1]
    scale and PSNR = 10 log10(255^2 / MSE_[0,1]).  Its VIF and Qabf columns match no public
    code; this profile computes them as the default does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .quality import matlab_round

BT601 = (0.299, 0.587, 0.114)
# MATLAB's rgb2gray: the first row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703]).
MATLAB_RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)


@dataclass(frozen=True)
class Profile:
    """One published set of metric conventions (see the module docstring)."""

    name: str
    grey: str = 'bt601'              # 'bt601' (rint) or 'matlab' (rgb2gray, rounded)
    colour: str = 'luma'             # 'luma' or 'per_band'
    sf_normalise: str = 'own'        # 'own' or 'mn'
    sf_scale: float = 255.0          # 255: 0..255 data; 1: [0, 1] data
    sd_uint8_saturation: bool = False
    mi_variant: str = 'bits'         # 'bits', 'vifb' or 'tang_uint8'
    ssim_combine: str = 'mean'       # 'mean' or 'sum'
    psnr_variant: str = 'mse255'     # 'mse255', 'vifb_rmse' or 'tang_mse01'
    mse_scale: float = 255.0         # 255: 0..255; 1: [0, 1]
    description: str = ''


PROFILES: dict[str, Profile] = {
    'default': Profile(
        name='default',
        description='METRICS.md: BT.601 luma, SF over own counts, MI in bits, mean SSIM/CC, '
                    'MSE and PSNR on 0..255'),
    'vifb': Profile(
        name='vifb', grey='matlab', colour='per_band', sf_normalise='mn', mi_variant='vifb',
        ssim_combine='sum', psnr_variant='vifb_rmse',
        description='VIFB benchmark: per-band colour scoring, rgb2gray, SF / MN, MI in nats '
                    'on normalised images, SSIM summed, PSNR from VIFB RMSE'),
    'tang_matlab': Profile(
        name='tang_matlab', grey='matlab', sf_scale=1.0, sd_uint8_saturation=True,
        mi_variant='tang_uint8', psnr_variant='tang_mse01', mse_scale=1.0,
        description="SeAFusion/PSFusion MATLAB tables: rgb2gray, SF and MSE on [0,1], "
                    "PSNR 10log10(255^2/MSE01), SD and MI with uint8 saturation"),
}


def get_profile(profile: str | Profile) -> Profile:
    """The :class:`Profile` called ``profile`` (a Profile passes through)."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f'unknown metric profile {profile!r}; choose one of '
                         f'{", ".join(PROFILES)}') from None


def to_grey(image: np.ndarray, method: str = 'bt601') -> np.ndarray:
    """``H x W`` uint8 grey image from ``H x W`` or ``H x W x C`` uint8 (C = 1, 3 or 4).

    ``'bt601'``: ``rint(.299 R + .587 G + .114 B)`` (as :mod:`psfusion.data.io` converts
    grey-looking infrared); ``'matlab'``: MATLAB's ``rgb2gray`` on uint8 (rounded half up).
    An alpha channel is ignored.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        return array
    if array.shape[2] in (1, 2):
        return array[..., 0]
    if method == 'bt601':
        weights, rounding = BT601, np.rint
    elif method == 'matlab':
        weights, rounding = MATLAB_RGB2GRAY, matlab_round
    else:
        raise ValueError(f"grey conversion must be 'bt601' or 'matlab', got {method!r}")
    rgb = array[..., :3].astype(np.float64)
    grey = rounding(weights[0] * rgb[..., 0] + weights[1] * rgb[..., 1] +
                    weights[2] * rgb[..., 2])
    return np.clip(grey, 0, 255).astype(np.uint8)
