"""ADF: anisotropic diffusion + Karhunen-Loeve fusion (Bavirisetti and Dhuli, "Fusion of
infrared and visible sensor images based on anisotropic diffusion and Karhunen-Loeve
transform", IEEE Sensors Journal 16(1), 2016), as VIFB's ``run_ADF.m`` / ``anisodiff2D.m`` run it.

Per pair of channels, on 8-bit values (0-255, no /255):

1. base ``A = anisodiff(I)``: Perona-Malik diffusion over 8 neighbours, 10 iterations,
   ``dt = 0.15``, ``kappa = 30``, conduction ``c(g) = exp(-(g / kappa)^2)``;
   ``I += dt * (sum of c * g over the 4 axial neighbours + 1/sqrt(2)^2 * the same over the 4
   diagonal ones)``, ``g`` = neighbour - centre, pixels outside the image are 0 (MATLAB's
   ``imfilter(..., 'conv')`` zero padding: the borders darken);
2. detail ``D = I - A``;
3. KL weights: the eigenvector of the larger eigenvalue of ``cov([D_ir(:), D_vi(:)])`` divided
   by its sum (``eig``'s ascending order: the second column unless the eigenvalues are equal);
4. ``F = p1 * D_ir + p2 * D_vi + (A_ir + A_vi) / 2``, then ``uint8`` (rounded, saturated).

The terms are added in MATLAB's order (N, S, W, E, NE, SE, SW, NW with the kernels flipped by
``'conv'``), so the diffusion is the MATLAB one to the last bit up to ``exp``'s rounding.  Each
neighbour difference is computed once per edge (the opposite direction is its negation, exactly).
A colour pair is fused channel by channel with per-channel KL weights; a grey infrared image is
diffused once and paired with every visible channel (``run_ADF.m``'s grey-IR branch, and the
same numbers as its 3-channel branch on VIFB's grey-stored-as-RGB infrared images).
"""
from __future__ import annotations

import numpy as np
import torch

from ..registry import FUSERS
from .classical import ClassicalFuser

__all__ = ['ADFFuser', 'anisodiff2d', 'kl_weights', 'adf_channels', 'NUM_ITER', 'DELTA_T',
           'KAPPA']

NUM_ITER = 10
DELTA_T = 0.15
KAPPA = 30.0
#: ``1 / dd^2`` with ``dd = sqrt(2)`` as MATLAB computes it (0.4999999999999999, not 0.5).
DIAGONAL_WEIGHT = 1.0 / (np.sqrt(2.0) ** 2)


def _flux(diff: torch.Tensor, kappa: float, weight: float = 1.0) -> torch.Tensor:
    """``c(g) * g`` with ``c(g) = exp(-(g / kappa)^2)`` (``weight * c(g)`` first for the
    diagonals, as MATLAB groups it), in place of ``diff``'s own copy."""
    conduction = torch.div(diff, kappa).square_().neg_().exp_()
    if weight != 1.0:
        conduction.mul_(weight)
    return conduction.mul_(diff)


def anisodiff2d(image: np.ndarray, num_iter: int = NUM_ITER, delta_t: float = DELTA_T,
                kappa: float = KAPPA) -> np.ndarray:
    """``anisodiff2D(im, num_iter, delta_t, kappa, 1)`` of each ``H x W`` image of a
    ``... x H x W`` float array (zero outside the image), in float64.

    Runs in torch on the CPU: its vectorised float64 ``exp`` is several times faster than
    numpy's (both within an ulp of the exact value)."""
    out = torch.tensor(np.asarray(image, np.float64))
    height, width = out.shape[-2:]
    padded = out.new_zeros(out.shape[:-2] + (height + 2, width + 2))
    rows, cols = slice(1, height + 1), slice(1, width + 1)
    for _ in range(num_iter):
        padded[..., rows, cols] = out
        # one flux per edge of the padded grid; the far pixel sees its negation
        vert = _flux(padded[..., 1:, cols] - padded[..., :-1, cols], kappa)      # (H+1) x W
        horiz = _flux(padded[..., rows, 1:] - padded[..., rows, :-1], kappa)     # H x (W+1)
        diag = _flux(padded[..., 1:, 1:] - padded[..., :-1, :-1], kappa,
                     DIAGONAL_WEIGHT)                                             # (H+1)x(W+1)
        anti = _flux(padded[..., 1:, :-1] - padded[..., :-1, 1:], kappa,
                     DIAGONAL_WEIGHT)                                             # (H+1)x(W+1)
        # MATLAB's order; 'conv' flips the kernels: hN looks one row down, hE one column left
        total = vert[..., 1:, :] - vert[..., :-1, :]                  # N (below), S (above)
        total += horiz[..., :, 1:]                                   # W (right)
        total -= horiz[..., :, :-1]                                  # E (left)
        total += anti[..., 1:, :-1]                                  # NE (below left)
        total -= diag[..., :-1, :-1]                                 # SE (above left)
        total -= anti[..., :-1, 1:]                                  # SW (above right)
        total += diag[..., 1:, 1:]                                   # NW (below right)
        total *= delta_t
        out += total
    return out.numpy()


def kl_weights(detail_ir: np.ndarray, detail_vi: np.ndarray) -> tuple[float, float]:
    """The KL-transform weights ``(p1, p2)`` of two detail images (see the module docstring)."""
    samples = np.stack([detail_ir.ravel(), detail_vi.ravel()], axis=1)
    centred = samples - samples.sum(axis=0) / samples.shape[0]
    cov = centred.T @ centred / max(samples.shape[0] - 1, 1)
    values, vectors = np.linalg.eigh(cov)  # ascending, as MATLAB's eig of a symmetric matrix
    vector = vectors[:, 0] if values[0] >= values[1] else vectors[:, 1]
    vector = vector / vector.sum()
    return float(vector[0]), float(vector[1])


def adf_channels(ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """ADF of ``ir`` (``1 x H x W`` or ``C x H x W``) with ``vi`` (``C x H x W``), 8-bit values
    as float: the fused ``C x H x W`` float64 before ``uint8``."""
    ir = np.asarray(ir, np.float64)
    vi = np.asarray(vi, np.float64)
    if ir.ndim != 3 or vi.ndim != 3 or ir.shape[0] not in (1, vi.shape[0]) \
            or ir.shape[1:] != vi.shape[1:]:
        raise ValueError(f'adf: expected ir 1 x H x W or C x H x W and vi C x H x W, got '
                         f'{ir.shape} and {vi.shape}')
    base_ir, base_vi = anisodiff2d(ir), anisodiff2d(vi)
    detail_ir, detail_vi = ir - base_ir, vi - base_vi
    fused = np.empty_like(vi)
    for c in range(vi.shape[0]):
        k = c if ir.shape[0] > 1 else 0
        p1, p2 = kl_weights(detail_ir[k], detail_vi[c])
        fused[c] = (p1 * detail_ir[k] + p2 * detail_vi[c]) \
            + (0.5 * base_ir[k] + 0.5 * base_vi[c])
    return fused


@FUSERS.register_module(name='adf')
class ADFFuser(ClassicalFuser):
    """ADF (anisotropic diffusion + KL transform; see the module docstring).

    Args:
        device: where the inputs arrive (the method runs on the CPU).
        colour: ``'y'`` (fuse the visible BT.601 luma, the benchmark default) or ``'rgb'``
            (each visible channel with the infrared image, VIFB's way).
    """

    name = 'adf'
    geometry = 'any size; pixels outside the image count as 0 in the diffusion (as the original)'
    rgb_rule = ('each visible channel fused with the infrared image, own KL weights per '
                'channel (VIFB run_ADF.m), uint8 rounded as MATLAB')
    note = 'not a network: no parameters; 10 diffusion steps (multiply-adds not counted)'

    def settings(self) -> dict:
        return dict(num_iter=NUM_ITER, delta_t=DELTA_T, kappa=KAPPA, conduction='exp')

    def describe(self) -> dict:
        return dict(reference='Bavirisetti and Dhuli, IEEE Sensors J. 2016; as VIFB run_ADF.m '
                              'runs it')

    def fuse_arrays(self, ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
        return adf_channels(ir, vi)
