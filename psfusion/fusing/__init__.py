"""Write a fused dataset: every pair of a source dataset through one fusion method.

* :mod:`.writer` - :func:`fuse_dataset`, the one writer for every method of
  :mod:`psfusion.fusers` (layout-driven output places, per-size batches, atomic PNGs);
* :mod:`.manifest` - ``OUT/manifest.json``: identity checks for resuming, file checksums, a lock
  for concurrent runs;
* :mod:`.tiling` - images larger than the pixel budget fused in blended overlapping tiles;
* :mod:`.memory` - the available memory and the default pixel budget;
* :mod:`.stale` - temporary files of killed runs, removed at the next start.

Example::

    from psfusion.fusing import fuse_dataset
    fuse_dataset('average', 'data/FMB', 'fmb', 'work_dirs/fmb_avg', split='train,test')
    fuse_dataset(dict(type='psfusion', config='psfusion/configs/psfusion_r34_msrs.py',
                      checkpoint='iter_170000.pth'), 'data/MSRS', 'msrs', 'work_dirs/fused')
"""
from ..fusers import Fuser, FusingError, FusionOutput, build_fuser
from .manifest import MANIFEST, MANIFEST_FORMAT, Manifest, code_version, peak_rss_mib, \
    read_manifest, sha256_file
from .memory import DEFAULT_MAX_PIXELS, available_memory, auto_max_pixels
from .tiling import TilePlan, fuse_tiled, plan_tiles
from .writer import FuseSummary, fuse_dataset, fused_rgb, parse_splits, size_batches, to_uint8

__all__ = [
    'Fuser', 'FusingError', 'FusionOutput', 'build_fuser', 'MANIFEST', 'MANIFEST_FORMAT',
    'Manifest', 'code_version', 'peak_rss_mib', 'sha256_file', 'FuseSummary', 'fuse_dataset',
    'fused_rgb', 'parse_splits', 'size_batches', 'to_uint8', 'read_manifest',
    'DEFAULT_MAX_PIXELS', 'available_memory', 'auto_max_pixels', 'TilePlan', 'fuse_tiled',
    'plan_tiles'
]
