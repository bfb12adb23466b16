"""Validation metric of the fusion training: the semantic head's mIoU plus fusion statistics.

Best-checkpoint selection uses ``mIoU`` on a *validation* split (the reference selects on the
test split; the configs here never do).  Fusion statistics, averaged over images:

* ``fused_sd``: standard deviation of the fused Y channel (0-255 scale), a contrast proxy;
* ``fused_grad``: mean Sobel gradient magnitude of the fused Y channel, a sharpness proxy;
* ``target_retention`` / ``edge_retention``: see :mod:`psfusion.engine.fusion_stats`, with
  ``avg_target_retention`` / ``avg_edge_retention`` for the plain average ``(IR + VI_Y) / 2``
  of the same images as the baseline to beat.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from ..color import rgb_to_y
from ..metrics.segmentation import label_histograms, summarize_areas
from ..registry import METRICS
from .fusion_stats import (MARKING_CLASSES, TARGET_CLASSES, edge_retention,
                           gradient_magnitude, nanmean, target_contrast_retention)


def _field(sample, key: str) -> Optional[torch.Tensor]:
    """Tensor of a pixel field (``sample.key.data``), of a data sample or of its dict form (the
    evaluator hands metrics ``to_dict()`` copies); ``None`` when absent."""
    value = sample.get(key) if isinstance(sample, dict) else getattr(sample, key, None)
    if value is None:
        return None
    return value['data'] if isinstance(value, dict) else value.data


def _metainfo(sample) -> dict:
    return sample if isinstance(sample, dict) else sample.metainfo


def _batch_images(data_batch: dict, key: str) -> list:
    images = data_batch['inputs'][key] if isinstance(data_batch['inputs'], dict) else [
        sample[key] for sample in data_batch['inputs']]
    return list(images)


@METRICS.register_module()
class FusionValMetric(BaseMetric):
    """mIoU of ``pred_sem_seg`` (when the model predicts it and labels exist) and the fusion
    statistics above.  The mIoU is the benchmark's (:mod:`psfusion.metrics.segmentation`, the
    same histograms as mmseg's ``IoUMetric``).

    Args:
        num_classes: classes of the semantic labels (the dataset's ``dataset_meta`` wins when
            the Runner provides it).
        ignore_index: label value to ignore.
        target_classes, marking_classes: classes of the two retention ratios.
    """

    def __init__(self, num_classes: int = 9, ignore_index: int = 255,
                 target_classes: Sequence[int] = TARGET_CLASSES,
                 marking_classes: Sequence[int] = MARKING_CLASSES,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.target_classes, self.marking_classes = tuple(target_classes), tuple(marking_classes)

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        irs, vis = _batch_images(data_batch, 'ir'), _batch_images(data_batch, 'vi')
        for sample, ir, vi in zip(data_samples, irs, vis):
            h, w = _metainfo(sample)['img_shape']
            fused = _field(sample, 'pred_fused')[0].detach().float().cpu()
            ir = ir[0, :h, :w].float().cpu() / 255
            vi_y = rgb_to_y(vi[:, :h, :w].float().cpu() / 255)[0]
            result = dict(fused_sd=float(fused.std(unbiased=False)) * 255,
                          fused_grad=float(gradient_magnitude(fused).mean()) * 255)
            gt = _field(sample, 'gt_sem_seg')
            if gt is not None:
                seg = gt[0, :h, :w].cpu()
                average = (ir + vi_y) / 2
                for name, img in (('', fused), ('avg_', average)):
                    result[name + 'target_retention'] = target_contrast_retention(
                        img, ir, seg, self.target_classes)
                    result[name + 'edge_retention'] = edge_retention(
                        img, vi_y, seg, self.marking_classes)
                pred = _field(sample, 'pred_sem_seg')
                if pred is not None:
                    result['areas'] = label_histograms(pred[0].cpu().numpy(), seg.numpy(),
                                                       len(self.class_names),
                                                       self.ignore_index)
            self.results.append(result)

    @property
    def class_names(self) -> Sequence[str]:
        meta = self.dataset_meta or {}
        if meta.get('classes'):
            return meta['classes']
        return [str(i) for i in range(self.num_classes)]

    def compute_metrics(self, results: list) -> dict:
        metrics = {}
        for key in ('fused_sd', 'fused_grad', 'target_retention', 'edge_retention',
                    'avg_target_retention', 'avg_edge_retention'):
            values = [r[key] for r in results if key in r]
            if values:
                metrics[key] = nanmean(values)
        areas = [r['areas'] for r in results if 'areas' in r]
        if areas:
            inter, union, _, label = (sum(column) for column in zip(*areas))
            segmentation = summarize_areas(inter, union, label, self.class_names)
            metrics['mIoU'] = segmentation['mIoU']
            metrics['aAcc'] = segmentation['aAcc']
        return metrics
