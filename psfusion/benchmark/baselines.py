"""A reference "fusion method" with no parameters: the per-pixel average of the two images.

``fused = round((ir + vi) / 2)`` per RGB channel (the infrared value is added to each colour
channel).  It is the classic naive baseline of image fusion and a stand-in fused source for
testing the benchmark without a trained fusion network.  The output mirrors the layout
``tools/fuse.py`` writes for MSRS-layout data: ``OUT/<split>/fused/<stem>.png``, plus a
``manifest.json`` (``params`` and ``flops`` 0: three additions per pixel are not counted).
"""
from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np
from PIL import Image

from ..data.datasets import MSRSDataset


def average_fusion(ir: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """``H x W x 1`` infrared and ``H x W x 3`` visible uint8 -> ``H x W x 3`` uint8 average."""
    total = ir.astype(np.uint16) + vi.astype(np.uint16)
    return ((total + 1) // 2).astype(np.uint8)


def write_average_fusion(data_root: str, out_dir: str,
                         splits: Sequence[str] = ('train', 'test')) -> dict:
    """Fuse every pair of the given splits of an MSRS-layout dataset by averaging.

    Returns ``{split: number of images}``.  Each split's stems follow ``ROOT/<split>.txt``
    where it exists (as the benchmark datasets do), else every pair of ``ROOT/<split>/``.
    """
    from ..data.io import read_infrared, read_visible

    counts = {}
    for split in splits:
        listing = MSRSDataset(data_root=data_root, split=split, split_file=None,
                              with_label=False, lazy_init=True, pipeline=[])
        folder = os.path.join(out_dir, split, 'fused')
        os.makedirs(folder, exist_ok=True)
        items = listing.load_data_list()
        for item in items:
            fused = average_fusion(read_infrared(item['ir_path']), read_visible(item['vi_path']))
            Image.fromarray(fused).save(os.path.join(folder, f"{item['name']}.png"))
        counts[split] = len(items)
    manifest = dict(method='average', description='(ir + vi) / 2 per RGB channel',
                    params=0, flops=0, source=os.path.abspath(data_root), images=counts)
    with open(os.path.join(out_dir, 'manifest.json'), 'w', encoding='utf-8') as handle:
        json.dump(manifest, handle, indent=2)
    return counts
