"""The qualitative figure: for a few test images, infrared | visible | fused | ground truth |
each source's prediction, labels drawn in the dataset palette (ignored pixels white).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from ..data.io import read_label
from ..data.labels import CLASSES, PALETTE, colorize
from .sources import resolve_fused_images
from .transforms import read_source_rgb


def pick_stems(stems: Sequence[str], count: int) -> list[str]:
    """``count`` stems spread evenly over the list (all of them if there are fewer)."""
    stems = list(stems)
    if count >= len(stems):
        return stems
    positions = np.linspace(0, len(stems) - 1, count).round().astype(int)
    return [stems[i] for i in positions]


def qualitative_figure(out_path: str, samples: Sequence[dict], image_kinds: tuple[str, str],
                       predictions: Sequence[tuple[str, str]],
                       fused: Optional[tuple[str, str]] = None, split: str = 'test',
                       title: str = '') -> str:
    """Draw the figure and save it (PNG).

    Args:
        out_path: output image path.
        samples: test samples (``name``, ``ir_path``, ``vi_path``, ``seg_map_path``), in the
            order of the rows.
        image_kinds: how to read ``ir_path`` and ``vi_path`` (``('ir', 'vi')``, or
            ``('mfnet_ir', 'mfnet_vi')``).
        predictions: ``(column title, folder of class-id PNGs named by stem)`` per column.
        fused: ``(title, fused-image root)`` for the fused column, or None.
        split: the split name used to find fused images.
        title: figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    stems = [sample['name'] for sample in samples]
    fused_paths = resolve_fused_images(fused[1], split, stems) if fused else {}
    columns = ['Infrared', 'Visible'] + ([fused[0]] if fused else []) + ['Ground truth'] + [
        name for name, _ in predictions
    ]
    height, width = read_label(samples[0]['seg_map_path']).shape
    size = 2.2
    fig, axes = plt.subplots(len(samples), len(columns), squeeze=False,
                             figsize=(size * len(columns) * width / height,
                                      size * len(samples) + 0.9))
    for row, sample in enumerate(samples):
        images = [read_source_rgb(sample['ir_path'], image_kinds[0]),
                  read_source_rgb(sample['vi_path'], image_kinds[1])]
        if fused:
            images.append(read_source_rgb(fused_paths[sample['name']], 'fused'))
        images.append(colorize(read_label(sample['seg_map_path'])))
        for _, folder in predictions:
            path = os.path.join(folder, f"{sample['name']}.png")
            images.append(colorize(read_label(path)) if os.path.isfile(path) else
                          np.full((height, width, 3), 255, np.uint8))
        for col, image in enumerate(images):
            axis = axes[row][col]
            axis.imshow(image)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(columns[col], fontsize=9)
            if col == 0:
                axis.set_ylabel(sample['name'], fontsize=8)
    handles = [Patch(color=np.asarray(c) / 255, label=n) for n, c in zip(CLASSES, PALETTE)]
    fig.legend(handles=handles, loc='lower center', ncol=len(CLASSES), fontsize=7,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97 if title else 1))
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
