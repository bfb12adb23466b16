"""Score folders of fused images against their source pairs, in parallel.

Files are paired by stem (file name without extension).  Nothing is skipped silently: a fused
image without both sources, or a source pair without its fused image, raises
:class:`~psfusion.data.io.DataError` naming the files (the latter can be allowed explicitly,
for methods published on a subset of a dataset).
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from ..data.io import GREY_TOLERANCE, DataError, list_images, num_channels, read_array
from .profiles import Profile
from .scoring import PAPER_METRICS, score_images


@dataclass(frozen=True)
class Triple:
    """One fused image and its sources."""

    method: str
    stem: str
    ir: str
    vi: str
    fused: str


def _describe(stems: Sequence[str], limit: int = 8) -> str:
    stems = sorted(stems)
    return ', '.join(stems[:limit]) + (f' ... ({len(stems)} in all)' if len(stems) > limit else '')


def pair_folder(ir_dir: str, vi_dir: str, fused_dir: str, method: str = 'fused',
                allow_missing_fused: bool = False) -> list[Triple]:
    """Match ``fused_dir``'s images with ``ir_dir`` and ``vi_dir`` by stem (sorted by stem).

    Raises DataError when a fused image lacks a source, when a stem has only one source, or
    (unless ``allow_missing_fused``) when a source pair has no fused image.
    """
    ir_files, vi_files = list_images(ir_dir), list_images(vi_dir)
    fused_files = list_images(fused_dir)
    problems = []
    for label, folder, files in (('infrared', ir_dir, ir_files), ('visible', vi_dir, vi_files)):
        lacking = set(fused_files) - set(files)
        if lacking:
            problems.append(f'{len(lacking)} fused image(s) of {method!r} ({fused_dir}) have no '
                            f'{label} source in {folder}: {_describe(lacking)}')
    unpaired = (set(ir_files) ^ set(vi_files)) & set(fused_files)
    if unpaired:
        problems.append(f'stem(s) with only one source image: {_describe(unpaired)}')
    missing = (set(ir_files) & set(vi_files)) - set(fused_files)
    if missing and not allow_missing_fused:
        problems.append(f'{len(missing)} source pair(s) have no fused image of {method!r} in '
                        f'{fused_dir}: {_describe(missing)} (pass --allow-missing-fused to '
                        f'score only the fused images present)')
    if problems:
        raise DataError('; '.join(problems) + '. Files are paired by name without extension.')
    return [Triple(method, stem, ir_files[stem], vi_files[stem], fused_files[stem])
            for stem in sorted(fused_files)]


def _drop_alpha(array: np.ndarray) -> np.ndarray:
    channels = num_channels(array)
    if channels == 2:
        return array[..., 0]
    if channels == 4:
        return array[..., :3]
    if channels == 1 and array.ndim == 3:
        return array[..., 0]
    return array


def load_triple(triple: Triple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``(ir, vi, fused)`` as stored (uint8, ``H x W`` or ``H x W x 3``).

    An infrared file whose colour channels differ by more than ``GREY_TOLERANCE`` levels is
    refused (a visible or false-colour image in the wrong folder), as are images whose sizes
    differ.
    """
    ir = _drop_alpha(read_array(triple.ir))
    if ir.ndim == 3:
        spread = int(np.ptp(ir.astype(np.int16), axis=2).max())
        if spread > GREY_TOLERANCE:
            raise DataError(f'{triple.ir}: infrared image whose colour channels differ (by up '
                            f'to {spread} levels); expected a grey thermal image. Is this a '
                            f'visible or false-colour image in the infrared folder?')
    vi = _drop_alpha(read_array(triple.vi))
    fused = _drop_alpha(read_array(triple.fused))
    sizes = {path: arr.shape[:2] for path, arr in
             ((triple.ir, ir), (triple.vi, vi), (triple.fused, fused))}
    if len(set(sizes.values())) != 1:
        shown = ', '.join(f'{path} {h}x{w}' for path, (h, w) in sizes.items())
        raise DataError(f'images of {triple.stem!r} differ in size ({shown}). A fused image '
                        f'must have its sources\' size: crop padding away, do not resize.')
    return ir, vi, fused


def score_triple(triple: Triple, metrics: Sequence[str] = PAPER_METRICS,
                 profile: str | Profile = 'default') -> dict[str, float]:
    """Read and score one triple; errors name the files."""
    ir, vi, fused = load_triple(triple)
    try:
        return score_images(ir, vi, fused, metrics, profile)
    except ValueError as exc:
        raise DataError(f'{triple.fused}: cannot be scored ({exc})') from exc


def keep_freed_memory() -> None:
    """Have glibc's ``malloc`` keep freed memory in this process for reuse (no-op elsewhere).

    The metrics allocate and free arrays of megabytes for every image; with glibc's default
    thresholds most of them come back as fresh pages from the kernel, and the page faults
    took ~40 % of the CPU time of scoring the MSRS pairs (``benchmarks/bench_metrics.py``).
    With the thresholds raised (the trim threshold to 1 GiB, the mmap threshold to its 32 MiB
    maximum) the process keeps its peak heap (~100 MB) instead.  Called in the worker
    processes and by ``tools/eval_fusion.py``; the values computed are unaffected.
    """
    if not sys.platform.startswith('linux'):
        return
    try:
        libc = ctypes.CDLL('libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_mmap_threshold, 32 << 20)


def _init_worker() -> None:
    # One thread per process: the processes are the parallelism.  (The metrics run on numpy
    # and OpenCV only, so forked workers never enter torch's OpenMP pool.)
    import cv2
    cv2.setNumThreads(1)
    keep_freed_memory()


def score_triples(triples: Sequence[Triple], metrics: Sequence[str] = PAPER_METRICS,
                  profile: str | Profile = 'default', workers: Optional[int] = None,
                  progress: Optional[Callable[[int], None]] = None,
                  meanwhile: Optional[Callable[[], None]] = None) -> list[dict[str, float]]:
    """Score every triple (in order); ``workers`` processes (default: all cores; <= 1: here).

    ``progress(n)`` is called with the number of triples finished since the last call.
    ``meanwhile()`` is called once in this process after the workers have started (before any
    scoring without workers): work that would otherwise wait for the scores, such as importing
    the report's libraries, overlaps with them.
    """
    if workers is None:
        workers = os.cpu_count() or 1
    results: list[Optional[dict[str, float]]] = [None] * len(triples)
    if workers <= 1 or len(triples) <= 1:
        if meanwhile:
            meanwhile()
        for index, triple in enumerate(triples):
            results[index] = score_triple(triple, metrics, profile)
            if progress:
                progress(1)
        return results  # type: ignore[return-value]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context('fork' if 'fork' in methods else 'spawn')
    with ProcessPoolExecutor(max_workers=min(workers, len(triples)), mp_context=context,
                             initializer=_init_worker) as pool:
        futures = {pool.submit(score_triple, triple, metrics, profile): index
                   for index, triple in enumerate(triples)}
        try:
            if meanwhile:
                meanwhile()  # the pool's processes are forked by now (all at the first submit)
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress:
                    progress(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results  # type: ignore[return-value]


def pair_folders(ir_dir: str, vi_dir: str, fused_dirs: Mapping[str, str],
                 allow_missing_fused: bool = False) -> list[Triple]:
    """Pair every method's folder (see :func:`pair_folder`); all errors before any scoring."""
    return [triple for method, folder in fused_dirs.items()
            for triple in pair_folder(ir_dir, vi_dir, folder, method, allow_missing_fused)]


def group_by_method(triples: Sequence[Triple], scores: Sequence[Mapping[str, float]],
                    ) -> dict[str, list[tuple[str, dict[str, float]]]]:
    """``{method: [(fused file name, {metric: value}), ...]}`` in the triples' order."""
    out: dict[str, list[tuple[str, dict[str, float]]]] = {}
    for triple, score in zip(triples, scores):
        out.setdefault(triple.method, []).append((os.path.basename(triple.fused), dict(score)))
    return out


def score_folders(ir_dir: str, vi_dir: str, fused_dirs: Mapping[str, str],
                  metrics: Sequence[str] = PAPER_METRICS, profile: str | Profile = 'default',
                  workers: Optional[int] = None, allow_missing_fused: bool = False,
                  progress: Optional[Callable[[int], None]] = None,
                  ) -> dict[str, list[tuple[str, dict[str, float]]]]:
    """Score several methods' folders: ``{method: [(fused file name, {metric: value}), ...]}``.

    All folders are paired (and every pairing error raised) before any image is scored.
    """
    triples = pair_folders(ir_dir, vi_dir, fused_dirs, allow_missing_fused)
    return group_by_method(triples, score_triples(triples, metrics, profile, workers, progress))
