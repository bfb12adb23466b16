"""Data pipeline steps for paired infrared/visible samples (registered in ``psfusion``).

A sample is a dict.  After :class:`LoadFusionPair` it holds ``ir`` (``H x W x 1`` uint8),
``vi`` (``H x W x 3`` uint8 RGB), optionally ``gt_seg_map`` (``H x W`` uint8 class ids, 255 =
ignore), plus ``name``, ``ori_shape`` and ``img_shape``.  Geometric steps apply the *same*
operation to every image in :data:`IMAGE_KEYS` and every label in :data:`LABEL_KEYS` present,
so the modalities and labels never fall out of register.
"""
from __future__ import annotations

import random
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement, PixelData

from ..registry import TRANSFORMS
from .io import IGNORE_INDEX, DataError, read_infrared, read_label, read_visible
from .labels import DEFAULT_TARGET_CLASSES, binary_label, boundary_label, target_mask

IMAGE_KEYS = ('ir', 'vi')
LABEL_KEYS = ('gt_seg_map', 'gt_binary', 'gt_boundary', 'gt_target')


def _present(results: dict, keys: Sequence[str]) -> list[str]:
    return [key for key in keys if results.get(key) is not None]


@TRANSFORMS.register_module()
class LoadFusionPair(BaseTransform):
    """Read the infrared and visible images (and the label, if the sample has one).

    Sample keys read: ``ir_path`` / ``ir_channels`` and ``vi_path`` / ``vi_channels`` (a file
    and an optional channel selection, see :mod:`psfusion.data.layouts`), optional
    ``seg_map_path``, and ``num_classes`` (the dataset's; the argument is the fallback for
    records without it).  Sizes must agree; the error names both files.
    """

    def __init__(self, num_classes: int = 9, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        ir = read_infrared(results['ir_path'], results.get('ir_channels'))
        vi = read_visible(results['vi_path'], results.get('vi_channels'))
        if results['ir_path'] == results['vi_path']:
            where = results['ir_path']
        else:
            where = f"{results['ir_path']} and {results['vi_path']}"
        if ir.shape[:2] != vi.shape[:2]:
            raise DataError(
                f'size mismatch: {results["ir_path"]} is {ir.shape[1]}x{ir.shape[0]} but '
                f'{results["vi_path"]} is {vi.shape[1]}x{vi.shape[0]} (width x height). '
                f'Register or resize the pair to one size before fusing.')
        results['ir'], results['vi'] = ir, vi
        if results.get('seg_map_path'):
            seg = read_label(results['seg_map_path'],
                             results.get('num_classes', self.num_classes), self.ignore_index)
            if seg.shape != ir.shape[:2]:
                raise DataError(
                    f'size mismatch: label {results["seg_map_path"]} is '
                    f'{seg.shape[1]}x{seg.shape[0]} but the images ({where}) are '
                    f'{ir.shape[1]}x{ir.shape[0]} (width x height).')
            results['gt_seg_map'] = seg
        results['ori_shape'] = ir.shape[:2]
        results['img_shape'] = ir.shape[:2]
        return results


@TRANSFORMS.register_module()
class DeriveFusionLabels(BaseTransform):
    """Add ``gt_binary``, ``gt_boundary`` and ``gt_target`` derived from ``gt_seg_map``.

    Args:
        boundary_width: odd neighbourhood size of the boundary label (see
            :func:`psfusion.data.labels.boundary_label`).
        target_classes: class ids of the salient-target mask.  Default: the sample's
            ``target_classes`` (its dataset's warm objects, e.g. car, person, bike on MSRS),
            else MSRS's car, person, bike.
    """

    def __init__(self, boundary_width: int = 3,
                 target_classes: Optional[Sequence[int]] = None,
                 ignore_index: int = IGNORE_INDEX) -> None:
        self.boundary_width = boundary_width
        self.target_classes = None if target_classes is None else tuple(target_classes)
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        seg = results.get('gt_seg_map')
        if seg is None:
            return results
        results['gt_binary'] = binary_label(seg, self.ignore_index)
        results['gt_boundary'] = boundary_label(seg, self.boundary_width, self.ignore_index)
        targets = self.target_classes or tuple(results.get('target_classes') or
                                                DEFAULT_TARGET_CLASSES)
        results['gt_target'] = target_mask(seg, targets)
        return results


def _pad_bottom_right(array: np.ndarray, pad_h: int, pad_w: int, mode: str,
                      value: int = 0) -> np.ndarray:
    if pad_h == 0 and pad_w == 0:
        return array
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    if mode == 'constant':
        return np.pad(array, widths, mode='constant', constant_values=value)
    return np.pad(array, widths, mode=mode)


def pad_sample(results: dict, height: int, width: int, image_mode: str = 'reflect',
               label_value: int = IGNORE_INDEX) -> dict:
    """Pad images (``image_mode``) and labels (constant ``label_value``) at the bottom/right."""
    h, w = results[_present(results, IMAGE_KEYS)[0]].shape[:2]
    pad_h, pad_w = max(height - h, 0), max(width - w, 0)
    for key in _present(results, IMAGE_KEYS):
        results[key] = _pad_bottom_right(results[key], pad_h, pad_w, image_mode)
    for key in _present(results, LABEL_KEYS):
        results[key] = _pad_bottom_right(results[key], pad_h, pad_w, 'constant', label_value)
    return results


@TRANSFORMS.register_module()
class PairedRandomCrop(BaseTransform):
    """Crop the same random ``crop_size`` (h, w) window from every image and label.

    A sample smaller than the crop is first padded (images reflect, labels 255).
    """

    def __init__(self, crop_size: Sequence[int] | int) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        self.crop_size = tuple(int(v) for v in crop_size)

    def transform(self, results: dict) -> dict:
        ch, cw = self.crop_size
        pad_sample(results, ch, cw)
        h, w = results[_present(results, IMAGE_KEYS)[0]].shape[:2]
        top = random.randint(0, h - ch)
        left = random.randint(0, w - cw)
        for key in _present(results, IMAGE_KEYS + LABEL_KEYS):
            results[key] = np.ascontiguousarray(results[key][top:top + ch, left:left + cw])
        results['img_shape'] = (ch, cw)
        return results


@TRANSFORMS.register_module()
class PairedRandomFlip(BaseTransform):
    """Flip every image and label together: horizontally and/or vertically, each with ``prob``."""

    def __init__(self, prob: float = 0.5,
                 directions: Sequence[str] = ('horizontal', 'vertical')) -> None:
        unknown = set(directions) - {'horizontal', 'vertical'}
        if unknown:
            raise ValueError(f'unknown flip directions {sorted(unknown)}; use horizontal/vertical')
        self.prob = prob
        self.directions = tuple(directions)

    def transform(self, results: dict) -> dict:
        for direction in self.directions:
            if random.random() < self.prob:
                axis = 1 if direction == 'horizontal' else 0
                for key in _present(results, IMAGE_KEYS + LABEL_KEYS):
                    results[key] = np.ascontiguousarray(np.flip(results[key], axis=axis))
        return results


@TRANSFORMS.register_module()
class PairedRandomRot90(BaseTransform):
    """With probability ``prob``, rotate every image and label by the same random k x 90 degrees
    (k in 1..3).  Non-square samples change shape; crop to a square first for batching."""

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if random.random() < self.prob:
            k = random.randint(1, 3)
            for key in _present(results, IMAGE_KEYS + LABEL_KEYS):
                results[key] = np.ascontiguousarray(np.rot90(results[key], k, axes=(0, 1)))
            results['img_shape'] = results[_present(results, IMAGE_KEYS)[0]].shape[:2]
        return results


@TRANSFORMS.register_module()
class PadToMultiple(BaseTransform):
    """Pad at the bottom/right so height and width are multiples of ``divisor``.

    Images are padded by reflection (no resizing: the reference resizes, which blurs), labels
    with 255 (ignore).  ``img_shape`` keeps the size before padding, so
    :func:`crop_to_shape` restores the original frame; ``pad_shape`` is the padded size.
    """

    def __init__(self, divisor: int = 32, image_mode: str = 'reflect') -> None:
        self.divisor = divisor
        self.image_mode = image_mode

    def transform(self, results: dict) -> dict:
        h, w = results[_present(results, IMAGE_KEYS)[0]].shape[:2]
        ph = -(-h // self.divisor) * self.divisor
        pw = -(-w // self.divisor) * self.divisor
        pad_sample(results, ph, pw, self.image_mode)
        results['img_shape'] = (h, w)
        results['pad_shape'] = (ph, pw)
        return results


def crop_to_shape(tensor: torch.Tensor | np.ndarray, shape: Sequence[int]):
    """Undo :class:`PadToMultiple`: keep the top-left ``shape`` (h, w) of the last two axes
    (tensors, ``... x H x W``) or the first two axes (numpy ``H x W [x C]``)."""
    h, w = int(shape[0]), int(shape[1])
    if isinstance(tensor, torch.Tensor):
        return tensor[..., :h, :w]
    return tensor[:h, :w]


@TRANSFORMS.register_module()
class PackFusionInputs(BaseTransform):
    """Pack a sample for an mmengine model.

    Output: ``inputs = {'ir': uint8 tensor 1 x H x W, 'vi': uint8 tensor 3 x H x W}`` and
    ``data_samples``, a :class:`~mmengine.structures.BaseDataElement` whose metainfo holds
    ``name``, ``ori_shape``, ``img_shape``, ``pad_shape`` and the file paths, and whose fields
    ``gt_sem_seg``, ``gt_binary``, ``gt_boundary``, ``gt_target`` (``PixelData``, ``1 x H x W``
    int64) are set when the sample has them.
    """

    META_KEYS = ('name', 'ori_shape', 'img_shape', 'pad_shape', 'ir_path', 'vi_path',
                 'mfnet_path', 'seg_map_path')
    FIELD_NAMES = {'gt_seg_map': 'gt_sem_seg', 'gt_binary': 'gt_binary',
                   'gt_boundary': 'gt_boundary', 'gt_target': 'gt_target'}

    def transform(self, results: dict) -> dict:
        inputs = {
            key: torch.from_numpy(np.ascontiguousarray(results[key].transpose(2, 0, 1)))
            for key in IMAGE_KEYS
        }
        metainfo = {key: results[key] for key in self.META_KEYS if results.get(key) is not None}
        metainfo.setdefault('pad_shape', tuple(results['ir'].shape[:2]))
        sample = BaseDataElement(metainfo=metainfo)
        for key, field in self.FIELD_NAMES.items():
            if results.get(key) is not None:
                data = torch.from_numpy(results[key].astype(np.int64))[None]
                sample.set_field(PixelData(data=data), field)
        return dict(inputs=inputs, data_samples=sample)


def build_pipeline(pipeline: Optional[Sequence]) -> list:
    """Build pipeline steps given as config dicts through the ``psfusion`` registry, so that
    this project's transforms resolve whatever mmengine's current default scope is."""
    steps = []
    for step in pipeline or []:
        if isinstance(step, dict):
            step = TRANSFORMS.build(step)
        if not callable(step):
            raise TypeError(f'pipeline step {step!r} is neither a config dict nor callable')
        steps.append(step)
    return steps
