"""Batching for PSFusion: uint8 samples from :class:`~psfusion.data.PackFusionInputs` -> float
tensors in [0, 1] (no mean/std normalisation, paper section 4.1) and padded label fields.

Every sample of a batch is padded at the bottom/right to the batch's largest size rounded up to
``size_divisor`` (32: the network downsamples five times).  Images are padded by reflection (by
replication where an image is too small to reflect), labels with ``ignore_index``; the network
therefore never sees a resized image and ``img_shape`` in each sample's metainfo still tells
which top-left window is real.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from ..registry import MODELS

LABEL_FIELDS = ('gt_sem_seg', 'gt_binary', 'gt_boundary', 'gt_target')


def _pad_image(img: torch.Tensor, height: int, width: int) -> torch.Tensor:
    pad_h, pad_w = height - img.shape[-2], width - img.shape[-1]
    if pad_h == 0 and pad_w == 0:
        return img
    mode = 'reflect' if pad_h < img.shape[-2] and pad_w < img.shape[-1] else 'replicate'
    return F.pad(img[None], (0, pad_w, 0, pad_h), mode=mode)[0]


def _pad_label(label: torch.Tensor, height: int, width: int, value: int) -> torch.Tensor:
    pad_h, pad_w = height - label.shape[-2], width - label.shape[-1]
    if pad_h == 0 and pad_w == 0:
        return label
    return F.pad(label, (0, pad_w, 0, pad_h), value=value)


@MODELS.register_module()
class FusionDataPreprocessor(BaseDataPreprocessor):
    """Stack ``inputs['ir']`` (1 channel) and ``inputs['vi']`` (RGB) as float in [0, 1].

    Accepts mmengine's ``pseudo_collate`` output (``inputs = {'ir': [...], 'vi': [...]}``) or a
    list of per-sample input dicts.  Returns ``dict(inputs=dict(ir=B x 1 x H x W,
    vi=B x 3 x H x W), data_samples=[...])`` with each sample's label fields padded to ``H x W``
    and ``batch_input_shape`` added to its metainfo.
    """

    def __init__(self, size_divisor: int = 32, ignore_index: int = 255,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking)
        self.size_divisor = size_divisor
        self.ignore_index = ignore_index

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = {key: [sample[key] for sample in inputs] for key in ('ir', 'vi')}
        samples: Optional[Sequence] = data.get('data_samples')
        irs, vis = list(inputs['ir']), list(inputs['vi'])
        if torch.is_tensor(inputs['ir']):  # already a batch tensor
            irs, vis = list(inputs['ir'].unbind(0)), list(inputs['vi'].unbind(0))
        div = self.size_divisor
        height = -(-max(t.shape[-2] for t in irs) // div) * div
        width = -(-max(t.shape[-1] for t in irs) // div) * div
        ir = torch.stack([_pad_image(self._to_unit(t), height, width) for t in irs])
        vi = torch.stack([_pad_image(self._to_unit(t), height, width) for t in vis])
        if samples is not None:
            for sample in samples:
                sample.set_metainfo(dict(batch_input_shape=(height, width)))
                for field in LABEL_FIELDS:
                    if field in sample:
                        data_ = getattr(sample, field).data
                        sample.set_field(
                            PixelData(data=_pad_label(data_, height, width, self.ignore_index)),
                            field)
        return self.cast_data(dict(inputs=dict(ir=ir, vi=vi), data_samples=samples))

    @staticmethod
    def _to_unit(img: torch.Tensor) -> torch.Tensor:
        if img.dtype == torch.uint8:
            return img.float().div_(255.0)
        return img.float()
