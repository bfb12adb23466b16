"""Small building blocks shared by the PSFusion modules.

``conv_bn_act`` is mmcv's :class:`~mmcv.cnn.ConvModule` with the project's defaults spelled out
(BatchNorm, ReLU, "same" padding); ``bias`` is explicit because the reference network keeps a
bias in front of some BatchNorms and the parameter count should match it.
"""
from __future__ import annotations

import warnings
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import nn

BN = dict(type='BN')


def conv_bn_act(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                groups: int = 1, bias: bool = False, norm: bool = True,
                act: Optional[str] = 'ReLU') -> ConvModule:
    """Conv (``kernel_size``, "same" padding) -> BatchNorm -> activation (``None``: none)."""
    with warnings.catch_warnings():
        # a bias before BatchNorm is redundant but deliberate where the reference has one
        warnings.filterwarnings('ignore', message='Unnecessary conv bias')
        return ConvModule(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
            groups=groups, bias=bias, norm_cfg=BN if norm else None,
            act_cfg=dict(type=act) if act else None)


class FReLU(nn.Module):
    """Funnel activation ``max(x, BN(DWConv3x3(x)))`` (Ma et al., 2020), used by the SFEBs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.spatial = conv_bn_act(channels, channels, 3, groups=channels, bias=True, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(x, self.spatial(x))


class ChannelGate(nn.Sequential):
    """SE-style gate ``BN(Conv1x1(ReLU(BN(Conv1x1(GAP(x))))))`` (reduction ``r``), no sigmoid.

    Used for the "global" branch of the SDFM weight and of the scene-fidelity mask and for the
    SDFM's cross reinforcement.
    """

    def __init__(self, in_channels: int, out_channels: Optional[int] = None,
                 reduction: int = 4) -> None:
        out_channels = out_channels or in_channels
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            conv_bn_act(in_channels, in_channels // reduction, 1, bias=True),
            conv_bn_act(in_channels // reduction, out_channels, 1, bias=True, act=None))


def conv_bn_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv -> BatchNorm -> BatchNorm -> activation: the official code's S2PM and DSRM blocks
    (its ``BasicConv2d`` ends in a BatchNorm without ReLU, and the block adds another BatchNorm
    and the ReLU).  Only for loading the authors' weights (``double_bn=True``)."""
    return nn.Sequential(conv_bn_act(in_channels, out_channels, kernel_size, act=None),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def resize(x: torch.Tensor, size: Sequence[int], align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize to ``size`` (h, w); a no-op when the size already matches.

    ``align_corners=True`` is the official code's upsampling in the semantic branch
    (``nn.Upsample(..., align_corners=True)``, ``nn.UpsamplingBilinear2d``)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=align_corners)


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """``(tanh(x) + 1) / 2``: the reference's output activation, an image in (0, 1)."""
    return (torch.tanh(x) + 1) * 0.5
