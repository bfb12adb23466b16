"""Per-source normalisation statistics, computed on the training split only and cached.

Each source gets its own mean and standard deviation per channel (RGB order, 0-255 scale, as
mmseg's ``SegDataPreProcessor`` expects them), over every pixel of every **training** image as
the segmenter reads it (infrared replicated to 3 channels).  The authors' scripts also used the
test images; this does not.

An ``rgbt`` source (both modalities, R, G, B, T) gets the statistics each modality gets as a
source of its own: the visible source's three values, then the infrared source's one (its three
are equal), from the same cache files (:func:`source_statistics`).

The cache file is named by a fingerprint of the image list (paths, sizes, modification times)
and how each image is read (its modality and channel selection, e.g. MFNet's thermal channel of
a four-channel file), so adding, removing or rewriting an image, or reading other channels of
it, recomputes the statistics.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Optional, Sequence

import numpy as np

from ..fileio import write_json
from .transforms import read_source_rgb


def _how_read(item: dict) -> str:
    """``<modality>`` or ``<modality>:<channels>`` (e.g. ``ir:3``); a whole file reads as
    the modality alone, as fingerprints did before channel selections existed."""
    channels = item.get('img_channels')
    modality = item.get('img_modality', 'vi')
    return modality if channels is None else f"{modality}:{','.join(str(c) for c in channels)}"


def fingerprint(items: Sequence[dict]) -> str:
    """A hash of ``(img_path, modality and channels, size, mtime)`` of every sample."""
    digest = hashlib.sha256()
    for item in items:
        stat = os.stat(item['img_path'])
        digest.update(f"{os.path.abspath(item['img_path'])}|{_how_read(item)}|"
                      f'{stat.st_size}|{stat.st_mtime_ns}\n'.encode())
    return digest.hexdigest()


def compute_mean_std(items: Sequence[dict]) -> tuple[list[float], list[float]]:
    """Channel mean and (population) std in RGB order over all pixels of ``items``."""
    if not items:
        raise ValueError('no training images to compute the source statistics from')
    total = np.zeros(3)
    total_sq = np.zeros(3)
    count = 0
    for item in items:
        rgb = read_source_rgb(item['img_path'], item.get('img_modality', 'vi'),
                              item.get('img_channels')).reshape(-1, 3)
        rgb = rgb.astype(np.float64)
        total += rgb.sum(0)
        total_sq += np.square(rgb).sum(0)
        count += rgb.shape[0]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    std = np.maximum(std, 1e-3)  # a constant channel must not divide by zero
    return [round(float(v), 4) for v in mean], [round(float(v), 4) for v in std]


def modality_items(items: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """``(visible items, infrared items)`` of rgbt items: each as the ``vi`` and ``ir`` sources
    list the same samples (visible ``img_path``/``img_channels``, infrared
    ``ir_path``/``ir_channels``)."""
    visible = [dict(img_path=item['img_path'], img_modality='vi',
                    img_channels=item.get('img_channels')) for item in items]
    infrared = [dict(img_path=item['ir_path'], img_modality='ir',
                     img_channels=item.get('ir_channels')) for item in items]
    return visible, infrared


def source_statistics(items: Sequence[dict], cache_dir: Optional[str] = None) -> dict:
    """Mean/std of the training samples ``items`` (dicts with ``img_path``, ``img_modality``
    and ``img_channels``, as the datasets' ``data_list``), cached in ``cache_dir``.

    Returns ``{'mean': [r, g, b], 'std': [r, g, b], 'images': n, 'fingerprint': hash}``; for
    ``rgbt`` items (``img_modality='rgbt'``, with ``ir_path`` and ``ir_channels``) four values,
    ``[r, g, b, t]``: the visible statistics, then the infrared one (see the module docstring).
    """
    modalities = {item.get('img_modality', 'vi') for item in items}
    if 'rgbt' in modalities:
        if modalities != {'rgbt'}:
            raise ValueError(f'rgbt statistics need rgbt items only, got modalities '
                             f'{sorted(modalities)}')
        visible, infrared = (source_statistics(part, cache_dir)
                             for part in modality_items(items))
        key = hashlib.sha256(f"{visible['fingerprint']}|{infrared['fingerprint']}".encode())
        return dict(mean=visible['mean'] + infrared['mean'][:1],
                    std=visible['std'] + infrared['std'][:1], images=len(items),
                    fingerprint=key.hexdigest())
    key = fingerprint(items)
    path = os.path.join(cache_dir, f'stats-{key[:16]}.json') if cache_dir else None
    if path and os.path.isfile(path):
        with open(path, encoding='utf-8') as handle:
            cached = json.load(handle)
        if cached.get('fingerprint') == key:
            return cached
    mean, std = compute_mean_std(items)
    stats = dict(mean=mean, std=std, images=len(items), fingerprint=key)
    if path:
        write_json(path, stats)
    return stats
