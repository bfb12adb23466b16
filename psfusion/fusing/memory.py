"""How much memory a fusing run may use, and how large a piece of image it can fuse at once.

:func:`available_memory` is the smallest of what the machine has free (``MemAvailable``), what
the process's cgroup and its parents still allow (v2 ``memory.max``, v1
``memory.limit_in_bytes``, less usage without inactive page cache) and what an
address-space limit (``ulimit -v``) leaves above the process's current size.  A method states
its working memory per fused pixel (:meth:`~psfusion.fusers.Fuser.bytes_per_pixel`, measured for
PSFusion); :func:`auto_max_pixels` spends half of the available memory on it, and at most
:data:`DEFAULT_MAX_PIXELS` (a 2048 x 2048 image: a 1920 x 1080 frame and every benchmark
dataset's images fuse whole where memory allows), because PSFusion's level-4 attention grows with
the square of the area.  Tiling is not exact (each tile's instance norms and attention see only
the tile), and the smaller the tiles, the further from the whole-image result: with the demo's
trained light checkpoint a 2 x 2 tiling moved MSRS pixels by 0.5 grey levels on average (1-5 %
of pixels by more than 5), RoadScene's smaller images (tiles of about 288 x 192) by 8.8.  :func:`check_fits` refuses, before loading, a pair whose whole-image buffers plus the
smallest tile do not fit.
"""
from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from typing import Optional

from ..fusers.base import FusingError

__all__ = ['DEFAULT_MAX_PIXELS', 'IMAGE_BYTES_PER_PIXEL', 'MemoryBudget', 'available_memory',
           'auto_max_pixels', 'check_fits']

MIB = 1 << 20
#: The largest padded area fused in one piece by default (2048 x 2048).
DEFAULT_MAX_PIXELS = 1 << 22
#: Bytes per pixel of the whole-image buffers a tiled pair needs: the decoded uint8 pair (4)
#: and a transient decoding copy (up to 4), the float blending sums of a fused luma and their
#: weights (8), the uint8 colour result (3) and its PNG encoding copy (3), with ``--save-seg``
#: the uint8 class ids and their tile weights (5): 27, rounded up.
IMAGE_BYTES_PER_PIXEL = 28
#: Share of the available memory the automatic pixel budget spends on the method.
AUTO_SHARE = 0.5


def _read_int(path: str) -> Optional[int]:
    try:
        with open(path, encoding='ascii') as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available() -> Optional[int]:
    try:
        with open('/proc/meminfo', encoding='ascii') as handle:
            for line in handle:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _own_cgroup_dirs() -> list[str]:
    """The folders of this process's memory cgroup and its parents, innermost first (v2
    unified hierarchy, or v1 ``memory`` controller)."""
    try:
        with open('/proc/self/cgroup', encoding='ascii') as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    for line in lines:
        _, controllers, path = line.split(':', 2)
        if controllers == 'memory':
            mount = '/sys/fs/cgroup/memory'
        elif controllers == '' and os.path.isfile('/sys/fs/cgroup/cgroup.controllers'):
            mount = '/sys/fs/cgroup'
        else:
            continue
        parts = [part for part in path.split('/') if part]
        for skip in range(len(parts) + 1):  # the mount may start below the hierarchy's root
            inner = os.path.join(mount, *parts[skip:])
            if os.path.isdir(inner):
                dirs = []
                while inner.startswith(mount):
                    dirs.append(inner)
                    inner = os.path.dirname(inner)
                return dirs
    return []


def _inactive_file_cache(folder: str) -> int:
    """Inactive page cache charged to a cgroup (``memory.stat``), bytes; 0 if unknown."""
    try:
        with open(os.path.join(folder, 'memory.stat'), encoding='ascii') as handle:
            stats = dict(line.split() for line in handle if len(line.split()) == 2)
    except (OSError, ValueError):
        return 0
    value = stats.get('total_inactive_file', stats.get('inactive_file', '0'))
    return int(value) if value.isdigit() else 0


def _cgroup_left() -> Optional[int]:
    """What the process's memory cgroup (and its parents) still allow (None: no limit)."""
    left = []
    for folder in _own_cgroup_dirs():
        for limit_file, usage_file in (('memory.max', 'memory.current'),
                                       ('memory.limit_in_bytes', 'memory.usage_in_bytes')):
            limit = _read_int(os.path.join(folder, limit_file))
            if limit is not None and limit < 1 << 60:
                usage = _read_int(os.path.join(folder, usage_file)) or 0
                usage -= _inactive_file_cache(folder)  # reclaimed under pressure
                left.append(max(0, limit - usage))
    return min(left) if left else None


def _address_space_left() -> Optional[int]:
    """What ``ulimit -v`` (RLIMIT_AS) leaves above the current virtual size (None: no limit)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    size = 0
    try:
        with open('/proc/self/status', encoding='ascii') as handle:
            for line in handle:
                if line.startswith('VmSize:'):
                    size = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - size)


@dataclass(frozen=True)
class MemoryBudget:
    """The memory a run may use (``bytes``) and what limits it (``source``, in words)."""
    bytes: int
    source: str

    @property
    def mib(self) -> int:
        return self.bytes // MIB


def available_memory() -> MemoryBudget:
    """The smallest of free memory, the cgroup's allowance and ``ulimit -v``'s headroom."""
    candidates = [(value, source) for value, source in (
        (_meminfo_available(), 'free memory (MemAvailable)'),
        (_cgroup_left(), 'the cgroup memory limit'),
        (_address_space_left(), 'the address-space limit (ulimit -v)')) if value is not None]
    if not candidates:
        return MemoryBudget(8 << 30, 'an assumed 8 GiB (no memory information found)')
    value, source = min(candidates)
    return MemoryBudget(int(value), source)


def auto_max_pixels(bytes_per_pixel: float, budget: MemoryBudget, multiple: int = 32) -> int:
    """The default pixel budget: :data:`AUTO_SHARE` of ``budget`` over the method's bytes per
    pixel, at most :data:`DEFAULT_MAX_PIXELS`, a multiple of ``multiple`` squared (at least one
    such square)."""
    pixels = int(budget.bytes * AUTO_SHARE / max(float(bytes_per_pixel), 1.0))
    pixels = min(pixels, DEFAULT_MAX_PIXELS)
    square = multiple * multiple
    return max(square, pixels // square * square)


def check_fits(path: str, height: int, width: int, tile_pixels: int, bytes_per_pixel: float,
               budget: MemoryBudget) -> None:
    """Raise :class:`FusingError` when a ``height x width`` pair cannot be fused in
    ``budget`` even in tiles of ``tile_pixels`` (its whole-image buffers plus one tile's
    working memory)."""
    image = height * width * IMAGE_BYTES_PER_PIXEL
    tile = min(tile_pixels, height * width) * bytes_per_pixel
    if image + tile > budget.bytes:
        raise FusingError(
            f'{path}: a {width} x {height} pair needs about {int((image + tile) // MIB)} MiB '
            f'even when fused in tiles ({int(image // MIB)} MiB for the whole-image buffers, '
            f'{int(tile // MIB)} MiB for a tile of {tile_pixels} pixels), but only '
            f'{budget.mib} MiB are available ({budget.source}). Free memory, raise the limit, '
            f'lower --max-pixels, or fuse a downscaled copy of the image.')
