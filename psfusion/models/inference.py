"""Inference-only rewrites of a trained network (the fused-dataset writer uses them).

:func:`fold_batchnorm` merges every eval-mode BatchNorm that directly follows a convolution into
that convolution's weights (``w' = w * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps)
+ beta``), removing one full pass over each feature map: the same function, fewer memory passes.
"""
from __future__ import annotations

import torch
from mmcv.cnn import ConvModule
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .encoder import ModalityEncoder


def _fold(owner: nn.Module, conv_name: str, norm_name: str) -> bool:
    conv, norm = getattr(owner, conv_name, None), getattr(owner, norm_name, None)
    if not isinstance(conv, nn.Conv2d) or not isinstance(norm, nn.BatchNorm2d):
        return False
    setattr(owner, conv_name, fuse_conv_bn_eval(conv, norm))
    setattr(owner, norm_name, nn.Identity())
    return True


def fold_batchnorm(model: nn.Module) -> int:
    """Fold conv -> BatchNorm pairs of an eval-mode ``model`` in place; returns how many.

    Handles mmcv ``ConvModule`` (conv before norm), mmpretrain ResNet blocks (``convN`` /
    ``normN``, and ``downsample`` sequences), plain ``nn.Sequential`` conv/BN neighbours and the
    SFEB2 -> trunk BatchNorm junction of :class:`~.encoder.ModalityEncoder`.
    """
    if model.training:
        raise RuntimeError('fold_batchnorm needs an eval-mode model (call model.eval())')
    folded = 0
    for module in list(model.modules()):
        if isinstance(module, ConvModule):
            if module.with_norm and module.order.index('conv') + 1 == module.order.index('norm'):
                folded += _fold(module, 'conv', module.norm_name)
        elif isinstance(module, ModalityEncoder):
            conv = module.sfeb2[-1]
            norm = module.trunk.norm1
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module.sfeb2[-1] = fuse_conv_bn_eval(conv, norm)
                setattr(module.trunk, module.trunk.norm1_name, nn.Identity())
                folded += 1
        elif isinstance(module, nn.Sequential):
            names = list(module._modules)
            for first, second in zip(names, names[1:]):
                folded += _fold(module, first, second)
        elif isinstance(module, (BasicBlock, Bottleneck)):
            for i in (1, 2, 3):
                if hasattr(module, f'norm{i}_name'):
                    folded += _fold(module, f'conv{i}', getattr(module, f'norm{i}_name'))
    return folded


def prepare_for_inference(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """Eval mode, BatchNorm folded, optionally channels-last weights; returns ``model``."""
    model.eval()
    fold_batchnorm(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    for param in model.parameters():
        param.requires_grad_(False)
    return model
