"""Losses of the sparse semantic perception path (paper section 3.2.2, after GMNet):
OHEM cross-entropy for the semantic head, class-weighted cross-entropy for the binary head and
plain cross-entropy for the boundary head.  Logits ``B x K x H x W``, labels ``B x H x W`` int64
with ``ignore_index`` (255) for unlabelled pixels.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F


def ohem_min_kept(num_pixels: int, ratio: float = 1 / 16) -> int:
    """Minimum number of pixels OHEM keeps: ``ratio`` of the batch's pixels (at least 1).

    The reference fixes 65,536 (= 16 x 256 x 256 / 16: its batch 16 at 256 x 256), which
    indexes past the end of the loss vector for smaller batches; a ratio scales with the batch.
    """
    return max(1, int(num_pixels * ratio))


def ohem_cross_entropy(logits: torch.Tensor, target: torch.Tensor, thresh: float = 0.75,
                       min_kept_ratio: float = 1 / 16,
                       ignore_index: int = 255) -> torch.Tensor:
    """Online hard example mining cross-entropy (Wu et al.'s OhemCELoss, as BiSeNet uses it).

    Pixels whose true-class probability is below ``thresh`` (loss above ``-log(thresh)``) are
    hard.  If at least ``min_kept`` labelled pixels are hard, the loss is the mean over all hard
    pixels; otherwise it is the mean of the ``min_kept`` largest losses.  ``min_kept`` is
    :func:`ohem_min_kept` of the batch's pixel count, capped at the labelled pixel count.

    Written without data-dependent shapes or host reads (no boolean indexing, no ``.item()``):
    both candidates are computed and one is selected on the device, so a GPU step never waits
    for this loss.  The ``min_kept`` largest losses are the top ``ohem_min_kept`` of all pixels
    with unlabelled ones at -1 (labelled losses are >= 0), masked past the labelled count.
    """
    loss = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction='none')
    valid = (target != ignore_index).flatten()
    loss = loss.flatten()
    n_valid = valid.sum()
    hard = (loss > -math.log(thresh)) & valid
    n_hard = hard.sum()
    k = min(ohem_min_kept(target.numel(), min_kept_ratio), loss.numel())
    top = torch.where(valid, loss, loss.new_full((), -1.0)).topk(k).values
    kept = torch.minimum(n_valid, n_hard.new_tensor(k))
    in_top = torch.arange(k, device=loss.device) < kept
    top_mean = (top * in_top).sum() / kept.clamp_min(1)
    hard_mean = (loss * hard).sum() / n_hard.clamp_min(1)
    # no labelled pixel: kept is 0 and the top mean is a graph-keeping zero
    return torch.where(n_hard >= kept.clamp_min(1), hard_mean, top_mean)


def enet_class_weights(target: torch.Tensor, num_classes: int = 2, c: float = 1.02,
                       ignore_index: int = 255) -> torch.Tensor:
    """ENet class weights ``1 / ln(c + p_k)`` from the label frequencies ``p_k`` of ``target``.

    The reference's hard-coded binary weights (1.4548, 19.8962) are exactly this formula for a
    foreground share of 3.155 % (the MSRS training set); computing it from the labels makes the
    weight follow the data.  Counted by comparison with each class (no host read).
    """
    classes = torch.arange(num_classes, device=target.device).view(-1, 1)
    counts = (target.flatten()[None] == classes).sum(dim=1).float()
    freq = counts / counts.sum().clamp_min(1)
    return 1.0 / torch.log(c + freq)


def enet_class_weights_of_share(foreground: float, c: float = 1.02) -> torch.Tensor:
    """ENet weights ``(1 / ln(c + 1 - p), 1 / ln(c + p))`` of a foreground share ``p``
    (background first): for the MSRS training set's 3.155 % these are the official code's
    ``(1.4548, 19.8962)``."""
    freq = torch.tensor([1.0 - foreground, foreground], dtype=torch.float64)
    return (1.0 / torch.log(c + freq)).float()


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                           class_weight: Optional[Sequence[float] | torch.Tensor] = None,
                           ignore_index: int = 255) -> torch.Tensor:
    """Class-weighted cross-entropy (binary head), normalised by the summed weights of the
    labelled pixels (0 when there are none).  ``class_weight=None``: :func:`enet_class_weights`
    of ``target``."""
    if class_weight is None:
        weight = enet_class_weights(target, logits.shape[1], ignore_index=ignore_index)
    else:
        weight = torch.as_tensor(class_weight, dtype=logits.dtype)
    return _normalised_cross_entropy(logits, target, weight.to(logits), ignore_index)


def boundary_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                           ignore_index: int = 255) -> torch.Tensor:
    """Plain cross-entropy of the boundary head (2 classes; 0 without labelled pixels)."""
    return _normalised_cross_entropy(logits, target, None, ignore_index)


def _normalised_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                              weight: Optional[torch.Tensor], ignore_index: int) -> torch.Tensor:
    """``F.cross_entropy``'s weighted mean over labelled pixels, written as a sum over a clamped
    denominator: the same value, and a graph-keeping 0 instead of 0/0 when no pixel is
    labelled, without asking the device whether any is (a host-device synchronisation)."""
    total = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index,
                            reduction='sum')
    valid = target != ignore_index
    if weight is None:
        denominator = valid.sum().to(total.dtype)
    else:
        denominator = weight[torch.where(valid, target, 0)].mul(valid).sum()
    return total / denominator.clamp_min(torch.finfo(total.dtype).tiny)
