"""Pixel-statistics fusion metrics: EN, SD, AG, SF, SCD, CC, MSE, PSNR, MI.

Every function takes 2-D arrays (one band): ``fused`` F and, for the reference metrics, the
sources ``ir`` (A) and ``vi`` (B), all of one size, on the 0..255 scale (uint8 or float).  The
conventions are those of ``../shared/spec/METRICS.md``; options select the published variants
(see :mod:`psfusion.metrics.profiles`, which sets them per profile).  All are vectorised numpy.

Why not a library: these are one-line numpy expressions.  Where a library computes the same
number, a test proves the equality (``skimage.measure.shannon_entropy`` = EN,
``sklearn.metrics.mutual_info_score`` / ln 2 = one MI term, ``skimage.metrics.mean_squared_error``
= one MSE term); none is a dependency of this package.
"""
from __future__ import annotations

import math

import numpy as np



def _float(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def _levels(image: np.ndarray, name: str = 'image') -> np.ndarray:
    """The image as int64 grey levels 0..255; refuses non-integer or out-of-range values."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() > 255 or
                       not np.array_equal(array, np.round(array))):
        raise ValueError(f'{name}: expected integer grey levels 0..255 (a uint8 image); round '
                         f'and clip float images to uint8 first, as saving them would.')
    return array.astype(np.int64)


def matlab_round(x: np.ndarray) -> np.ndarray:
    """MATLAB's ``round`` (halves away from zero), which integer casts also use."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _entropy_of(counts: np.ndarray, log=np.log2) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * log(p)).sum())


def entropy(fused: np.ndarray) -> float:
    """EN = -sum_l p_l log2 p_l over the 256-bin histogram of the uint8 image (bits).

    Equals ``skimage.measure.shannon_entropy`` on uint8 images (tested).  Constant image: 0.
    """
    counts = np.bincount(_levels(fused, 'fused').ravel(), minlength=256)
    return _entropy_of(counts)


def standard_deviation(fused: np.ndarray, uint8_saturation: bool = False) -> float:
    """SD = sqrt(mean((F - mean F)^2)), the population standard deviation.

    ``uint8_saturation=True`` reproduces SeAFusion's published table (an old MATLAB run on uint8
    data): ``F - mean`` is rounded and clipped to 0..255 and its square clipped to 255, i.e.
    ``sqrt(sum(min(255, max(0, round(F - u))^2)) / MN)``: not a standard deviation any more.
    """
    f = _float(fused)
    if not uint8_saturation:
        return float(f.std())
    diff = np.clip(matlab_round(f - f.mean()), 0, 255)
    return float(math.sqrt(np.minimum(diff * diff, 255.0).sum() / f.size))


def average_gradient(fused: np.ndarray) -> float:
    """AG = sum(sqrt((Gx^2 + Gy^2) / 2)) / ((M-1)(N-1)).

    Gx, Gy: MATLAB's ``gradient`` (central differences inside, one-sided at the borders), which
    ``numpy.gradient`` computes identically.  The sum runs over all M x N pixels but is divided
    by (M-1)(N-1), as in VIFB's and Tang's MATLAB code (some Python ports divide by MN).
    """
    f = _float(fused)
    rows, cols = f.shape
    if rows < 2 or cols < 2:
        raise ValueError(f'AG needs at least 2x2 pixels, got {rows}x{cols}')
    gy, gx = np.gradient(f)
    return float(np.sqrt((gx * gx + gy * gy) / 2.0).sum() / ((rows - 1) * (cols - 1)))


def spatial_frequency(fused: np.ndarray, normalise: str = 'own') -> float:
    """SF = sqrt(RF^2 + CF^2) with RF^2, CF^2 the mean squared horizontal / vertical neighbour
    differences.

    ``normalise='own'`` (default) divides each sum of squares by its own count, M(N-1) and
    (M-1)N; ``'mn'`` divides both by MN (VIFB).  A colour image under VIFB is passed as one
    M x 3N array (its bands side by side), which is what VIFB's MATLAB code does.
    """
    f = _float(fused)
    rows, cols = f.shape
    dh = np.diff(f, axis=1)
    dv = np.diff(f, axis=0)
    rf2, cf2 = float((dh * dh).sum()), float((dv * dv).sum())
    if normalise == 'own':
        rf2 /= max(dh.size, 1)
        cf2 /= max(dv.size, 1)
    elif normalise == 'mn':
        rf2 /= rows * cols
        cf2 /= rows * cols
    else:
        raise ValueError(f"normalise must be 'own' or 'mn', got {normalise!r}")
    return math.sqrt(rf2 + cf2)


def corr2(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB's ``corr2``: Pearson correlation of all pixels (NaN when either is constant)."""
    x = _float(x)
    y = _float(y)
    x = x - x.mean()
    y = y - y.mean()
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float((x * y).sum()) / den if den > 0 else float('nan')


def _corr2_integer(x: np.ndarray, y: np.ndarray) -> float:
    """:func:`corr2` of float64 arrays of integers with ``n * max|x| * max|y| < 2^53`` (uint8
    images and their differences, below 2^26 pixels), from exact sums.

    Every product and partial sum of ``x . y`` is then an integer below 2^53, exact in float64
    in any order (``einsum``, not BLAS: no thread pool), and the centred sums
    ``n sum(xy) - sum(x) sum(y)`` are formed in Python integers: the exact correlation, rounded
    three times, where :func:`corr2`'s centred float64 sums round once per pixel (equal to
    ~1e-15 relative), with a third of the passes over the images.
    """
    x, y = x.reshape(-1), y.reshape(-1)
    n = x.size
    sx, sy = int(x.sum()), int(y.sum())
    cov = n * int(np.einsum('i,i->', x, y)) - sx * sy
    var = ((n * int(np.einsum('i,i->', x, x)) - sx * sx) *
           (n * int(np.einsum('i,i->', y, y)) - sy * sy))
    return cov / math.sqrt(var) if var > 0 else float('nan')


_EXACT_SUMS_MAX_PIXELS = 2 ** 26  # 2^26 * 510 * 255 < 2^53


def scd(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray) -> float:
    """SCD (Aslantas & Bendes 2015) = corr2(F - B, A) + corr2(F - A, B)."""
    f, a, b = _float(fused), _float(ir), _float(vi)
    if (all(np.asarray(x).dtype == np.uint8 for x in (fused, ir, vi))
            and f.size < _EXACT_SUMS_MAX_PIXELS):
        return _corr2_integer(f - b, a) + _corr2_integer(f - a, b)
    return corr2(f - b, a) + corr2(f - a, b)


def correlation_coefficient(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray) -> float:
    """CC = (r(A, F) + r(B, F)) / 2, r = Pearson correlation over all pixels."""
    return 0.5 * (corr2(ir, fused) + corr2(vi, fused))


def mean_squared_error(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray,
                       scale: float = 255.0) -> float:
    """MSE = (mean((A - F)^2) + mean((B - F)^2)) / 2 on the 0..``scale`` range.

    ``scale=255`` (default) is the 0..255 scale; ``scale=1`` divides by 255^2: the [0, 1] scale
    of Tang's tables (``tang_matlab`` profile).
    """
    f, a, b = _float(fused), _float(ir), _float(vi)
    mse = 0.5 * (float(np.mean((a - f) ** 2)) + float(np.mean((b - f) ** 2)))
    return mse * (scale / 255.0) ** 2


def vifb_rmse(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray) -> float:
    """VIFB's "RMSE": (sqrt(sum((A-F)^2)) + sqrt(sum((B-F)^2))) / (2MN) on 0..255.

    Note the square root of the *sum* divided by MN (not the root of the mean): VIFB's
    definition, reproduced because its PSNR is built on it.
    """
    f, a, b = _float(fused), _float(ir), _float(vi)
    n = f.size
    return 0.5 * (math.sqrt(float(((a - f) ** 2).sum())) +
                  math.sqrt(float(((b - f) ** 2).sum()))) / n


def psnr(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray, variant: str = 'mse255') -> float:
    """PSNR = 10 log10(255^2 / D) in dB, where D depends on the convention:

    * ``'mse255'`` (default): D = MSE on the 0..255 scale (:func:`mean_squared_error`), so
      PSNR = 10 log10(255^2 / ((MSE(A,F) + MSE(B,F)) / 2)).
    * ``'tang_mse01'``: D = MSE on the [0, 1] scale with the peak still 255 (Tang's MATLAB
      code): default + 48.13 dB.
    * ``'vifb_rmse'``: D = :func:`vifb_rmse` (VIFB).
    Identical images give ``inf``.
    """
    if variant == 'mse255':
        d = mean_squared_error(fused, ir, vi)
    elif variant == 'tang_mse01':
        d = mean_squared_error(fused, ir, vi, scale=1.0)
    elif variant == 'vifb_rmse':
        d = vifb_rmse(fused, ir, vi)
    else:
        raise ValueError(f"unknown PSNR variant {variant!r}: 'mse255', 'tang_mse01' or "
                         f"'vifb_rmse'")
    return float('inf') if d == 0 else 10.0 * math.log10(255.0 ** 2 / d)


def _joint_counts(x: np.ndarray, y: np.ndarray, bins: int = 256) -> np.ndarray:
    return np.bincount((x * bins + y).ravel(), minlength=bins * bins).reshape(bins, bins)


def _vifb_levels(image: np.ndarray) -> np.ndarray:
    """VIFB's MI preprocessing: min-max normalise to [0, 1], then ``int16(x * 255)``."""
    x = _float(image)
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        return np.zeros(x.shape, dtype=np.int64)
    return np.floor((x - lo) / (hi - lo) * 255.0 + 0.5).astype(np.int64)  # >= 0: half up


def mutual_information_pair(source: np.ndarray, fused: np.ndarray,
                            variant: str = 'bits') -> float:
    """MI(X, F) = H(X) + H(F) - H(X, F) from 256-bin (joint) histograms of grey levels.

    * ``'bits'`` (default): log2 on the uint8 levels; equals
      ``sklearn.metrics.mutual_info_score(x, f) / ln 2`` (tested).
    * ``'vifb'``: both images min-max normalised and rounded to 0..255 first, natural log (nats).
    * ``'tang_uint8'``: bits, but the joint histogram merges levels 254 and 255 of each image
      (``uint8(x) + 1`` saturates at 255 in the old MATLAB code) while the marginal histograms
      do not: reproduces SeAFusion's published MI.
    """
    if variant == 'vifb':
        x, f = _vifb_levels(source), _vifb_levels(fused)
        joint = _joint_counts(x, f)
        return (_entropy_of(joint.sum(1), np.log) + _entropy_of(joint.sum(0), np.log) -
                _entropy_of(joint.ravel(), np.log))
    x, f = _levels(source, 'source'), _levels(fused, 'fused')
    if variant == 'bits':
        joint = _joint_counts(x, f)
        return (_entropy_of(joint.sum(1)) + _entropy_of(joint.sum(0)) -
                _entropy_of(joint.ravel()))
    if variant == 'tang_uint8':
        joint = _joint_counts(np.minimum(x, 254), np.minimum(f, 254))
        hx = _entropy_of(np.bincount(x.ravel(), minlength=256))
        hf = _entropy_of(np.bincount(f.ravel(), minlength=256))
        return hx + hf - _entropy_of(joint.ravel())
    raise ValueError(f"unknown MI variant {variant!r}: 'bits', 'vifb' or 'tang_uint8'")


def mutual_information(fused: np.ndarray, ir: np.ndarray, vi: np.ndarray,
                       variant: str = 'bits') -> float:
    """MI = MI(A, F) + MI(B, F) (see :func:`mutual_information_pair` for the variants)."""
    return (mutual_information_pair(ir, fused, variant) +
            mutual_information_pair(vi, fused, variant))
