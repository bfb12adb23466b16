"""Edge-preservation metrics: Xydeas-Petrovic Qabf and Shreyamsha Kumar's modified Nabf.

Both compare Sobel edge strength g and orientation alpha of each source X (A = infrared,
B = visible) with those of the fused image F, per pixel, on the 0..255 scale.  No library
implements these conventions (kornia's Sobel is normalised and reflect-padded; skimage has
neither metric), so the code is ours, vectorised.
"""
from __future__ import annotations

import math

import numpy as np

from ._filters import filter_same_reflect101, filter_same_zero

# Xydeas-Petrovic constants as used by VIFB and most fusion papers.
QABF_TG, QABF_KG, QABF_DG = 0.9994, -15.0, 0.5
QABF_TA, QABF_KA, QABF_DA = 0.9879, -22.0, 0.8
_SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)

# Shreyamsha Kumar's objective_fusion_perform_fn constants.
NABF_TD, NABF_WT_MIN, NABF_LG = 2.0, 0.001, 1.5
NABF_NRG, NABF_KG, NABF_SIGMAG = 0.9999, 19.0, 0.5
NABF_NRA, NABF_KA, NABF_SIGMAA = 0.9995, 22.0, 0.5


def _qabf_edges(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strength sqrt(Sx^2 + Sy^2) and angle atan(Sy / Sx) (pi/2 where Sx = 0)."""
    x = np.asarray(image, dtype=np.float64)
    sx = filter_same_zero(x, _SOBEL_X)
    sy = filter_same_zero(x, _SOBEL_Y)
    strength = np.sqrt(sx * sx + sy * sy)
    zero = sx == 0
    angle = np.arctan(sy / np.where(zero, 1.0, sx))
    angle[zero] = math.pi / 2
    return strength, angle


def _qabf_preservation(g_x: np.ndarray, a_x: np.ndarray, g_f: np.ndarray,
                       a_f: np.ndarray) -> np.ndarray:
    with np.errstate(divide='ignore', invalid='ignore'):
        relative = np.where(g_x > g_f, g_f / g_x, np.where(g_x == g_f, g_f, g_x / g_f))
    orientation = 1.0 - np.abs(a_x - a_f) / (math.pi / 2)
    q_g = QABF_TG / (1.0 + np.exp(QABF_KG * (relative - QABF_DG)))
    q_a = QABF_TA / (1.0 + np.exp(QABF_KA * (orientation - QABF_DA)))
    return q_g * q_a


def qabf(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray) -> float:
    """Qabf = sum(Q^AF g_A + Q^BF g_B) / sum(g_A + g_B) (Xydeas & Petrovic 2000).

    Sobel responses by ``conv2(x, h, 'same')`` (zero padding); strength g = sqrt(Sx^2 + Sy^2),
    orientation alpha = atan(Sy / Sx) (pi/2 where Sx = 0).  Relative strength
    G = g_F / g_X if g_X > g_F, g_X / g_F if g_X < g_F, and -- the common quirk kept from the
    reference code -- G = g_F when g_X == g_F; relative orientation A = 1 - |alpha_X - alpha_F|
    / (pi/2).  Q^XF = Tg / (1 + exp(kg (G - Dg))) * Ta / (1 + exp(ka (A - Da))) with
    Tg 0.9994, kg -15, Dg 0.5, Ta 0.9879, ka -22, Da 0.8.  Higher is better, at most ~1.
    """
    g_f, a_f = _qabf_edges(fused)
    g_a, a_a = _qabf_edges(ir)
    g_b, a_b = _qabf_edges(vi)
    q_af = _qabf_preservation(g_a, a_a, g_f, a_f)
    q_bf = _qabf_preservation(g_b, a_b, g_f, a_f)
    den = float((g_a + g_b).sum())
    return float((q_af * g_a + q_bf * g_b).sum()) / den if den > 0 else float('nan')


_KUMAR_SOBEL_V = _SOBEL_X / 8.0
_KUMAR_SOBEL_H = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64) / 8.0


def _nabf_edges(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(image, dtype=np.float64)
    gv = filter_same_reflect101(x, _KUMAR_SOBEL_V)
    gh = filter_same_reflect101(x, _KUMAR_SOBEL_H)
    strength = np.sqrt(gh * gh + gv * gv)
    with np.errstate(divide='ignore', invalid='ignore'):
        angle = np.arctan(gv / gh)  # +-pi/2 where gh = 0
    angle[(gv == 0) & (gh == 0)] = 0.0
    return strength, angle


def _nabf_preservation(g_x: np.ndarray, a_x: np.ndarray, g_f: np.ndarray,
                       a_f: np.ndarray) -> np.ndarray:
    with np.errstate(divide='ignore', invalid='ignore'):
        relative = np.where((g_x == 0) | (g_f == 0), 0.0,
                            np.where(g_x > g_f, g_f / g_x, g_x / g_f))
    orientation = np.abs(np.abs(a_x - a_f) - math.pi / 2) * 2 / math.pi
    q_g = NABF_NRG / (1.0 + np.exp(-NABF_KG * (relative - NABF_SIGMAG)))
    q_a = NABF_NRA / (1.0 + np.exp(-NABF_KA * (orientation - NABF_SIGMAA)))
    return np.sqrt(q_g * q_a)


def nabf(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray) -> float:
    """Modified Nabf (Shreyamsha Kumar 2013): the share of fusion artifacts, lower is better.

    Sobel/8 responses with mirrored borders (the reference's "periodic" extension repeats no
    edge pixel); g = sqrt(gh^2 + gv^2), alpha = atan(gv / gh) (0 where both are 0).  Relative
    strength G = min(g_X, g_F) / max(g_X, g_F) (0 where either is 0); relative orientation
    A = | |alpha_X - alpha_F| - pi/2 | * 2/pi.  Q^XF = sqrt(Qg Qa) with
    Qg = 0.9999 / (1 + exp(-19 (G - 0.5))), Qa = 0.9995 / (1 + exp(-22 (A - 0.5))).  Weights
    w_X = g_X^1.5 where g_X >= 2, else 0.001.  Artifacts are counted where g_F > g_A and
    g_F > g_B:  Nabf = sum(N * ((1 - Q^AF) w_A + (1 - Q^BF) w_B)) / sum(w_A + w_B).
    """
    g_f, a_f = _nabf_edges(fused)
    g_a, a_a = _nabf_edges(ir)
    g_b, a_b = _nabf_edges(vi)
    q_af = _nabf_preservation(g_a, a_a, g_f, a_f)
    q_bf = _nabf_preservation(g_b, a_b, g_f, a_f)
    w_a = np.where(g_a >= NABF_TD, g_a ** NABF_LG, NABF_WT_MIN)
    w_b = np.where(g_b >= NABF_TD, g_b ** NABF_LG, NABF_WT_MIN)
    artifacts = (g_f > g_a) & (g_f > g_b)
    num = float((artifacts * ((1.0 - q_af) * w_a + (1.0 - q_bf) * w_b)).sum())
    return num / float((w_a + w_b).sum())
