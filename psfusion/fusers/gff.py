"""GFF: image fusion with guided filtering (Li, Kang and Hu, IEEE TIP 22(7), 2013), as VIFB runs
the authors' MATLAB code (``methods/GFF/{GFF,guidedfilter,boxfilter}.m``; facts in
``../shared/spec/TABLE1_METHODS.md``, section GFF).

For sources ``n`` (visible first, then infrared) with grey images ``G_n`` in [0, 1]:

1. saliency ``S_n = gauss_11x11,sigma5(|laplacian(G_n)|)`` (both 'replicate'), ``+ 1e-12``,
   normalised over the sources; ``P_n = 1`` where source ``n`` has the largest saliency
   (ties go to the visible image);
2. weights ``W_B = GF(G_n, P_n, r1=45, eps1=0.3)`` and ``W_D = GF(G_n, P_n, r2=7, eps2=1e-6)``
   (guided filter, box means truncated at the border), each quantised as MATLAB's
   ``uint8(W * 255) / 255``, ``+ 1e-12``, normalised over the sources;
3. two scales: base ``B_n = mean_31x31(I_n)`` ('replicate'), detail ``D_n = I_n - B_n``;
   ``F = sum_n B_n W_B,n + D_n W_D,n``.

Colour (``colour=``):

* ``'y'`` (default, the benchmark's rule): the sources are the infrared image and the visible
  image's BT.601 luma (float, not rounded); the fused luma goes to the writer, which adds the
  visible Cb/Cr.
* ``'rgb'`` (VIFB's way): the weights come from MATLAB ``rgb2gray`` of each 8-bit RGB source and
  are applied to all three colour channels; output ``uint8(F * 255)`` RGB.  The infrared input
  may have three channels here (VIFB's infrared JPEGs are mostly stored as RGB); a grey one is
  repeated to three equal channels.

``jpeg_quality`` (``'rgb'`` only) reproduces a step of VIFB's harness, not of the method:
``run_GFF.m`` writes both inputs as JPEG (MATLAB's default quality 75) and reads them back before
fusing.  Pillow's round trip (libjpeg-turbo) reproduces MATLAB's on VIFB: with it, 16 of the 21
VIFB outputs are bit-identical to MATLAB's once ours are JPEG-encoded the same way.

Ties: where both saliency maps are exactly 0 (flat regions in both grey images) GFF.m's ``max``
gives the pixel to the first (visible) source, and so does this code: the filters are run
directly (separable, exact zeros stay 0), not through a DFT (OpenCV's ``filter2D`` for large
kernels, as :func:`~.matlab.imfilter`), whose ~1e-17 noise would decide those ties instead.
MATLAB's own outputs show noise-decided ties in 5 of the 21 VIFB pairs (its filtering evidently
leaves rounding noise in flat regions); that noise cannot be reproduced, which is what is left
of the differences.  ``params`` and ``macs`` are 0: not a network.
"""
from __future__ import annotations

import io
from typing import Optional, Union

import cv2
import numpy as np
import torch
from PIL import Image

from ..registry import FUSERS
from .base import FusingError
from .classical import ClassicalFuser
from .matlab import fspecial_gaussian, imfilter, rgb2gray, to_uint8

__all__ = ['GFFFuser', 'box_sum', 'box_mean', 'window_counts', 'guided_filter',
           'separable_imfilter', 'gaussian_factor', 'gff_weights', 'gff_combine', 'gff_rgb',
           'jpeg_roundtrip']

#: MATLAB's 3 x 3 Laplacian of ``LapFilter`` in GFF.m.
LAPLACIAN = np.array([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]])
#: The published defaults (GFF.m): base-layer and detail-layer guided filters.
DEFAULTS = dict(r1=45, eps1=0.3, r2=7, eps2=1e-6)
#: The saliency Gaussian (``fspecial('gaussian', 11, 5)``) and the base-layer mean filter size.
SALIENCY_SIZE, SALIENCY_SIGMA, BASE_SIZE = 11, 5.0, 31


# --------------------------------------------------------------------------------- filters
def _per_plane(fn, x: np.ndarray) -> np.ndarray:
    """``fn(src, dst)`` (a 2-D OpenCV filter writing into ``dst``) on each ``H x W`` plane of a
    ``... x H x W`` array: contiguous planes keep OpenCV and numpy at full speed."""
    x = np.ascontiguousarray(x, np.float64)
    out = np.empty_like(x)
    for src, dst in zip(x.reshape((-1,) + x.shape[-2:]), out.reshape((-1,) + x.shape[-2:])):
        fn(src, dst)
    return out


def box_sum(x: np.ndarray, r: int) -> np.ndarray:
    """Sum over the ``(2r+1) x (2r+1)`` window around each pixel of each ``H x W`` plane of a
    ``... x H x W`` array, the window truncated at the image border (no padding), as
    ``boxfilter.m``.  Computed as OpenCV's running box sum with zeros outside the image: the
    same sums (``boxfilter.m``'s cumulative sums round differently, ~1e-14 relative), and any
    size works (``boxfilter.m`` needs at least ``2r+1`` rows and columns)."""
    size = (2 * r + 1, 2 * r + 1)
    return _per_plane(lambda src, dst: cv2.boxFilter(
        src, cv2.CV_64F, size, dst=dst, normalize=False, borderType=cv2.BORDER_CONSTANT), x)


def window_counts(height: int, width: int, r: int) -> np.ndarray:
    """``N`` of ``guidedfilter.m``: the number of in-image pixels of each truncated
    ``(2r+1) x (2r+1)`` window, ``height x width``."""
    def counts(n: int) -> np.ndarray:
        idx = np.arange(n)
        return np.minimum(idx + r, n - 1) - np.maximum(idx - r, 0) + 1
    return np.outer(counts(height), counts(width)).astype(np.float64)


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """:func:`box_sum` divided by the number of in-image pixels of each window."""
    return box_sum(x, r) / window_counts(x.shape[-2], x.shape[-1], r)


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide (``guidedfilter.m``), on ``H x W`` or
    ``... x H x W`` arrays of one shape (each plane filtered with its own guide plane)."""
    guide, src = np.asarray(guide, np.float64), np.asarray(src, np.float64)
    counts = window_counts(guide.shape[-2], guide.shape[-1], r)
    mean_i, mean_p, mean_ip, mean_ii = box_sum(
        np.stack([guide, src, guide * src, guide * guide]), r) / counts
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    mean_a, mean_b = box_sum(np.stack([a, b]), r) / counts
    return mean_a * guide + mean_b


def separable_imfilter(image: np.ndarray, column: np.ndarray, row: np.ndarray,
                       boundary: str = 'replicate') -> np.ndarray:
    """MATLAB ``imfilter(image, column * row, boundary)`` for a separable kernel (odd sizes,
    centred) on each ``H x W`` plane of a ``... x H x W`` array, filtered directly along rows
    and columns as MATLAB does for separable kernels: exact zeros stay exactly 0."""
    borders = {'zero': cv2.BORDER_CONSTANT, 'replicate': cv2.BORDER_REPLICATE}
    if boundary not in borders:
        raise ValueError(f'boundary must be one of {sorted(borders)}, got {boundary!r}')
    row, column = np.asarray(row, np.float64), np.asarray(column, np.float64)
    return _per_plane(lambda src, dst: cv2.sepFilter2D(
        src, cv2.CV_64F, row, column, dst=dst, borderType=borders[boundary]), image)


def gaussian_factor(size: int, sigma: float) -> np.ndarray:
    """The 1-D factor ``g`` with ``outer(g, g) == fspecial('gaussian', size, sigma)`` (to
    rounding)."""
    kernel = fspecial_gaussian(size, sigma)
    return kernel[size // 2] / np.sqrt(kernel[size // 2, size // 2])


# ----------------------------------------------------------------------------------- method
def _normalise(x: np.ndarray) -> np.ndarray:
    """``x + 1e-12`` divided by its sum over the sources (axis 0), as GFF.m normalises."""
    x = x + 1e-12
    return x / x.sum(axis=0)


def gff_weights(grey: np.ndarray, r1: int = 45, eps1: float = 0.3, r2: int = 7,
                eps2: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """GFF's base and detail weight maps ``(W_B, W_D)``, each ``N x H x W``, from the sources'
    grey images ``grey`` (``N x H x W`` in [0, 1]; ties of saliency go to the first source)."""
    grey = np.asarray(grey, np.float64)
    high = np.abs(np.stack([imfilter(plane, LAPLACIAN, 'replicate') for plane in grey]))
    g = gaussian_factor(SALIENCY_SIZE, SALIENCY_SIGMA)
    saliency = _normalise(separable_imfilter(high, g, g, 'replicate'))
    labels = np.argmax(saliency, axis=0)             # the first maximum, as MATLAB's max
    masks = (labels == np.arange(len(grey))[:, None, None]).astype(np.float64)
    weights = []
    for r, eps in ((r1, eps1), (r2, eps2)):
        w = guided_filter(grey, masks, r, eps)
        weights.append(_normalise(to_uint8(w * 255.0) / 255.0))
    return weights[0], weights[1]


def gff_combine(images: np.ndarray, w_base: np.ndarray, w_detail: np.ndarray) -> np.ndarray:
    """Two-scale fusion: ``images`` ``N x C x H x W`` in [0, 1], weights ``N x H x W`` (the
    same for every channel) -> ``F`` ``C x H x W`` (float, not clipped)."""
    images = np.asarray(images, np.float64)
    box = np.full(BASE_SIZE, 1.0 / BASE_SIZE)
    base = separable_imfilter(images, box, box, 'replicate')
    fused = np.zeros(images.shape[1:])
    for n in range(len(images)):
        fused += base[n] * w_base[n] + (images[n] - base[n]) * w_detail[n]
    return fused


def gff_rgb(*sources: np.ndarray, **params) -> np.ndarray:
    """GFF.m on 8-bit RGB sources (``H x W x 3`` uint8 each; VIFB passes the visible image
    first): weights from MATLAB ``rgb2gray``, the same for every channel -> ``F``
    ``H x W x 3`` in [0, 1] before MATLAB's final ``uint8(F * 255)``."""
    grey = np.stack([rgb2gray(s) for s in sources]).astype(np.float64) / 255.0
    images = np.stack([s.transpose(2, 0, 1) for s in sources]).astype(np.float64) / 255.0
    w_base, w_detail = gff_weights(grey, **params)
    return gff_combine(images, w_base, w_detail).transpose(1, 2, 0)


def jpeg_roundtrip(image: np.ndarray, quality: int = 75) -> np.ndarray:
    """``image`` (``H x W`` or ``H x W x 3`` uint8) written as a JPEG of ``quality`` and read
    back (Pillow), as VIFB's ``run_GFF.m`` does with MATLAB's ``imwrite``/``imread``."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, 'JPEG', quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded).copy()


# ------------------------------------------------------------------------------------ fuser
@FUSERS.register_module(name='gff')
class GFFFuser(ClassicalFuser):
    """Guided-filtering fusion (see the module docstring).

    Args:
        device: where the inputs arrive (the method runs on the CPU in numpy).
        colour: ``'y'`` (default: fuse the infrared with the visible luma) or ``'rgb'``
            (VIFB's way: grey weights applied to all three channels, RGB out).
        r1, eps1, r2, eps2: guided-filter radius and regularisation of the base and detail
            weights (the published 45, 0.3, 7, 1e-6).
        jpeg_quality: VIFB's harness step: re-encode both 8-bit inputs as JPEG of this
            quality before fusing (default ``None``: no); only with ``colour='rgb'``.
    """

    name = 'gff'
    geometry = 'any size; box means truncated at the border, other filters replicate-padded'
    rgb_rule = ('weights from MATLAB rgb2gray of each source, the same weights for the three '
                'visible channels; uint8(F * 255)')
    note = 'not a network (guided filtering): no parameters, multiply-adds not counted'

    def __init__(self, device: Union[str, torch.device] = 'cpu', colour: str = 'y',
                 r1: int = 45, eps1: float = 0.3, r2: int = 7, eps2: float = 1e-6,
                 jpeg_quality: Optional[int] = None) -> None:
        super().__init__(device, colour)
        if jpeg_quality is not None and colour != 'rgb':
            raise FusingError("gff: jpeg_quality re-encodes the 8-bit RGB inputs (VIFB's "
                              "harness); use it with colour='rgb'")
        self.params = dict(r1=int(r1), eps1=float(eps1), r2=int(r2), eps2=float(eps2))
        self.jpeg_quality = None if jpeg_quality is None else int(jpeg_quality)

    def settings(self) -> dict:
        return dict(self.params, jpeg_quality=self.jpeg_quality)

    def describe(self) -> dict:
        return dict(reference='Li, Kang, Hu, IEEE TIP 2013; as VIFB run_GFF.m runs it')

    def fuse_arrays(self, ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
        """``ir`` ``1 x H x W`` (or ``3 x H x W`` in RGB mode), ``vi`` ``C x H x W`` on the 0-255
        scale -> fused ``C x H x W`` on that scale, unrounded."""
        if vi.shape[0] == 1:  # the visible luma: both sources are their own grey image
            grey = np.stack([vi[0], ir[0]]) / 255.0
            w_base, w_detail = gff_weights(grey, **self.params)
            return gff_combine(grey[:, None], w_base, w_detail) * 255
        vi8 = to_uint8(vi).transpose(1, 2, 0)
        ir8 = to_uint8(np.broadcast_to(ir, vi.shape)).transpose(1, 2, 0)
        if self.jpeg_quality is not None:
            vi8, ir8 = (jpeg_roundtrip(x, self.jpeg_quality) for x in (vi8, ir8))
        return gff_rgb(vi8, ir8, **self.params).transpose(2, 0, 1) * 255
