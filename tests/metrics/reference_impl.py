"""Slow, literal transcriptions of the MATLAB reference code, for equality tests only.

Written from the published formulas (``vifp_mscale.m``, ``VIFF_Public.m``, the Xydeas-Petrovic
Qabf as VIFB runs it): 2-D ``filter2``/``conv2`` via scipy, no shortcuts, so that the fast
package code can be checked against them on small images.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import convolve2d

from psfusion.metrics._filters import fspecial_gaussian


def filter2_valid(window: np.ndarray, image: np.ndarray) -> np.ndarray:
    return convolve2d(image, np.rot90(window, 2), mode='valid')


def vif_maps(ref: np.ndarray, dist: np.ndarray, sigma_nsq: float):
    ref = ref.astype(np.float64)
    dist = dist.astype(np.float64)
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = fspecial_gaussian(n, n / 5)
        if scale > 1:
            ref = filter2_valid(win, ref)[::2, ::2]
            dist = filter2_valid(win, dist)[::2, ::2]
        mu1, mu2 = filter2_valid(win, ref), filter2_valid(win, dist)
        sigma1_sq = filter2_valid(win, ref * ref) - mu1 * mu1
        sigma2_sq = filter2_valid(win, dist * dist) - mu2 * mu2
        sigma12 = filter2_valid(win, ref * dist) - mu1 * mu2
        sigma1_sq[sigma1_sq < 0] = 0
        sigma2_sq[sigma2_sq < 0] = 0
        g = sigma12 / (sigma1_sq + 1e-10)
        sv_sq = sigma2_sq - g * sigma12
        m = sigma1_sq < 1e-10
        g[m] = 0
        sv_sq[m] = sigma2_sq[m]
        sigma1_sq[m] = 0
        m = sigma2_sq < 1e-10
        g[m] = 0
        sv_sq[m] = 0
        m = g < 0
        sv_sq[m] = sigma2_sq[m]
        g[m] = 0
        sv_sq[sv_sq <= 1e-10] = 1e-10
        vid = np.log10(1 + g ** 2 * sigma1_sq / (sv_sq + sigma_nsq))
        vind = np.log10(1 + sigma1_sq / sigma_nsq)
        yield vid, vind, g


def vifp_mscale(ref: np.ndarray, dist: np.ndarray) -> float:
    num = den = 0.0
    for vid, vind, _ in vif_maps(ref, dist, 2.0):
        num += vid.sum()
        den += vind.sum()
    return num / den


def viff_public(im1: np.ndarray, im2: np.ndarray, imf: np.ndarray) -> float:
    p = np.array([1, 0, 0.15, 1]) / 2.15
    sq = 0.005 * 255 * 255
    f = []
    for (z1, m1, g1), (z2, m2, g2) in zip(vif_maps(im1, imf, sq), vif_maps(im2, imf, sq)):
        first = g1 < g2
        z12 = z2.copy()
        z12[first] = z1[first]
        m12 = m2.copy()
        m12[first] = m1[first]
        f.append((z12 + 1e-7).sum() / (m12 + 1e-7).sum())
    return float((np.array(f) * p).sum())


def qabf_vifb(pa: np.ndarray, pb: np.ndarray, pf: np.ndarray) -> float:
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)

    def edges(x):
        x = x.astype(np.float64)
        sx, sy = convolve2d(x, h3, 'same'), convolve2d(x, h1, 'same')
        g = np.sqrt(sx ** 2 + sy ** 2)
        a = np.empty_like(g)
        for idx in np.ndindex(g.shape):
            a[idx] = math.pi / 2 if sx[idx] == 0 else math.atan(sy[idx] / sx[idx])
        return g, a

    (ga, aa), (gb, ab), (gf, af) = edges(pa), edges(pb), edges(pf)

    def q(gx, ax):
        out = np.empty_like(gx)
        for idx in np.ndindex(gx.shape):
            if gx[idx] > gf[idx]:
                rel = gf[idx] / gx[idx]
            elif gx[idx] == gf[idx]:
                rel = gf[idx]
            else:
                rel = gx[idx] / gf[idx]
            ori = 1 - abs(ax[idx] - af[idx]) / (math.pi / 2)
            out[idx] = (0.9994 / (1 + math.exp(-15 * (rel - 0.5))) *
                        0.9879 / (1 + math.exp(-22 * (ori - 0.8))))
        return out

    return float((q(ga, aa) * ga + q(gb, ab) * gb).sum() / (ga + gb).sum())


def nabf_kumar(f: np.ndarray, i1: np.ndarray, i2: np.ndarray) -> float:
    """``objective_fusion_perform_fn`` (Shreyamsha Kumar), its modified NABF output."""
    vtemp = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float) / 8
    htemp = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float) / 8

    def sobel(x):
        x = x.astype(np.float64)
        p, q = x.shape
        ext = np.zeros((p + 2, q + 2))
        ext[1:p + 1, 1:q + 1] = x
        ext[0, :] = ext[2, :]                 # "periodic" extension = mirror, edge not repeated
        ext[p + 1, :] = ext[p - 1, :]
        ext[:, 0] = ext[:, 2]
        ext[:, q + 1] = ext[:, q - 1]
        gv, gh = np.zeros((p, q)), np.zeros((p, q))
        for ii in range(1, p + 1):
            for jj in range(1, q + 1):
                block = ext[ii - 1:ii + 2, jj - 1:jj + 2]
                gv[ii - 1, jj - 1] = (block * vtemp).sum()
                gh[ii - 1, jj - 1] = (block * htemp).sum()
        return gv, gh

    (gva, gha), (gvb, ghb), (gvf, ghf) = sobel(i1), sobel(i2), sobel(f)
    ga, gb, gf = np.hypot(gha, gva), np.hypot(ghb, gvb), np.hypot(ghf, gvf)
    p, q = f.shape
    gaf, gbf = np.zeros((p, q)), np.zeros((p, q))
    aa, ab, af = np.zeros((p, q)), np.zeros((p, q)), np.zeros((p, q))
    for ii in range(p):
        for jj in range(q):
            for gx, out in ((ga, gaf), (gb, gbf)):
                if gx[ii, jj] == 0 or gf[ii, jj] == 0:
                    out[ii, jj] = 0
                elif gx[ii, jj] > gf[ii, jj]:
                    out[ii, jj] = gf[ii, jj] / gx[ii, jj]
                else:
                    out[ii, jj] = gx[ii, jj] / gf[ii, jj]
            for gv, gh, out in ((gva, gha, aa), (gvb, ghb, ab), (gvf, ghf, af)):
                if gv[ii, jj] == 0 and gh[ii, jj] == 0:
                    out[ii, jj] = 0
                elif gh[ii, jj] == 0:
                    out[ii, jj] = math.copysign(math.pi / 2, gv[ii, jj])
                else:
                    out[ii, jj] = math.atan(gv[ii, jj] / gh[ii, jj])
    aaf = np.abs(np.abs(aa - af) - math.pi / 2) * 2 / math.pi
    abf = np.abs(np.abs(ab - af) - math.pi / 2) * 2 / math.pi
    def preservation(g, a):
        return np.sqrt(0.9999 / (1 + np.exp(-19 * (g - 0.5))) *
                       0.9995 / (1 + np.exp(-22 * (a - 0.5))))

    qaf, qbf = preservation(gaf, aaf), preservation(gbf, abf)
    wta = np.where(ga >= 2, ga ** 1.5, 0.001)
    wtb = np.where(gb >= 2, gb ** 1.5, 0.001)
    na = ((gf > ga) & (gf > gb)).astype(float)
    return float((na * ((1 - qaf) * wta + (1 - qbf) * wtb)).sum() / (wta + wtb).sum())
