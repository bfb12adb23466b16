"""VIF as the fusion papers compute it, and Han et al.'s VIFF.

Both rest on Sheikh & Bovik's pixel-domain visual information fidelity (``vifp_mscale.m``):
at scales s = 1..4 a Gaussian window of N = 2^(5-s) + 1 taps, sigma N/5, gives local means,
variances and the covariance of reference R and distorted D ('valid' filtering; between
scales both images are filtered with the new window and decimated by 2).  Per pixel:
``g = s_RD / (s_R^2 + 1e-10)``, ``s_V^2 = s_D^2 - g s_RD``, with the reference code's guards
(s^2 < 0 -> 0; s_R^2 < 1e-10 -> g = 0, s_V^2 = s_D^2; s_D^2 < 1e-10 -> g = 0, s_V^2 = 0;
g < 0 -> s_V^2 = s_D^2, g = 0; s_V^2 floored at 1e-10), then
``VID = log10(1 + g^2 s_R^2 / (s_V^2 + s_n^2))`` and ``VIND = log10(1 + s_R^2 / s_n^2)``.

Why our own code: ``piq.vif_p(F, X)`` computes nearly the same quantity, but its guards use
1e-8 where the MATLAB code uses 1e-10 (differences up to ~5e-6 relative on MSRS in float64,
~1e-4 in float32), and it runs a 2-D convolution per moment: on the 60 MSRS pairs it was ~10x
slower in float32 and ~100x in float64 (``benchmarks/bench_metrics.py``); it is not a
dependency either.  Here the separable windows are applied with OpenCV in float64, the fused
image's moments are shared by both sources, and the values equal a literal transcription of
the MATLAB code to ~1e-11 (tested).

Speed (VIF is most of the paper metrics' time): the ratio sum(VID) / sum(VIND) is the same in
any logarithm base, so :func:`vif` sums natural logarithms (``log10`` costs twice ``log``),
and each sum of logarithms is taken as the logarithm of products of 32 factors
(:func:`_sum_log`): a 32nd of the logarithms, the same value to ~1e-15 relative.
"""
from __future__ import annotations

import math
from typing import Iterator, Optional, Sequence

import numpy as np

from ._filters import filter_valid, gaussian_1d

VIF_SIGMA_NSQ = 2.0
VIFF_SIGMA_NSQ = 0.005 * 255 * 255
VIFF_C = 1e-7
VIFF_SCALE_WEIGHTS = (1.0, 0.0, 0.15, 1.0)
_EPS = 1e-10
MIN_SIZE = 41  # smallest side that leaves a pixel at the fourth scale


def _scale_windows() -> Iterator[tuple[int, np.ndarray]]:
    for scale in range(1, 5):
        size = 2 ** (5 - scale) + 1
        yield scale, gaussian_1d(size, size / 5.0)


def _vif_maps(refs: Sequence[np.ndarray], dist: np.ndarray, sigma_nsq: float,
              keep_gain: bool = False,
              ) -> Iterator[list[tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]]]:
    """Per scale, for each reference: the VID map, the VIND map and (with ``keep_gain``) the
    final gain map g.

    The reference code's guards collapse to: a pixel contributes to VID only where
    s_R^2 >= 1e-10, s_D^2 >= 1e-10 and g >= 0 (elsewhere g is set to 0, so VID = 0), and to
    VIND only where s_R^2 >= 1e-10; the arithmetic on the contributing pixels is the
    reference's, in its order (done in place: the maps are large).
    """
    refs = [np.asarray(r, dtype=np.float64) for r in refs]
    dist = np.asarray(dist, dtype=np.float64)
    if min(dist.shape) < MIN_SIZE:
        raise ValueError(f'VIF needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels (four '
                         f'scales of valid filtering), got {dist.shape[0]}x{dist.shape[1]}')
    for scale, window in _scale_windows():
        if scale > 1:
            refs = [filter_valid(r, window)[::2, ::2] for r in refs]
            dist = filter_valid(dist, window)[::2, ::2]
        mu2 = filter_valid(dist, window)
        sigma2_sq = filter_valid(dist * dist, window)
        sigma2_sq -= mu2 * mu2
        textured2 = sigma2_sq >= _EPS
        out = []
        for ref in refs:
            vid, vind, g = _one_plus_terms(
                filter_valid(ref, window), filter_valid(ref * ref, window),
                filter_valid(ref * dist, window), mu2, sigma2_sq, textured2, sigma_nsq,
                keep_gain)
            np.log10(vid, out=vid)                            # log10(1 + g^2 s_R^2 / (...))
            np.log10(vind, out=vind)                          # log10(1 + s_R^2 / s_n^2)
            out.append((vid, vind, g))
        yield out


_PRODUCT_ROUNDS = 5           # factors multiplied in groups of 2^5 before the logarithm
_PRODUCT_LIMIT = 2.0 ** 30    # 32 factors below this stay below 2^960 (no overflow)


def _sum_log(values: np.ndarray) -> float:
    """``sum(ln(values))`` for finite ``values >= 1`` (a C-contiguous array, overwritten).

    The array is multiplied by its second half five times over (products of 32 factors)
    before one logarithm per product: a 32nd of the ``log`` calls.  Each product carries at
    most 31 roundings (~3e-15 relative), i.e. ~3e-15 absolute on its logarithm, far below
    the rounding of the sum itself.  Factors of 2^30 or more (never for 0..255 data, where
    they stay below 1 + 255^2 / 8) take the direct sum instead.
    """
    flat = values.reshape(-1)
    if flat.size == 0:
        return 0.0
    if float(flat.max()) >= _PRODUCT_LIMIT:
        return float(np.log(flat).sum())
    extra = 0.0
    size = flat.size
    for _ in range(_PRODUCT_ROUNDS):
        half = size // 2
        if half == 0:
            break
        if size % 2:
            extra += math.log(flat[size - 1])
        np.multiply(flat[:half], flat[half:2 * half], out=flat[:half])
        size = half
    part = flat[:size]
    return float(np.log(part, out=part).sum()) + extra


def _one_plus_terms(mu1: np.ndarray, e11: np.ndarray, e12: np.ndarray, mu2: np.ndarray,
                    sigma2_sq: np.ndarray, textured2: np.ndarray, sigma_nsq: float,
                    keep_gain: bool = False,
                    ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """One reference at one scale: ``1 + g^2 s_R^2 / (s_V^2 + s_n^2)`` (VID's argument),
    ``1 + s_R^2 / s_n^2`` (VIND's) and, with ``keep_gain``, the gain map g, from the filtered
    moments (``mu1``, ``e11``, ``e12``: filtered R, R^2 and R D, all overwritten).

    The reference code's guards and per-pixel arithmetic, in its order (see
    :func:`_vif_maps`), in place.
    """
    tmp = np.multiply(mu1, mu1)
    sigma1_sq = np.subtract(e11, tmp, out=e11)
    np.maximum(sigma1_sq, 0.0, out=sigma1_sq)
    np.multiply(mu1, mu2, out=tmp)
    sigma12 = np.subtract(e12, tmp, out=e12)
    np.add(sigma1_sq, _EPS, out=tmp)
    g = np.divide(sigma12, tmp, out=mu1)                  # s_RD / (s_R^2 + eps)
    np.multiply(g, sigma12, out=tmp)
    sv_sq = np.subtract(sigma2_sq, tmp, out=tmp)          # s_D^2 - g s_RD
    np.maximum(sv_sq, _EPS, out=sv_sq)
    textured1 = sigma1_sq >= _EPS
    valid = textured1 & textured2
    valid &= g >= 0
    g *= valid
    sigma1_sq *= textured1
    sv_sq += sigma_nsq
    vid = g * g if keep_gain else np.multiply(g, g, out=g)
    vid *= sigma1_sq
    vid /= sv_sq
    vid += 1.0
    vind = sigma1_sq
    vind /= sigma_nsq
    vind += 1.0
    return vid, vind, (g if keep_gain else None)


def _ref_log_sums(mu1: np.ndarray, e11: np.ndarray, e12: np.ndarray, mu2: np.ndarray,
                  sigma2_sq: np.ndarray, textured2: np.ndarray, sigma_nsq: float,
                  ) -> tuple[float, float]:
    """One reference at one scale: ``(sum ln(1 + VID term), sum ln(1 + VIND term))``
    (:func:`_one_plus_terms`; its inputs are overwritten)."""
    vid, vind, _ = _one_plus_terms(mu1, e11, e12, mu2, sigma2_sq, textured2, sigma_nsq)
    return _sum_log(vid), _sum_log(vind)


def _vif_log_sums(refs: Sequence[np.ndarray], dist: np.ndarray, sigma_nsq: float,
                  ) -> list[tuple[float, float]]:
    """Per reference, ``(sum ln(1 + VID term), sum ln(1 + VIND term))`` over all scales and
    pixels: :func:`_vif_maps`' sums in natural logarithms (same guards, same arithmetic per
    pixel), with fewer passes over memory."""
    refs = [np.asarray(r, dtype=np.float64) for r in refs]
    dist = np.asarray(dist, dtype=np.float64)
    if min(dist.shape) < MIN_SIZE:
        raise ValueError(f'VIF needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels (four '
                         f'scales of valid filtering), got {dist.shape[0]}x{dist.shape[1]}')
    sums = [(0.0, 0.0) for _ in refs]
    for scale, window in _scale_windows():
        if scale > 1:
            refs = [filter_valid(r, window)[::2, ::2] for r in refs]
            dist = filter_valid(dist, window)[::2, ::2]
        mu2 = filter_valid(dist, window)
        sigma2_sq = filter_valid(dist * dist, window)
        sigma2_sq -= mu2 * mu2
        textured2 = sigma2_sq >= _EPS
        for k, ref in enumerate(refs):
            num, den = _ref_log_sums(filter_valid(ref, window), filter_valid(ref * ref, window),
                                     filter_valid(ref * dist, window), mu2, sigma2_sq,
                                     textured2, sigma_nsq)
            sums[k] = (sums[k][0] + num, sums[k][1] + den)
    return sums


def vif_pixel(reference: np.ndarray, distorted: np.ndarray,
              sigma_nsq: float = VIF_SIGMA_NSQ) -> float:
    """Sheikh-Bovik pixel-domain VIF (``vifp_mscale``): sum of VID over all scales and pixels
    divided by the sum of VIND; 0..255 data, visual noise ``sigma_nsq = 2``.

    NaN when the reference has no texture at any scale (0/0, as in MATLAB).
    """
    ((num, den),) = _vif_log_sums([reference], distorted, sigma_nsq)
    return num / den if den > 0 else float('nan')


def vif(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray) -> float:
    """VIF of the fusion papers = vifp(A, F) + vifp(B, F): the **sum** over both sources of the
    pixel-domain VIF with each source as reference and F as the distorted image (what
    PSFusion, SeAFusion and the other fusion papers call VIF).  Not Han's VIFF (:func:`viff`).
    """
    return sum(num / den if den > 0 else float('nan')
               for num, den in _vif_log_sums([ir, vi], fused, VIF_SIGMA_NSQ))


def viff(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray) -> float:
    """Han et al.'s VIFF (Information Fusion 14(2), 2013; ``VIFF_Public.m``).

    The VIF maps above with visual noise s_n^2 = 0.005 * 255^2; per scale and pixel the source
    with the smaller gain g is kept (ties: the visible image B), the scale's fidelity is
    ``sum(VID + C) / sum(VIND + C)`` (C = 1e-7), and the scales are weighted
    (1, 0, 0.15, 1) / 2.15.  Grey images on 0..255 (Han's code converts colour to CIELAB L*;
    this package scores colour on luma instead).
    """
    total = 0.0
    weights = np.asarray(VIFF_SCALE_WEIGHTS) / sum(VIFF_SCALE_WEIGHTS)
    for weight, ((vid1, vind1, g1), (vid2, vind2, g2)) in zip(
            weights, _vif_maps([ir, vi], fused, VIFF_SIGMA_NSQ, keep_gain=True)):
        first = g1 < g2
        vid = np.where(first, vid1, vid2)
        vind = np.where(first, vind1, vind2)
        total += weight * float((vid + VIFF_C).sum()) / float((vind + VIFF_C).sum())
    return total
