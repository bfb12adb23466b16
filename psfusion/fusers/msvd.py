"""MSVD: image fusion with a one-level multi-resolution singular value decomposition (Naidu,
Defence Science Journal 61(5), 2011), as VIFB runs the author's MATLAB code
(``methods/MSVD/{run_MSVD,MSVD,IMSVD}.m``; facts in ``../shared/spec/TABLE1_METHODS.md``,
section MSVD).

For each plane ``x`` (even size): its 2 x 2 blocks, each read column-major
``[x(0,0), x(1,0), x(0,1), x(1,1)]``, are the columns of ``A`` (``4 x HW/4``, blocks in
column-major order); ``[U, ~] = svd(A)``, ``T = U' A`` (rows LL, LH, HL, HH by descending
singular value).  Fusion: ``LL`` = mean of the two, each detail band takes the coefficient of
larger magnitude (ties: infrared), ``U = (U_ir + U_vi) / 2``, and ``x = U T`` goes back into
the blocks; output ``im2uint8`` (clip to [0, 1]).

**Singular-vector signs.**  Averaging ``U_ir`` and ``U_vi`` makes the result depend on the
sign LAPACK gives each singular vector: a detail column whose two signs disagree nearly cancels
in the average, which blurs that band.  The code does not say which signs MATLAB got; measured
on VIFB's 21 pairs (63 channels; for each, the relative sign pattern that reproduces MATLAB's
output, found by trying all 16): the left singular vectors of ``A`` as LAPACK computes them
(numpy's ``svd(A)``; also MKL 2018, 2019 and 2024 ``dgesvd``/``dgesdd`` on ``A``) match 6 to 9
channels; the right singular vectors of the tall ``A'`` match 42 with numpy's LAPACK (OpenBLAS)
and 52 with MKL 2018/2019 ``dgesdd``.  So MATLAB evidently decomposes a wide matrix through its
transpose, and its MKL build picks other signs in some channels (MKL versions differ among
themselves).  :func:`msvd_basis` takes ``V`` of ``A'`` through the QR factor ``R`` of ``A'``
(``svd(R)``: LAPACK's own path for a tall matrix, and fast): mean PSNR against VIFB's MATLAB
images 37.7 dB, against 32.1 dB with ``svd(A)``.

Colour (``colour=``):

* ``'y'`` (default, the benchmark's rule): the infrared image is fused with the visible BT.601
  luma; the writer adds the visible Cb/Cr.
* ``'rgb'`` (VIFB's way): per channel, infrared channel ``c`` with visible channel ``c``; a grey
  infrared image is paired with every visible channel, as VIFB does (three-channel infrared
  input is accepted: VIFB's infrared JPEGs are mostly stored as RGB); output uint8 RGB
  (MATLAB's ``im2uint8``).

Odd sizes: ``run_MSVD.m`` ``imresize``-s each plane to the next even size (bicubic), and its
colour branch then cannot store the larger result in the image-sized output (an error: no MATLAB
reference exists for odd sizes); here each plane is padded by repeating its last row and/or
column and the result is cropped back, so no pixel is resampled.  ``params`` and ``macs`` are
0: not a network.
"""
from __future__ import annotations

import numpy as np

from ..registry import FUSERS
from .classical import ClassicalFuser

__all__ = ['MSVDFuser', 'msvd_blocks', 'msvd_unblocks', 'msvd_basis', 'msvd_fuse_plane']


def msvd_blocks(x: np.ndarray) -> np.ndarray:
    """An even-sized ``H x W`` plane -> ``A`` (``4 x (H/2 * W/2)``): column ``i + j * H/2``
    is block ``(i, j)`` read column-major, as ``MSVD.m`` builds it."""
    h, w = x.shape
    m, n = h // 2, w // 2
    return np.asarray(x, np.float64).reshape(m, 2, n, 2).transpose(3, 1, 2, 0).reshape(4, m * n)


def msvd_unblocks(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """The inverse of :func:`msvd_blocks` (``IMSVD.m``'s write-back)."""
    m, n = height // 2, width // 2
    return a.reshape(2, 2, n, m).transpose(3, 1, 2, 0).reshape(height, width)


def msvd_basis(a: np.ndarray) -> np.ndarray:
    """``U`` of ``svd(A)`` (``4 x 4``, descending singular values) with the signs MATLAB's
    path gives most often: the right singular vectors of the tall ``A'`` through its QR
    factor (see the module docstring)."""
    r = np.linalg.qr(a.T, mode='r')
    return np.linalg.svd(r)[2].T


def msvd_fuse_plane(ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """MSVD fusion of two ``H x W`` float planes (any size; odd sizes edge-padded and cropped
    back) -> the fused plane, float, not clipped."""
    ir, vi = np.asarray(ir, np.float64), np.asarray(vi, np.float64)
    if ir.shape != vi.shape or ir.ndim != 2:
        raise ValueError(f'msvd: planes must be two H x W arrays of one size, got {ir.shape} '
                         f'and {vi.shape}')
    h, w = ir.shape
    pad = ((0, h % 2), (0, w % 2))
    if h % 2 or w % 2:
        ir, vi = np.pad(ir, pad, mode='edge'), np.pad(vi, pad, mode='edge')
    a_ir, a_vi = msvd_blocks(ir), msvd_blocks(vi)
    u_ir, u_vi = msvd_basis(a_ir), msvd_basis(a_vi)
    t_ir, t_vi = u_ir.T @ a_ir, u_vi.T @ a_vi
    fused = np.where(np.abs(t_ir) >= np.abs(t_vi), t_ir, t_vi)   # detail bands; ties: IR
    fused[0] = 0.5 * (t_ir[0] + t_vi[0])                          # approximation band: mean
    out = msvd_unblocks(0.5 * (u_ir + u_vi) @ fused, *ir.shape)
    return out[:h, :w]


@FUSERS.register_module(name='msvd')
class MSVDFuser(ClassicalFuser):
    """Multi-resolution SVD fusion (see the module docstring).

    Args:
        device: where the inputs arrive (the method runs on the CPU in numpy).
        colour: ``'y'`` (default: fuse the infrared with the visible luma) or ``'rgb'``
            (VIFB's way: per RGB channel, RGB out).
    """

    name = 'msvd'
    geometry = 'odd sizes padded by repeating the last row/column, cropped back'
    rgb_rule = ('each visible channel fused with the infrared image (or its own infrared '
                'channel), MATLAB im2uint8')
    note = 'not a network (one-level multi-resolution SVD): no parameters, multiply-adds ' \
        'not counted'

    def settings(self) -> dict:
        return dict(levels=1, svd_signs='right singular vectors of the transposed blocks')

    def describe(self) -> dict:
        return dict(reference='Naidu, Defence Science Journal 2011; as VIFB run_MSVD.m runs it')

    def fuse_arrays(self, ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
        """``ir`` ``1 x H x W`` (or ``C x H x W``), ``vi`` ``C x H x W`` on the 0-255 scale ->
        fused ``C x H x W`` on that scale, unrounded (MATLAB works on ``/255``)."""
        ir = np.broadcast_to(ir, vi.shape)
        return np.stack([msvd_fuse_plane(i / 255.0, v / 255.0) for i, v in zip(ir, vi)]) * 255
