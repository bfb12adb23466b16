"""The qualitative figure: for a few test images, infrared | visible | fused | ground truth |
each source's prediction, labels drawn in the dataset palette (ignored pixels white).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from ..data.io import read_label
from ..data.labels import colorize
from .sources import resolve_fused_images
from .transforms import read_source_rgb


def pick_stems(stems: Sequence[str], count: int) -> list[str]:
    """``count`` stems spread evenly over the list (all of them if there are fewer)."""
    stems = list(stems)
    if count >= len(stems):
        return stems
    positions = np.linspace(0, len(stems) - 1, count).round().astype(int)
    return [stems[i] for i in positions]


def qualitative_figure(out_path: str, samples: Sequence[dict], metainfo: dict,
                       predictions: Sequence[tuple[str, str]],
                       fused: Optional[tuple[str, str]] = None, split: str = 'test',
                       fused_layout_dir: Optional[str] = None, title: str = '') -> str:
    """Draw the figure and save it (PNG, atomically).

    Args:
        out_path: output image path.
        samples: test sample records of the dataset's layout (``name``, ``ir_path``,
            ``ir_channels``, ``vi_path``, ``vi_channels``, ``seg_map_path``), in row order.
        metainfo: the dataset's ``classes``, ``palette``, ``ignore_index`` (legend, colours).
        predictions: ``(column title, folder of class-id PNGs named by stem)`` per column.
        fused: ``(title, fused-image root)`` for the fused column, or None.
        split: the split name used to find fused images.
        fused_layout_dir: where the dataset's layout puts fused images of ``split`` (searched
            first).
        title: figure title.
    """
    from ..fileio import atomic_write
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    stems = [sample['name'] for sample in samples]
    fused_paths = resolve_fused_images(fused[1], split, stems, fused_layout_dir) if fused else {}
    classes, palette = metainfo['classes'], metainfo['palette']
    num_classes, ignore = len(classes), metainfo.get('ignore_index', 255)

    def label(path: str) -> np.ndarray:
        return read_label(path, num_classes, ignore)

    columns = ['Infrared', 'Visible'] + ([fused[0]] if fused else []) + ['Ground truth'] + [
        name for name, _ in predictions
    ]
    height, width = label(samples[0]['seg_map_path']).shape
    size = 2.2
    fig, axes = plt.subplots(len(samples), len(columns), squeeze=False,
                             figsize=(size * len(columns) * width / height,
                                      size * len(samples) + 0.9))
    for row, sample in enumerate(samples):
        images = [read_source_rgb(sample['ir_path'], 'ir', sample.get('ir_channels')),
                  read_source_rgb(sample['vi_path'], 'vi', sample.get('vi_channels'))]
        if fused:
            images.append(read_source_rgb(fused_paths[sample['name']], 'fused'))
        images.append(colorize(label(sample['seg_map_path']), palette))
        for _, folder in predictions:
            path = os.path.join(folder, f"{sample['name']}.png")
            images.append(colorize(label(path), palette) if os.path.isfile(path) else
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
    handles = [Patch(color=np.asarray(c) / 255, label=n) for n, c in zip(classes, palette)]
    fig.legend(handles=handles, loc='lower center', ncol=min(len(classes), 8), fontsize=7,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    legend_rows = -(-len(classes) // 8)
    fig.tight_layout(rect=(0, 0.04 * legend_rows + 0.01, 1, 0.97 if title else 1))
    try:
        atomic_write(out_path, lambda tmp: fig.savefig(tmp, format='png', dpi=110))
    finally:
        plt.close(fig)
    return out_path
