"""GTF: Gradient Transfer Fusion (Ma, Chen, Li, Huang, "Infrared and visible image fusion via
gradient transfer and total variation minimization", Information Fusion 31, 2016), as VIFB's
``run_GTF.m`` runs it with NUMIPAD's ``irntv`` (IRN l1-TV solver).

With ``I``, ``V`` the images / 255 and ``S = I - V``, the fused image is ``X = U + V`` where

    U = argmin ||U - S||_1 + lambda * TV(U),   lambda = 4

(TV: isotropic, and for a colour pair the *vector* TV whose per-pixel magnitude sums the squared
gradients of all channels), written ``im2uint8(X)``.  ``irntv`` minimises it by iteratively
reweighted norms, substitution variant, with the settings ``run_GTF.m`` passes:

* ``U0 = S``; 5 outer loops.  In loop ``k``:
  - fidelity weights ``WF = sqrt(1/2) * sqrt(max(|U - S|, epsF))`` per channel, except in the
    first loop where ``U = S`` exactly and NUMIPAD uses the constant ``2 * 0.1^0.5``;
  - regularisation weights ``WR = 2 / sqrt(max(g, epsR))``, ``g = sum_c (Dx U_c)^2 +
    (Dy U_c)^2``, shared by the channels;
  - ``epsF``, ``epsR`` adapt: MATLAB ``hist`` of ``|U - S|`` (resp. ``g``) over 1000 bin centres
    ``min:(max-min)/999:max`` (MATLAB's colon: the upper half counted back from ``max``), bins
    right-closed at the midpoints; ``epsF`` is the centre *after* the first one whose cumulative
    fraction exceeds 5 %, ``epsR`` the one at 1 % (the next one if it is 0);
  - solve ``(I + lambda WF (Dx' WR Dx + Dy' WR Dy) WF) v = s / WF`` by conjugate gradients
    (MATLAB ``pcg``: no preconditioner, warm start ``u / WF``, at most 500 iterations, tolerance
    the current relative residual / 5, convergence checked on the true residual), one solve over
    all channels; ``u = WF v``; stop when ``pcg`` takes 0 iterations.  In the first loop that
    tolerance is above 1 and MATLAB's ``pcg`` clamps it to ``1 - eps`` (with a warning): without
    the clamp the first solve stops two iterations early and the output moves by up to ~50
    levels.
* ``Dx``, ``Dy``: forward differences along columns / rows with a zero last column / row; their
  transposes are the exact adjoints (NUMIPAD's ``DxT``, ``DyT``).

Everything runs in float64 (torch on the CPU: the solver is a few hundred matrix-free operator
applications).  The solver is sensitive to the last bit: a histogram cut-off or ``pcg``'s
stopping test can turn a rounding difference into another weight or one more iteration, and a
pixel moves by a few levels.  Sums are therefore taken in numpy's single-threaded ``einsum``
loop, so the result does not depend on the thread count.  Where NUMIPAD would fail (all values
equal, so ``hist`` gets no bins), the fixed defaults of ``irntvInputPars`` are used:
``epsF = 1e-2``, ``epsR = 1e-4``.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import numpy as np
import torch

from ..registry import FUSERS
from .classical import ClassicalFuser

__all__ = ['GTFFuser', 'gtf_channels', 'l1tv_irn', 'pcg', 'dx', 'dy', 'dxt', 'dyt',
           'hist_cutoff', 'fidelity_weights', 'regularisation_weights', 'PCGResult',
           'LAMBDA', 'LOOPS']

LAMBDA = 4.0
LOOPS = 5
PCG_MAXIT = 500
#: Relative-residual scaling of the adaptive PCG tolerance (``irntvInputPars``' ``rrs``).
RRS = 5.0
EPSF_CUTOFF = 0.05
EPSR_CUTOFF = 0.01
#: ``irntvInputPars``' fixed epsilons, used only where the adaptive ones are undefined.
EPSF_FIXED = 1e-2
EPSR_FIXED = 1e-4
#: NUMIPAD's first-loop fidelity weight for p = 1: ``(2 / p) * 0.1^((2 - p) / 2)``.
FIRST_WF = 2.0 * 0.1 ** 0.5
NUM_BINS = 1000


# --- difference operators on ... x H x W tensors ------------------------------------------

def dx(u: torch.Tensor) -> torch.Tensor:
    """Forward difference along the columns, last column 0 (NUMIPAD ``Dx``)."""
    out = torch.zeros_like(u)
    torch.sub(u[..., :, 1:], u[..., :, :-1], out=out[..., :, :-1])
    return out


def dy(u: torch.Tensor) -> torch.Tensor:
    """Forward difference along the rows, last row 0 (NUMIPAD ``Dy``)."""
    out = torch.zeros_like(u)
    torch.sub(u[..., 1:, :], u[..., :-1, :], out=out[..., :-1, :])
    return out


def dyt(v: torch.Tensor) -> torch.Tensor:
    """The adjoint of :func:`dy`: rows ``[-v0; v[i-1] - v[i]; v[H-2]]`` (NUMIPAD ``DyT``)."""
    out = torch.zeros_like(v)
    if v.shape[-2] < 2:  # Dy is the zero map
        return out
    torch.neg(v[..., 0, :], out=out[..., 0, :])
    torch.sub(v[..., :-2, :], v[..., 1:-1, :], out=out[..., 1:-1, :])
    out[..., -1, :] = v[..., -2, :]
    return out


def dxt(v: torch.Tensor) -> torch.Tensor:
    """The adjoint of :func:`dx` (NUMIPAD ``DxT``)."""
    return dyt(v.transpose(-1, -2)).transpose(-1, -2)


# --- adaptive weights -------------------------------------------------------------------

def _colon_centres(low: float, high: float, num: int = NUM_BINS) -> np.ndarray:
    """MATLAB ``low:(high-low)/(num-1):high``: the first half counted up from ``low``, the
    second half down from ``high``."""
    step = (high - low) / (num - 1)
    k = np.arange(num, dtype=np.float64)
    n = num - 1
    return np.where(k <= n / 2, low + k * step, high - (n - k) * step)


def hist_cutoff(values: torch.Tensor, fraction: float) -> Optional[tuple[np.ndarray, int]]:
    """``[h, bin] = hist(values(:), min:(max-min)/999:max)``; returns ``(bin, pos)`` with
    ``pos`` the 0-based index of the first bin whose cumulative fraction ``cumsum(h) / N``
    exceeds ``fraction``, or None where all values are equal (MATLAB gets no bins there).

    MATLAB's ``hist`` bins are right-closed at the midpoints ``c_k + (c_{k+1} - c_k) / 2``
    (it shifts its edges by ``eps`` to turn ``histc``'s ``[ )`` into ``( ]``), so the
    cumulative count of bin ``k`` is the number of values ``<= mid_k``, and ``pos`` is the bin
    of the ``K``-th smallest value, ``K`` the least count with ``K / N > fraction``: one
    partial sort instead of a full histogram.
    """
    flat = values.reshape(-1).numpy()
    low, high = float(flat.min()), float(flat.max())
    if not high > low:
        return None
    centres = _colon_centres(low, high)
    mids = centres[:-1] + np.diff(centres) / 2
    total = flat.size
    k = max(int(fraction * total) - 1, 1)
    while k < total and not k / total > fraction:
        k += 1
    kth = np.partition(flat, k - 1)[k - 1]
    return centres, int(np.searchsorted(mids, kth, side='left'))


def fidelity_weights(residual: torch.Tensor, cutoff: float = EPSF_CUTOFF) -> torch.Tensor:
    """NUMIPAD ``fF_adapt_substitute`` for p = 1: ``sqrt(1/2) * sqrt(max(|r|, epsF))``,
    ``epsF`` the bin centre after the ``cutoff`` one."""
    absr = residual.abs()
    found = hist_cutoff(absr, cutoff)
    if found is None:
        eps = EPSF_FIXED
    else:
        centres, pos = found
        eps = float(centres[min(pos + 1, len(centres) - 1)])
    return math.sqrt(0.5) * torch.clamp(absr, min=eps).sqrt_()


def gradient_energy(u: torch.Tensor) -> torch.Tensor:
    """``g = sum_c (Dx u_c)^2 + (Dy u_c)^2`` of a ``C x H x W`` tensor, ``H x W``."""
    total = None
    for channel in u:
        gx, gy = dx(channel), dy(channel)
        term = gx.square_() if total is None else total + gx.square_()
        total = term + gy.square_()
    return total


def regularisation_weights(u: torch.Tensor, cutoff: float = EPSR_CUTOFF) -> torch.Tensor:
    """NUMIPAD ``fR_adapt`` for q = 1: ``2 / sqrt(max(g, epsR))``, ``H x W`` (vector TV:
    shared by the channels)."""
    energy = gradient_energy(u).abs_()
    found = hist_cutoff(energy, cutoff)
    if found is None:
        eps = EPSR_FIXED
    else:
        centres, pos = found
        eps = float(centres[pos]) if centres[pos] > 0 else float(centres[pos + 1])
    return 2.0 / torch.clamp(energy, min=eps).sqrt_()


# --- MATLAB's pcg -------------------------------------------------------------------------

class PCGResult(NamedTuple):
    x: torch.Tensor
    flag: int
    iterations: int
    relres: float


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """``a' * b`` in numpy's own single-threaded loop (``einsum``, no BLAS): the same bits
    whatever the thread count (torch's and BLAS's reductions split the sum by thread, and
    IRN's histogram cut-offs can turn a last-bit difference into a different weight)."""
    return float(np.einsum('i,i->', a.reshape(-1).numpy(), b.reshape(-1).numpy()))


def _norm(x: torch.Tensor) -> float:
    return math.sqrt(_dot(x, x))


def pcg(apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, tol: float,
        maxit: int, x0: torch.Tensor) -> PCGResult:
    """MATLAB ``[x, flag, relres, iter] = pcg(A, b, tol, maxit, [], [], x0)`` for a symmetric
    positive definite matrix-free ``apply``: the same iteration and stopping rules (``tol``
    clamped to ``[eps, 1 - eps]``; converged when the updated residual and then the recomputed
    true residual are <= ``tol * |b|``;
    0 iterations when ``x0`` already satisfies it; stagnation and breakdown flags; on failure
    the iterate of least residual)."""
    eps = np.finfo(np.float64).eps
    if tol <= eps:  # MATLAB warns 'tooSmallTolerance' and uses eps
        tol = eps
    elif tol >= 1:  # ... 'tooBigTolerance' and uses 1 - eps: IRN's first loop asks for ~1.3
        tol = 1 - eps
    n2b = _norm(b)
    if n2b == 0:
        return PCGResult(torch.zeros_like(b), 0, 0, 0.0)
    x = x0.clone()
    tolb = tol * n2b
    r = b - apply(x)
    normr = normr_act = _norm(r)
    if normr <= tolb:
        return PCGResult(x, 0, 0, normr / n2b)
    flag, xmin, imin, normrmin = 1, x.clone(), 0, normr
    rho, stag, moresteps = 1.0, 0, 0
    maxmsteps = min(b.numel() // 50, 5, b.numel() - maxit)
    maxstagsteps = 3
    p = None
    ii = 0
    for ii in range(1, maxit + 1):
        rho1, rho = rho, _dot(r, r)
        if rho == 0 or math.isinf(rho):
            flag = 4
            break
        if ii == 1:
            p = r.clone()
        else:
            beta = rho / rho1
            if beta == 0 or math.isinf(beta):
                flag = 4
                break
            p.mul_(beta).add_(r)
        q = apply(p)
        pq = _dot(p, q)
        if pq <= 0 or math.isinf(pq):
            flag = 4
            break
        alpha = rho / pq
        if math.isinf(alpha):
            flag = 4
            break
        stag = stag + 1 if _norm(p) * abs(alpha) < eps * _norm(x) else 0
        x.add_(p, alpha=alpha)   # fused multiply-adds, see _Operator
        r.sub_(q, alpha=alpha)
        normr = normr_act = _norm(r)
        if normr <= tolb or stag >= maxstagsteps or moresteps:
            r = b - apply(x)
            normr_act = _norm(r)
            if normr_act <= tolb:
                flag = 0
                break
            if stag >= maxstagsteps and moresteps == 0:
                stag = 0
            moresteps += 1
            if moresteps >= maxmsteps:
                flag = 3
                break
        if normr_act < normrmin:
            normrmin, xmin, imin = normr_act, x.clone(), ii
        if stag >= maxstagsteps:
            flag = 3
            break
    if flag == 0:
        return PCGResult(x, 0, ii, normr_act / n2b)
    r_comp = _norm(b - apply(xmin))
    if r_comp <= normr_act:
        return PCGResult(xmin, flag, imin, r_comp / n2b)
    return PCGResult(x, flag, ii, normr_act / n2b)


# --- the IRN l1-TV solver -----------------------------------------------------------------

class _Operator:
    """``v -> v + lam WF Dx' WR Dx (WF v) + lam WF Dy' WR Dy (WF v)`` (NUMIPAD ``IWDTWDW``,
    the terms added in its order) on ``C x H x W`` tensors, with work buffers reused across
    the solver's calls.  ``Dx w`` has a zero last column, so ``Dx'`` of it is the backward
    difference with a zero column before the first one (likewise for rows).

    The weighted terms are added with fused multiply-adds (``addcmul``), as the solver's
    updates (``axpy``-style ``add_(p, alpha=...)``): with them the 21 VIFB images come out
    bit-identical to MATLAB's after JPEG, with separately rounded products 20 of 21 (IRN is that
    sensitive to the last bit, see the module docstring).  Both forms give the same bits for any
    thread count."""

    def __init__(self, wf: torch.Tensor, wr: torch.Tensor, lam: float) -> None:
        self.wf, self.wr, self.lam_wf = wf, wr, lam * wf
        self.w, self.gx, self.gy, self.div = (torch.empty_like(wf) for _ in range(4))

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        w, gx, gy, t = self.w, self.gx, self.gy, self.div
        torch.mul(self.wf, v, out=w)
        torch.sub(w[..., :, 1:], w[..., :, :-1], out=gx[..., :, :-1])
        gx[..., :, -1] = 0
        gx.mul_(self.wr)
        torch.sub(w[..., 1:, :], w[..., :-1, :], out=gy[..., :-1, :])
        gy[..., -1, :] = 0
        gy.mul_(self.wr)
        # out = (v + lam WF Dx' gx) + lam WF Dy' gy
        torch.neg(gx[..., :, 0], out=t[..., :, 0])
        torch.sub(gx[..., :, :-1], gx[..., :, 1:], out=t[..., :, 1:])
        out = torch.addcmul(v, self.lam_wf, t)
        torch.neg(gy[..., 0, :], out=t[..., 0, :])
        torch.sub(gy[..., :-1, :], gy[..., 1:, :], out=t[..., 1:, :])
        return out.addcmul_(self.lam_wf, t)


def l1tv_irn(s: torch.Tensor, lam: float = LAMBDA, loops: int = LOOPS,
             stats: Optional[list] = None) -> torch.Tensor:
    """``irntv(S, {}, lam, pars)`` as ``run_GTF.m`` sets it (see the module docstring) for a
    ``C x H x W`` float64 ``s``; ``stats`` (a list) receives one ``(loop, pcg iterations,
    flag, relres before)`` per loop."""
    if s.ndim != 3:
        raise ValueError(f'l1tv_irn: expected C x H x W, got {tuple(s.shape)}')
    height, width = s.shape[-2:]
    u = s.clone()
    for k in range(1, loops + 1):
        if k == 1 and float(np.sum(np.abs((u - s).numpy()))) < 0.05 / (height * width):
            wf = torch.full_like(s, FIRST_WF)
        else:
            wf = fidelity_weights(u - s)
        wr = regularisation_weights(u)
        apply = _Operator(wf, wr, lam)
        b = s / wf
        v = u / wf
        nb = _norm(b)
        relres = _norm(apply(v) - b) / nb if nb > 0 else math.nan
        result = pcg(apply, b, relres / RRS, PCG_MAXIT, v)
        u = wf * result.x
        if stats is not None:
            stats.append((k, result.iterations, result.flag, relres))
        if result.iterations == 0:
            break
    return u


def gtf_channels(ir: np.ndarray, vi: np.ndarray, stats: Optional[list] = None) -> np.ndarray:
    """GTF of ``ir`` (``1 x H x W`` or ``C x H x W``) with ``vi`` (``C x H x W``), 8-bit values
    as float: ``(U + V) * 255`` (``C x H x W`` float64, before ``im2uint8``); a grey infrared
    image is subtracted from every visible channel (MATLAB's implicit expansion)."""
    ir = torch.as_tensor(np.asarray(ir, np.float64))
    vi = torch.as_tensor(np.asarray(vi, np.float64))
    if ir.ndim != 3 or vi.ndim != 3 or ir.shape[0] not in (1, vi.shape[0]) \
            or ir.shape[1:] != vi.shape[1:]:
        raise ValueError(f'gtf: expected ir 1 x H x W or C x H x W and vi C x H x W, got '
                         f'{tuple(ir.shape)} and {tuple(vi.shape)}')
    i, v = ir / 255, vi / 255
    u = l1tv_irn((i - v).contiguous(), stats=stats)
    return ((u + v) * 255).numpy()


@FUSERS.register_module(name='gtf')
class GTFFuser(ClassicalFuser):
    """GTF (gradient transfer + l1-TV; see the module docstring).

    Args:
        device: where the inputs arrive (the solver runs on the CPU).
        colour: ``'y'`` (fuse the visible BT.601 luma, the benchmark default) or ``'rgb'``
            (vector TV over the 3 visible channels minus the infrared image in one solve,
            VIFB's way).
    """

    name = 'gtf'
    geometry = 'any size; forward differences with a zero last row and column (NUMIPAD)'
    rgb_rule = ('infrared - each visible channel, one vector-TV solve over the 3 channels '
                '(VIFB run_GTF.m), im2uint8 as MATLAB')
    note = ('not a network: no parameters; iterative (5 IRN loops of conjugate gradients), '
            'multiply-adds not counted')

    def settings(self) -> dict:
        return dict(lam=LAMBDA, loops=LOOPS, pcg_maxit=PCG_MAXIT, rrs=RRS,
                    epsF_cutoff=EPSF_CUTOFF, epsR_cutoff=EPSR_CUTOFF)

    def describe(self) -> dict:
        return dict(reference='Ma, Chen, Li, Huang, Information Fusion 2016; as VIFB run_GTF.m '
                              'runs it (NUMIPAD irntv, l1-TV)')

    def fuse_arrays(self, ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
        return gtf_channels(ir, vi)
