"""The full PSFusion objective (paper eq. 22) as a module registered in the ``psfusion`` scope.

``L = lambda_f (L_int + L_text + alpha L_corr) + lambda_sf (L_sf_vi + L_sf_ir)
      + lambda_se (L_se + L_bd + L_bi)``

:meth:`PSFusionLoss.forward` returns one entry per term, each already multiplied by its weight,
so mmengine's ``parse_losses`` sums them to ``L`` and the log shows every term.  The entry
``corr_denominator`` (not a loss: no ``loss`` in its name, so not summed) logs the mean
``corr(f, ir) + corr(f, vi)``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from ..registry import MODELS
from .fidelity import scene_fidelity_loss
from .fusion import correlation_loss, intensity_loss, texture_loss
from .semantic import (boundary_cross_entropy, enet_class_weights_of_share, ohem_cross_entropy,
                       weighted_cross_entropy)

#: Where the binary head's class weights come from (``binary_weights``).
BINARY_WEIGHTS = ('dataset', 'batch', 'reference')
#: The official code's fixed binary weights (``pos_weight``): ENet weights of a 3.155 % foreground.
REFERENCE_BINARY_WEIGHTS = (1.4548, 19.8962)


@MODELS.register_module()
class PSFusionLoss(nn.Module):
    """Weights and options of the PSFusion losses (defaults: the paper, section 4.1).

    Args:
        lambda_f, lambda_sf, lambda_se, alpha: the weights of eq. 20 and 22.
        intensity: ``'mask'`` (eq. 17), ``'plain'`` (eq. 23, "w/o mask" ablation) or
            ``'reference'`` (the authors' code); see :func:`~.fusion.intensity_loss`.
        variance_window, variance_sigma: Gaussian window of the contrast masks (eq. 16).
        fidelity_gradient: ``'sobel'`` (paper) or ``'second_order'`` (reference) in eq. 21.
        corr_floor: where the correlation term's reciprocal turns linear
            (:func:`~.fusion.guarded_reciprocal`).
        ohem_thresh, ohem_min_kept_ratio: OHEM probability threshold and minimum kept share.
        binary_weights: the binary head's class weights (ENet, ``1 / ln(1.02 + p)``):
            ``'dataset'`` (default): from the foreground share of the whole training split,
            computed once before training (:class:`~psfusion.engine.hooks.BinaryClassWeightHook`,
            which ``tools/train_fusion.py`` adds); ``'batch'``: from each batch's labels (the
            weights then swing with the crop: the fg/bg ratio measured from about 6 to 24);
            ``'reference'``: the official code's fixed ``(1.4548, 19.8962)``.
        binary_class_weight: fixed (background, foreground) weights; overrides
            ``binary_weights`` when given.
        padding: border handling of the contrast masks' variance and the Sobel gradients:
            ``'border'`` (reflect / replicate) or ``'zeros'`` (the official code's).
        ignore_index: label value to ignore.
    """

    def __init__(self, lambda_f: float = 10.0, lambda_sf: float = 5.0,
                 lambda_se: float = 10.0, alpha: float = 0.1, intensity: str = 'mask',
                 variance_window: int = 9, variance_sigma: float = 1.5,
                 fidelity_gradient: str = 'sobel', corr_floor: float = 0.5,
                 ohem_thresh: float = 0.75, ohem_min_kept_ratio: float = 1 / 16,
                 binary_weights: str = 'dataset',
                 binary_class_weight: Optional[Sequence[float]] = None,
                 padding: str = 'border', ignore_index: int = 255) -> None:
        super().__init__()
        self.lambda_f, self.lambda_sf, self.lambda_se, self.alpha = (lambda_f, lambda_sf,
                                                                     lambda_se, alpha)
        self.intensity = intensity
        self.variance_window, self.variance_sigma = variance_window, variance_sigma
        self.fidelity_gradient = fidelity_gradient
        self.corr_floor = corr_floor
        self.ohem_thresh, self.ohem_min_kept_ratio = ohem_thresh, ohem_min_kept_ratio
        if binary_weights not in BINARY_WEIGHTS:
            raise ValueError(f'binary_weights must be one of {BINARY_WEIGHTS}, got '
                             f'{binary_weights!r}')
        self.binary_weights = binary_weights
        if binary_class_weight is None and binary_weights == 'reference':
            binary_class_weight = REFERENCE_BINARY_WEIGHTS
        self.binary_class_weight = binary_class_weight
        self.padding = padding
        self.ignore_index = ignore_index
        #: the training split's foreground share (``binary_weights='dataset'``), set by
        #: :meth:`set_foreground_share` before training
        self.foreground_share: Optional[float] = None

    @property
    def needs_foreground_share(self) -> bool:
        """Whether the binary weights wait for :meth:`set_foreground_share`."""
        return self.binary_class_weight is None and self.binary_weights == 'dataset'

    def set_foreground_share(self, share: float) -> None:
        """Fix the binary weights to the ENet weights of the training split's foreground share
        (``binary_weights='dataset'``)."""
        if not 0 < share < 1:
            raise ValueError(f'the foreground share must be in (0, 1), got {share!r}: the '
                             f'training labels hold no foreground or no background pixel.')
        self.foreground_share = float(share)

    def binary_weight(self) -> Optional[Sequence[float]]:
        """The binary head's (background, foreground) weights; ``None``: from the batch."""
        if self.binary_class_weight is not None:
            return self.binary_class_weight
        if self.binary_weights == 'batch':
            return None
        if self.foreground_share is None:
            raise RuntimeError(
                "binary_weights='dataset' needs the training split's foreground share before the "
                'first loss: train with tools/train_fusion.py (it adds BinaryClassWeightHook), '
                "call loss.set_foreground_share(share), or set binary_weights='batch' or "
                "'reference'.")
        return enet_class_weights_of_share(self.foreground_share).tolist()

    @staticmethod
    def check_semantic_labels(labels: dict) -> None:
        """Raise a ValueError that says what to do when a semantic label field is missing."""
        missing = [k for k in ('sem_seg', 'binary', 'boundary') if labels.get(k) is None]
        if missing:
            raise ValueError(
                f'the semantic heads need labels {missing}: train on a labelled dataset with '
                f'DeriveFusionLabels in the pipeline, or build the model with with_s2p2=False '
                f'(fusion without the semantic path).')

    def forward(self, outputs: dict, ir: torch.Tensor, vi_y: torch.Tensor,
                labels: dict) -> dict:
        """Loss terms.

        Args:
            outputs: the network's outputs: ``fused`` (``B x 1 x H x W``), and when present
                ``vi_rec``, ``ir_rec`` (scene fidelity path) and ``semantic``, ``binary``,
                ``boundary`` logits (sparse semantic perception path).
            ir, vi_y: the infrared image and the visible Y channel, ``B x 1 x H x W`` in [0, 1].
            labels: ``target`` (``B x 1 x H x W`` 0/1 salient-target mask or ``None``) and, for
                the semantic terms, ``sem_seg``, ``binary``, ``boundary`` (``B x H x W`` int64).
        """
        fused = outputs['fused']
        losses = {}
        f_int = intensity_loss(fused, ir, vi_y, labels.get('target'), self.intensity,
                               self.variance_window, self.variance_sigma, self.padding)
        f_corr, denom = correlation_loss(fused, ir, vi_y, self.corr_floor)
        losses['loss_int'] = self.lambda_f * f_int
        losses['loss_text'] = self.lambda_f * texture_loss(fused, ir, vi_y, self.padding)
        losses['loss_corr'] = self.lambda_f * self.alpha * f_corr
        losses['corr_denominator'] = denom.mean()
        if outputs.get('vi_rec') is not None:
            losses['loss_sf_vi'] = self.lambda_sf * scene_fidelity_loss(
                outputs['vi_rec'], vi_y, self.fidelity_gradient, self.padding)
            losses['loss_sf_ir'] = self.lambda_sf * scene_fidelity_loss(
                outputs['ir_rec'], ir, self.fidelity_gradient, self.padding)
        if outputs.get('semantic') is not None:
            self.check_semantic_labels(labels)
            ignore = self.ignore_index
            losses['loss_se'] = self.lambda_se * ohem_cross_entropy(
                outputs['semantic'], labels['sem_seg'], self.ohem_thresh,
                self.ohem_min_kept_ratio, ignore)
            losses['loss_bd'] = self.lambda_se * boundary_cross_entropy(
                outputs['boundary'], labels['boundary'], ignore)
            losses['loss_bi'] = self.lambda_se * weighted_cross_entropy(
                outputs['binary'], labels['binary'], self.binary_weight(), ignore)
        return losses
