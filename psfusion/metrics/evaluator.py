"""``FusionQualityMetric``: the fusion metrics as an mmengine ``Metric`` for validation.

Each fused output is first turned into what would be saved (``round(clip(x, 0, 1) * 255)`` as
uint8 for float outputs), cropped to ``img_shape`` (undoing ``PadToMultiple``), and scored
against the batch's source images with :func:`~psfusion.metrics.scoring.score_images`.
``compute_metrics`` reports the mean over the validation set of each metric (NaN values, e.g.
SCD of a constant image, are left out of the mean and counted in the log).

Config::

    val_evaluator = dict(type='psfusion.FusionQualityMetric',
                         metrics=['EN', 'SD', 'AG', 'SF', 'SCD', 'VIF'], profile='default')
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..registry import METRICS
from .profiles import get_profile
from .scoring import PAPER_METRICS, resolve_metrics, score_images


def _field(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    return getattr(container, key, None)


def _as_uint8_hwc(image: Any, what: str) -> np.ndarray:
    """``C x H x W`` / ``H x W`` tensor or array -> ``H x W [x C]`` uint8 numpy."""
    if isinstance(image, dict):  # PixelData.to_dict(), as mmengine's Evaluator hands it
        image = image['data']
    elif hasattr(image, 'data') and not isinstance(image, (torch.Tensor, np.ndarray)):
        image = image.data  # PixelData
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.is_floating_point():
            image = (image.clamp(0, 1) * 255).round()
        array = image.to(torch.uint8).numpy()
    elif isinstance(image, np.ndarray):
        array = image
        if np.issubdtype(array.dtype, np.floating):
            array = np.rint(np.clip(array, 0, 1) * 255)
        array = array.astype(np.uint8)
    else:
        raise TypeError(f'{what}: expected a tensor or array, got {type(image).__name__}')
    if array.ndim == 3:
        array = array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))
    if array.ndim != 2 and not (array.ndim == 3 and array.shape[2] in (3, 4)):
        raise ValueError(f'{what}: expected C x H x W with C in 1, 3, 4, got shape '
                         f'{tuple(image.shape)}')
    return array


@METRICS.register_module()
class FusionQualityMetric(BaseMetric):
    """Fusion quality metrics (EN, SD, AG, SF, SCD, VIF by default) during validation.

    Args:
        metrics: names from :data:`~psfusion.metrics.scoring.ALL_METRICS`.
        profile: ``'default'``, ``'vifb'`` or ``'tang_matlab'``.
        fused_key: field of each output data sample holding the fused image (``1 x H x W`` or
            ``3 x H x W``; float in [0, 1] or uint8).
        source_keys: keys of ``data_batch['inputs']`` (or of the data samples) holding the
            infrared and visible images.
    """

    default_prefix: Optional[str] = 'fusion'

    def __init__(self, metrics: Sequence[str] | str = PAPER_METRICS, profile: str = 'default',
                 fused_key: str = 'pred_fused', source_keys: Sequence[str] = ('ir', 'vi'),
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.metrics = resolve_metrics(metrics)
        self.profile = get_profile(profile).name
        self.fused_key = fused_key
        self.source_keys = tuple(source_keys)

    def _source(self, data_batch: Any, sample: Any, index: int, key: str) -> Any:
        inputs = _field(data_batch, 'inputs') if data_batch is not None else None
        if isinstance(inputs, (list, tuple)):  # one dict of images per sample
            inputs = inputs[index] if index < len(inputs) else None
            if _field(inputs, key) is not None:
                return _field(inputs, key)
        elif inputs is not None and _field(inputs, key) is not None:
            return _field(inputs, key)[index]
        image = _field(sample, key)
        if image is None:
            raise KeyError(f'FusionQualityMetric: no {key!r} source image in '
                           f"data_batch['inputs'] nor in the data sample; set source_keys")
        return image

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            fused = _field(sample, self.fused_key)
            if fused is None:
                raise KeyError(f'FusionQualityMetric: the model output has no '
                               f'{self.fused_key!r} field; set fused_key to the field that '
                               f'holds the fused image')
            ir, vi = (self._source(data_batch, sample, index, key) for key in self.source_keys)
            images = [_as_uint8_hwc(x, name) for x, name in
                      ((ir, self.source_keys[0]), (vi, self.source_keys[1]),
                       (fused, self.fused_key))]
            # mmengine's Evaluator hands dict copies with the metainfo keys at the top level.
            metainfo = sample if isinstance(sample, dict) else getattr(sample, 'metainfo', {})
            shape = metainfo.get('img_shape')
            if shape is not None:  # undo PadToMultiple
                images = [x[:int(shape[0]), :int(shape[1])] for x in images]
            elif len({x.shape[:2] for x in images}) != 1:
                raise ValueError(f'FusionQualityMetric: image sizes differ '
                                 f'({[x.shape[:2] for x in images]}) and the data sample has '
                                 f'no img_shape to crop them to')
            self.results.append(score_images(*images, metrics=self.metrics,
                                             profile=self.profile))

    def compute_metrics(self, results: list) -> dict[str, float]:
        out = {}
        for name in self.metrics:
            values = np.asarray([r[name] for r in results], dtype=np.float64)
            finite = values[~np.isnan(values)]
            if finite.size < values.size:
                print_log(f'FusionQualityMetric: {name} is undefined (NaN) for '
                          f'{values.size - finite.size} of {values.size} images; averaged '
                          f'over the others', logger='current')
            out[name] = float(finite.mean()) if finite.size else float('nan')
        return out
