"""Online hard example mining cross-entropy, as BANet is trained in SeAFusion (its ``OhemCELoss``).

Over the whole batch: the per-pixel cross-entropy ``l`` (ignored pixels give 0 and stay in the
pool), sorted in descending order; with ``t = -ln(thresh)`` (``thresh`` a probability) and
``n_min = floor(min_kept_ratio * N*H*W)``::

    if l_sorted[n_min] > t:  loss = mean(l[l > t])          (every hard pixel)
    else:                    loss = mean(l_sorted[:n_min])  (at least n_min pixels)

The reference sets ``n_min = B*640*480 // 16`` for its 640x480 crops, i.e. ``min_kept_ratio =
1/16`` of the batch's pixels, which this keeps for any crop and batch size.

Why not mmseg's: ``OHEMPixelSampler`` + ``CrossEntropyLoss`` select the same pixels but average
their loss over *all* pixels (the unselected ones count as 0), so the gradient is scaled by the
kept fraction; mmseg's ``OhemCrossEntropy`` averages over the kept pixels but keeps an absolute
``min_kept`` and cannot be called by ``BaseDecodeHead.loss_by_feat`` (which passes ``weight``
and ``ignore_index``).
"""
from __future__ import annotations

import math
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


def ohem_cross_entropy(logits: Tensor, target: Tensor, thresh: float = 0.7,
                       min_kept_ratio: float = 1 / 16, ignore_index: int = 255) -> Tensor:
    """The OHEM cross-entropy of the module docstring.

    Args:
        logits: ``(N, C, H, W)``.
        target: ``(N, H, W)`` class ids, ``ignore_index`` where unlabelled.
        thresh: probability of the true class below which a pixel is hard (0.7).
        min_kept_ratio: fraction of the batch's pixels kept at least (1/16).
        ignore_index: label of unlabelled pixels (loss 0, still in the pool).
    """
    loss = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction='none').flatten()
    if loss.numel() < 2:
        return loss.mean()
    n_min = min(max(int(loss.numel() * min_kept_ratio), 1), loss.numel() - 1)
    loss, _ = loss.sort(descending=True)
    hard = -math.log(thresh)
    if loss[n_min] > hard:
        return loss[loss > hard].mean()
    return loss[:n_min].mean()


@MODELS.register_module()
class BatchOhemCrossEntropyLoss(nn.Module):
    """:func:`ohem_cross_entropy` as an mmseg loss (``loss_decode`` of a decode head).

    Args:
        thresh: probability threshold (the reference's ``score_thres`` 0.7).
        min_kept_ratio: the reference's ``n_min`` as a fraction of the batch's pixels (1/16).
        loss_weight: factor on the loss (main head 1, auxiliary head 0.75 in ``train_seg``).
        loss_name: the name in the loss dict (must start with ``loss_`` to be optimised).
    """

    def __init__(self, thresh: float = 0.7, min_kept_ratio: float = 1 / 16,
                 loss_weight: float = 1.0, loss_name: str = 'loss_ohem'):
        super().__init__()
        if not 0 < thresh < 1:
            raise ValueError(f'thresh is a probability in (0, 1), got {thresh}')
        if not 0 < min_kept_ratio < 1:
            raise ValueError(f'min_kept_ratio must be in (0, 1), got {min_kept_ratio}')
        self.thresh = thresh
        self.min_kept_ratio = min_kept_ratio
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                ignore_index: int = 255, **kwargs) -> Tensor:
        if weight is not None:
            raise ValueError('BatchOhemCrossEntropyLoss selects its own pixels: use it without a '
                             'pixel sampler (the decode head passed per-pixel weights)')
        return self.loss_weight * ohem_cross_entropy(logits, target, self.thresh,
                                                     self.min_kept_ratio, ignore_index)

    @property
    def loss_name(self) -> str:
        return self._loss_name
