"""Loading steps of the segmentation pipelines (registered in ``psfusion``).

mmseg's own transforms (``RandomResize``, ``RandomCrop``, ``PhotoMetricDistortion``, ...) expect
an ``H x W x 3`` uint8 image in **BGR** order (what ``LoadImageFromFile`` gives), and the data
preprocessor's ``bgr_to_rgb=True`` turns it back to RGB before normalising with RGB mean/std.
:class:`LoadSourceImage` therefore returns BGR whatever the source, so every mmseg step and
config value keeps its usual meaning.  Under mmseg's default scope refer to these steps as
``'psfusion.LoadSourceImage'`` and ``'psfusion.LoadClassIdLabel'``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from ..data.io import IGNORE_INDEX, DataError, read_infrared, read_label, read_visible
from ..registry import TRANSFORMS

#: What a segmenter's input image can be: the infrared image, the visible one, or a fused one.
MODALITIES = ('ir', 'vi', 'fused')


def read_source_rgb(path: str, modality: str, channels: Optional[Sequence[int]] = None
                    ) -> np.ndarray:
    """Read one source image as ``H x W x 3`` uint8 RGB.

    ``ir``: the infrared image replicated to 3 channels; ``vi``: visible RGB (grey replicated);
    ``fused``: a fused image, colour or grey (replicated).  ``channels`` selects the modality's
    channels of a file holding both (as the dataset layout says, e.g. MFNet's thermal channel 3).
    """
    if modality == 'ir':
        return np.repeat(read_infrared(path, channels), 3, axis=2)
    if modality in ('vi', 'fused'):
        return read_visible(path, channels)
    raise ValueError(f'unknown modality {modality!r}; expected one of {", ".join(MODALITIES)}')


@TRANSFORMS.register_module()
class LoadSourceImage(BaseTransform):
    """Read ``img_path`` (channels ``img_channels``) as the sample's ``img_modality``, as a
    3-channel BGR uint8 image.

    Sets ``img``, ``img_shape`` and ``ori_shape`` like mmseg's ``LoadImageFromFile``.
    """

    def transform(self, results: dict) -> dict:
        rgb = read_source_rgb(results['img_path'], results.get('img_modality', 'vi'),
                              results.get('img_channels'))
        results['img'] = np.ascontiguousarray(rgb[..., ::-1])
        results['img_shape'] = rgb.shape[:2]
        results['ori_shape'] = rgb.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadClassIdLabel(BaseTransform):
    """Read ``seg_map_path`` (class ids, 255 = ignore) into ``gt_seg_map``.

    Ids outside ``0 .. num_classes-1`` and 255 raise a DataError naming the file; a label whose
    size differs from the original image size raises too.  ``num_classes``: the sample's (its
    dataset's class count), else the argument, else nine (MSRS).
    """

    def __init__(self, num_classes: Optional[int] = None,
                 ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        num_classes = results.get('num_classes') or self.num_classes or 9
        label = read_label(results['seg_map_path'], num_classes, self.ignore_index)
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(label.shape) != tuple(ori_shape[:2]):
            raise DataError(
                f'size mismatch: label {results["seg_map_path"]} is '
                f'{label.shape[1]}x{label.shape[0]} but the image {results.get("img_path")} is '
                f'{ori_shape[1]}x{ori_shape[0]} (width x height).')
        results['gt_seg_map'] = label
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results
