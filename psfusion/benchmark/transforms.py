"""Loading steps of the segmentation pipelines (registered in ``psfusion``).

mmseg's own transforms (``RandomResize``, ``RandomCrop``, ``PhotoMetricDistortion``, ...) expect
an ``H x W x 3`` uint8 image in **BGR** order (what ``LoadImageFromFile`` gives), and the data
preprocessor's ``bgr_to_rgb=True`` turns it back to RGB before normalising with RGB mean/std.
:class:`LoadSourceImage` therefore returns BGR whatever the source, so every mmseg step and
config value keeps its usual meaning.  Under mmseg's default scope refer to these steps as
``'psfusion.LoadSourceImage'`` and ``'psfusion.LoadClassIdLabel'``.
"""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from ..data.io import IGNORE_INDEX, NUM_CLASSES, DataError, read_infrared, read_label, \
    read_mfnet, read_visible
from ..registry import TRANSFORMS

#: How each ``img_kind`` of a sample is read, as an RGB ``H x W x 3`` array.
IMAGE_KINDS = ('ir', 'vi', 'fused', 'mfnet_ir', 'mfnet_vi')


def read_source_rgb(path: str, kind: str) -> np.ndarray:
    """Read one source image as ``H x W x 3`` uint8 RGB.

    ``ir``: single-channel infrared replicated to 3 channels; ``vi``: visible RGB (grey
    replicated); ``fused``: a fused image, colour or grey (replicated); ``mfnet_ir`` /
    ``mfnet_vi``: the thermal / RGB part of an MFNet 4-channel PNG.
    """
    if kind == 'ir':
        return np.repeat(read_infrared(path), 3, axis=2)
    if kind in ('vi', 'fused'):
        return read_visible(path)
    if kind in ('mfnet_ir', 'mfnet_vi'):
        ir, vi = read_mfnet(path)
        return np.repeat(ir, 3, axis=2) if kind == 'mfnet_ir' else vi
    raise ValueError(f'unknown image kind {kind!r}; expected one of {", ".join(IMAGE_KINDS)}')


@TRANSFORMS.register_module()
class LoadSourceImage(BaseTransform):
    """Read ``img_path`` as the sample's ``img_kind`` says, as a 3-channel BGR uint8 image.

    Sets ``img``, ``img_shape`` and ``ori_shape`` like mmseg's ``LoadImageFromFile``.
    """

    def transform(self, results: dict) -> dict:
        rgb = read_source_rgb(results['img_path'], results.get('img_kind', 'vi'))
        results['img'] = np.ascontiguousarray(rgb[..., ::-1])
        results['img_shape'] = rgb.shape[:2]
        results['ori_shape'] = rgb.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadClassIdLabel(BaseTransform):
    """Read ``seg_map_path`` (class ids, 255 = ignore) into ``gt_seg_map``.

    Ids outside ``0 .. num_classes-1`` and 255 raise a DataError naming the file; a label whose
    size differs from the original image size raises too.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        label = read_label(results['seg_map_path'], self.num_classes, self.ignore_index)
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(label.shape) != tuple(ori_shape[:2]):
            raise DataError(
                f'size mismatch: label {results["seg_map_path"]} is '
                f'{label.shape[1]}x{label.shape[0]} but the image {results.get("img_path")} is '
                f'{ori_shape[1]}x{ori_shape[0]} (width x height).')
        results['gt_seg_map'] = label
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results
