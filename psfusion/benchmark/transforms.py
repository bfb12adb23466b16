"""Loading steps of the segmentation pipelines (registered in ``psfusion``).

mmseg's own transforms (``RandomResize``, ``RandomCrop``, ``PhotoMetricDistortion``, ...) expect
an ``H x W x 3`` uint8 image in **BGR** order (what ``LoadImageFromFile`` gives), and the data
preprocessor's ``bgr_to_rgb=True`` turns it back to RGB before normalising with RGB mean/std.
:class:`LoadSourceImage` therefore returns BGR for every 3-channel source, so every mmseg step
and config value keeps its usual meaning.  Under mmseg's default scope refer to these steps as
``'psfusion.LoadSourceImage'``, ``'psfusion.LoadClassIdLabel'`` and
``'psfusion.VisiblePhotoMetricDistortion'``.

**The rgbt sample** (feature-level segmenters) is ``H x W x 4`` uint8 in **R, G, B, T** order
(visible RGB, then infrared) from the moment it is loaded, the order the model takes.  mmseg's
``SegDataPreProcessor`` converts BGR to RGB only for 3-channel inputs, so a 4-channel sample
must already be in model order: it passes unchanged and is normalised per channel with the
preprocessor's 4-value mean/std (visible R, G, B, then infrared; :mod:`.stats`).  The geometric
steps (``Resize``, ``RandomResize``, ``RandomCrop``, ``RandomFlip``, ``PackSegInputs``) work on
any channel count and move all four channels and the label together.  ``PhotoMetricDistortion``
does not (its hue and saturation steps convert BGR to HSV): :class:`VisiblePhotoMetricDistortion`
applies it to the visible channels, handed over as BGR as mmseg expects, and leaves the
infrared channel untouched.  An rgbt dataset puts it in place of ``PhotoMetricDistortion`` in
its pipelines itself (:func:`rgbt_pipeline`), so a feature-level run uses the very pipelines of
the image-level configs.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import PhotoMetricDistortion

from ..data.io import IGNORE_INDEX, DataError, read_infrared, read_label, read_visible
from ..errors import ConfigError
from ..registry import TRANSFORMS

#: What a segmenter's input image can be: the infrared image, the visible one, a fused one, or
#: both modalities (``rgbt``: 4 channels R, G, B, T).
MODALITIES = ('ir', 'vi', 'fused', 'rgbt')
#: The channels of an rgbt sample, in order.
RGBT_CHANNELS = ('R', 'G', 'B', 'T')


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
    if modality == 'rgbt':
        raise ValueError('an rgbt sample has two files: read it with read_rgbt (or '
                         'read_sample_image)')
    raise ValueError(f'unknown modality {modality!r}; expected one of {", ".join(MODALITIES)}')


def read_rgbt(vi_path: str, ir_path: str, vi_channels: Optional[Sequence[int]] = None,
              ir_channels: Optional[Sequence[int]] = None) -> np.ndarray:
    """Read both modalities of a sample as one ``H x W x 4`` uint8 image, **R, G, B, T**.

    ``vi_path``/``ir_path`` may be one file (MFNet: R, G, B, thermal), the channels selecting
    each modality as the dataset layout says.

    Raises:
        DataError: the two images differ in size (named, with both sizes).
    """
    rgb = read_visible(vi_path, vi_channels)
    thermal = read_infrared(ir_path, ir_channels)
    if rgb.shape[:2] != thermal.shape[:2]:
        raise DataError(f'size mismatch: infrared {ir_path} is {thermal.shape[1]}x'
                        f'{thermal.shape[0]} but visible {vi_path} is {rgb.shape[1]}x'
                        f'{rgb.shape[0]} (width x height); an rgbt sample needs registered '
                        f'pairs of one size.')
    return np.ascontiguousarray(np.concatenate([rgb, thermal], axis=2))


def read_sample_image(item: dict) -> np.ndarray:
    """The image of a dataset item (``img_path``, ``img_modality``, ``img_channels``; for
    ``rgbt`` also ``ir_path``, ``ir_channels``) as the segmenter sees it, in RGB (``H x W x 3``)
    or R, G, B, T (``H x W x 4``) order."""
    modality = item.get('img_modality', 'vi')
    if modality == 'rgbt':
        if not item.get('ir_path'):
            raise ValueError(f'rgbt sample {item.get("img_path")}: no ir_path (the infrared '
                             f'image beside the visible img_path); rgbt items come from a '
                             f"dataset with source='rgbt'")
        return read_rgbt(item['img_path'], item['ir_path'], item.get('img_channels'),
                         item.get('ir_channels'))
    return read_source_rgb(item['img_path'], modality, item.get('img_channels'))


@TRANSFORMS.register_module()
class LoadSourceImage(BaseTransform):
    """Read ``img_path`` (channels ``img_channels``) as the sample's ``img_modality``, as a
    3-channel BGR uint8 image; an ``rgbt`` sample (visible ``img_path``, infrared ``ir_path``)
    as a 4-channel one in R, G, B, T order (see the module docstring).

    Sets ``img``, ``img_shape`` and ``ori_shape`` like mmseg's ``LoadImageFromFile``.
    """

    def transform(self, results: dict) -> dict:
        image = read_sample_image(results)
        if image.shape[2] == 3:
            image = np.ascontiguousarray(image[..., ::-1])  # RGB -> BGR, mmseg's convention
        results['img'] = image
        results['img_shape'] = image.shape[:2]
        results['ori_shape'] = image.shape[:2]
        return results


@TRANSFORMS.register_module()
class VisiblePhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's ``PhotoMetricDistortion`` (same arguments, same random draws) on the visible
    channels of an R, G, B, T sample only; the infrared channel is left as it is.

    The visible channels are handed to mmseg's step as BGR, the order its hue and saturation
    steps assume, and put back as R, G, B.
    """

    def transform(self, results: dict) -> dict:
        image = results['img']
        if image.ndim != 3 or image.shape[2] != len(RGBT_CHANNELS):
            raise ConfigError(
                f'VisiblePhotoMetricDistortion expects an R, G, B, T sample (H x W x 4), got '
                f'shape {image.shape} ({results.get("img_path")}); use PhotoMetricDistortion for '
                f'3-channel images.')
        visible = {'img': np.ascontiguousarray(image[..., 2::-1])}  # R, G, B -> B, G, R
        distorted = super().transform(visible)['img']
        out = image.copy()
        out[..., :3] = distorted[..., ::-1]
        results['img'] = out
        return results


#: The step types :func:`rgbt_pipeline` replaces (mmseg's name, with and without its scope).
_PHOTOMETRIC = ('PhotoMetricDistortion', 'mmseg.PhotoMetricDistortion')


def rgbt_pipeline(pipeline: Sequence[Any]) -> list:
    """The steps of ``pipeline`` for R, G, B, T samples: each ``PhotoMetricDistortion`` becomes
    a :class:`VisiblePhotoMetricDistortion` with the same arguments (inside wrappers such as
    ``TestTimeAug`` or ``RandomChoice`` too); every other step is kept as it is.

    Step configs are copied, never changed in place.  A built ``PhotoMetricDistortion``
    instance cannot be converted and raises a ConfigError.
    """
    return [_rgbt_step(step) for step in pipeline]


def _rgbt_step(step: Any) -> Any:
    if isinstance(step, (list, tuple)):  # TestTimeAug / RandomChoice: lists of lists
        return [_rgbt_step(item) for item in step]
    if isinstance(step, dict):
        step = type(step)(step)  # a shallow copy of the same (Config)dict type
        if step.get('type') in _PHOTOMETRIC:
            step['type'] = 'psfusion.VisiblePhotoMetricDistortion'
        for key in ('transforms', 'transform'):
            if key in step:
                step[key] = _rgbt_step(step[key])
        return step
    if isinstance(step, PhotoMetricDistortion) and \
            not isinstance(step, VisiblePhotoMetricDistortion):
        raise ConfigError('an rgbt pipeline needs PhotoMetricDistortion as a config dict (it '
                          'becomes VisiblePhotoMetricDistortion); got a built instance.')
    return step


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
