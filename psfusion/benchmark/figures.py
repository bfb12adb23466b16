"""The figures of ``tools/make_tables.py``.

* :func:`qualitative_figure`: for a few test images, infrared | visible | fused | ground truth |
  each source's prediction, labels drawn in the dataset palette (ignored pixels white).
* :func:`complexity_figure`: the paper's Figure 3, mIoU against parameters and against GFLOPs of
  image-level pipelines (fusion network + segmenter) and feature-level models
  (:class:`ComplexityPoint`; measured points filled, reported ones hollow).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ComplexityPoint:
    """One point of :func:`complexity_figure`.

    Attributes:
        label: what the point is (``psfusion + SegFormer-B2``, ``CMX-B2``).
        kind: ``'image-level'`` (fusion network + segmenter) or ``'feature-level'``.
        measured: ours (filled marker) or reported (hollow: the mIoU quoted from a paper).
        miou: mIoU in percent.
        params: parameters of the whole pipeline.
        macs: multiply-adds of the whole pipeline for one test image (mmengine's count).
    """
    label: str
    kind: str
    measured: bool
    miou: float
    params: int
    macs: int

    @property
    def flops(self) -> int:
        """FLOPs as the project counts them: ``2 x macs``."""
        return 2 * self.macs


#: Marker colours of the two kinds of :class:`ComplexityPoint`.
KIND_COLOURS = {'image-level': 'tab:blue', 'feature-level': 'tab:red'}


def complexity_figure(out_path: str, points: Sequence[ComplexityPoint], title: str = '',
                      note: str = '') -> list[ComplexityPoint]:
    """Draw mIoU against parameters (left) and against GFLOPs (``2 x MACs``, right), one
    labelled marker per point (colour: kind; filled: measured, hollow: reported), ``note``
    below the panels; save it (PNG, atomically).  Returns the points drawn, in order."""
    from ..fileio import atomic_write
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    points = list(points)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    for axis, (xlabel, x_of) in zip(axes, (
            ('Parameters (M)', lambda p: p.params / 1e6),
            ('GFLOPs (2 x multiply-adds)', lambda p: p.flops / 1e9))):
        for point in points:
            colour = KIND_COLOURS.get(point.kind, 'tab:gray')
            axis.scatter([x_of(point)], [point.miou], s=60, edgecolors=colour, linewidths=1.6,
                         facecolors=colour if point.measured else 'none', zorder=3)
            # measured labels to the right, reported ones to the left: a reported point
            # often sits at the same complexity as the measured one
            axis.annotate(point.label, (x_of(point), point.miou), textcoords='offset points',
                          xytext=(5, 4) if point.measured else (-5, 4), fontsize=7,
                          ha='left' if point.measured else 'right')
        axis.set_xlabel(xlabel)
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel('mIoU (%)')
    handles = [Line2D([], [], linestyle='', marker='o', markersize=7, markeredgewidth=1.6,
                      markeredgecolor=colour, markerfacecolor=colour if measured else 'none',
                      label=f'{kind}, {"measured" if measured else "reported"}')
               for kind, colour in KIND_COLOURS.items() for measured in (True, False)]
    axes[1].legend(handles=handles, fontsize=8, loc='lower right')
    if title:
        fig.suptitle(title, fontsize=11)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, wrap=True, va='bottom', ha='left')
    fig.tight_layout(rect=(0, 0.16 if note else 0, 1, 0.95 if title else 1))
    try:
        atomic_write(out_path, lambda tmp: fig.savefig(tmp, format='png', dpi=110))
    finally:
        plt.close(fig)
    return points
