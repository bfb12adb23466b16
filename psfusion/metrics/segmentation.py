"""Per-class semantic segmentation metric: IoU and accuracy of every class, returned (not only
logged).

mmseg's :class:`~mmseg.evaluation.IoUMetric` accumulates, over the test set, four histograms per
class ``c`` (pixels with label 255 are ignored):

* intersection ``I_c`` = pixels predicted ``c`` whose label is ``c``,
* prediction ``P_c`` and label ``L_c`` = pixels predicted / labelled ``c``,
* union ``U_c = P_c + L_c - I_c``,

and derives ``IoU_c = I_c / U_c``, ``Acc_c = I_c / L_c`` and ``aAcc = sum I / sum L``.
``mIoU`` / ``mAcc`` are the means over classes, skipping classes whose value is undefined (NaN: a
class absent from both labels and predictions, or absent from the labels for Acc).  With
``reduce_zero_label=False`` the background class counts in the mean, as in the paper.

mmseg returns only ``aAcc``, ``mIoU`` and ``mAcc`` (rounded) and logs the per-class table; the
benchmark needs every class, so :class:`PerClassIoUMetric` returns ``IoU.<class>`` and
``Acc.<class>`` too, all in percent and unrounded.  :func:`summarize_areas` and
:func:`evaluate_label_pairs` give the same numbers outside a Runner (e.g. for the predictions of
the fusion network's own semantic head, Table 5).
"""
from __future__ import annotations

import math
import os
from typing import Iterable, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric

from ..registry import METRICS

IGNORE_INDEX = 255


def summarize_areas(area_intersect: np.ndarray, area_union: np.ndarray,
                    area_label: np.ndarray, class_names: Sequence[str]) -> dict[str, float]:
    """Metrics in percent from summed per-class histograms (see the module docstring).

    Returns ``aAcc``, ``mIoU``, ``mAcc`` and, for every class name, ``IoU.<name>`` and
    ``Acc.<name>`` (NaN where undefined).
    """
    inter = np.asarray(area_intersect, np.float64)
    union = np.asarray(area_union, np.float64)
    label = np.asarray(area_label, np.float64)
    if not (len(inter) == len(union) == len(label) == len(class_names)):
        raise ValueError(f'{len(class_names)} class names for histograms of length '
                         f'{len(inter)}, {len(union)}, {len(label)}')
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / union * 100
        acc = inter / label * 100
    total = label.sum()
    metrics = {
        'aAcc': float(inter.sum() / total * 100) if total > 0 else math.nan,
        'mIoU': _nanmean(iou),
        'mAcc': _nanmean(acc),
    }
    for name, value in zip(class_names, iou):
        metrics[f'IoU.{name}'] = float(value)
    for name, value in zip(class_names, acc):
        metrics[f'Acc.{name}'] = float(value)
    return metrics


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


def label_histograms(pred: np.ndarray, label: np.ndarray, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> tuple[np.ndarray, ...]:
    """Per-class intersection, union, prediction and label pixel counts of one image.

    The same computation as mmseg's ``IoUMetric.intersect_and_union``, on numpy arrays.
    """
    if pred.shape != label.shape:
        raise ValueError(f'prediction shape {pred.shape} differs from label shape {label.shape}')
    areas = IoUMetric.intersect_and_union(
        torch.from_numpy(np.ascontiguousarray(pred).astype(np.int64)),
        torch.from_numpy(np.ascontiguousarray(label).astype(np.int64)), num_classes,
        ignore_index)
    return tuple(area.numpy().astype(np.float64) for area in areas)


def evaluate_label_pairs(pairs: Iterable[tuple[np.ndarray, np.ndarray]],
                         class_names: Sequence[str],
                         ignore_index: int = IGNORE_INDEX) -> dict[str, float]:
    """Metrics (percent) of ``(prediction, label)`` class-id maps summed over a test set."""
    num_classes = len(class_names)
    totals = [np.zeros(num_classes) for _ in range(4)]
    count = 0
    for pred, label in pairs:
        for total, area in zip(totals, label_histograms(pred, label, num_classes,
                                                        ignore_index)):
            total += area
        count += 1
    if count == 0:
        raise ValueError('no (prediction, label) pairs to evaluate')
    inter, union, _, lab = totals
    return summarize_areas(inter, union, lab, class_names)


def save_per_image(path: str, names: Sequence[str], intersect: np.ndarray, union: np.ndarray,
                   label: np.ndarray, class_names: Sequence[str]) -> None:
    """Write per-image histograms (``N x classes`` pixel counts, images in test order) to a
    ``.npz`` file, atomically: arrays ``names``, ``intersect``, ``union``, ``label`` and
    ``classes``.  Summing the rows of any subset of images and calling
    :func:`summarize_areas` gives that subset's metrics exactly."""
    from ..fileio import atomic_write

    arrays = dict(names=np.asarray(list(names), dtype=str),
                  intersect=np.asarray(intersect, np.float64),
                  union=np.asarray(union, np.float64), label=np.asarray(label, np.float64),
                  classes=np.asarray(list(class_names), dtype=str))

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(path, write)


def load_per_image(path: str) -> dict:
    """The arrays :func:`save_per_image` wrote (``names``, ``intersect``, ``union``, ``label``,
    ``classes``)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def format_class_table(metrics: dict[str, float], class_names: Sequence[str]) -> str:
    """A plain-text per-class table (IoU and Acc in percent) for logs."""
    width = max(len(name) for name in list(class_names) + ['mean'])
    lines = [f'{"class":<{width}}    IoU    Acc']
    for name in class_names:
        lines.append(f'{name:<{width}} {metrics[f"IoU.{name}"]:6.2f} '
                     f'{metrics[f"Acc.{name}"]:6.2f}')
    lines.append(f'{"mean":<{width}} {metrics["mIoU"]:6.2f} {metrics["mAcc"]:6.2f}')
    return '\n'.join(lines)


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's IoU metric returning the IoU and accuracy of every class (percent, unrounded).

    Args:
        pred_dir: if given, the prediction of every test image is written there as a class-id
            PNG named by the image's stem (mmseg's ``output_dir``), e.g. for qualitative figures.
        per_image: if given, a ``.npz`` file written with every test image's histograms
            (:func:`save_per_image`): what bootstrap intervals and day/night scores need.
        **kwargs: passed to :class:`~mmseg.evaluation.IoUMetric` (``ignore_index``, ...).
            Only ``iou_metrics=['mIoU']`` is supported.

    Under mmseg's default scope, build it as ``dict(type='psfusion.PerClassIoUMetric')``.
    """

    def __init__(self, pred_dir: Optional[str] = None, per_image: Optional[str] = None,
                 **kwargs) -> None:
        metrics = kwargs.pop('iou_metrics', ['mIoU'])
        if list(metrics) != ['mIoU']:
            raise ValueError(f'PerClassIoUMetric computes IoU and Acc only; got iou_metrics='
                             f'{metrics}')
        if kwargs.get('format_only'):
            raise ValueError('PerClassIoUMetric evaluates; use IoUMetric for format_only')
        super().__init__(iou_metrics=['mIoU'], output_dir=pred_dir, **kwargs)
        self.per_image = per_image

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """mmseg's histograms of each image, with the image's stem appended (so per-image
        results stay named after results are gathered from several processes)."""
        start = len(self.results)
        super().process(data_batch, data_samples)
        for offset, sample in enumerate(data_samples):
            stem = os.path.splitext(os.path.basename(sample['img_path']))[0]
            self.results[start + offset] = tuple(self.results[start + offset]) + (stem, )

    def compute_metrics(self, results: list) -> dict[str, float]:
        """``aAcc``, ``mIoU``, ``mAcc``, ``IoU.<class>`` and ``Acc.<class>`` in percent."""
        if not results:
            raise ValueError('PerClassIoUMetric: no results to evaluate (empty test set?)')
        class_names = self.dataset_meta['classes']
        columns = list(zip(*results))
        inter, union, _, label = (torch.stack(list(column)).numpy() for column in columns[:4])
        if self.per_image:
            names = columns[4] if len(columns) > 4 else [str(i) for i in range(len(inter))]
            save_per_image(self.per_image, names, inter, union, label, class_names)
        metrics = summarize_areas(inter.sum(0), union.sum(0), label.sum(0), class_names)
        print_log('per-class results (%):\n' + format_class_table(metrics, class_names),
                  logger=MMLogger.get_current_instance())
        return metrics
