"""Sparse semantic perception branch (paper eq. 11-14).

* :class:`SemanticGather` (eq. 11): each fused level 3-6 -> Conv3x3 -> bilinear up to stride 4
  -> concatenation, the initial semantic feature;
* :class:`S2PM`: three Conv3x3-BN-ReLU blocks -> ``F_se`` (stride 4), the feature that the
  scene restoration branch later receives through a SIM;
* :class:`S2P2`: the three task heads (binary, semantic, boundary).  The wiring follows the
  reference code (binary first; its foreground probability re-weights ``F_se`` for the semantic
  head; the boundary head sees the semantic feature and ``F_se``); the paper's eq. 12-14 chain
  them differently.  All logits are upsampled to the input size.

The official code upsamples with ``align_corners=True`` here (``align_corners`` switch) and its
S2PM blocks are Conv-BN-BN-ReLU (``double_bn``); the defaults are ``align_corners=False`` and
Conv-BN-ReLU, the paper's "Conv_BN" block.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .layers import conv_bn_act, conv_bn_bn_relu, resize


class SemanticGather(nn.Module):
    """Conv3x3 per level, upsample to the first level's size, concatenate (eq. 11)."""

    def __init__(self, in_channels: Sequence[int], channels: int = 64,
                 align_corners: bool = False) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.convs = nn.ModuleList(nn.Conv2d(c, channels, 3, padding=1) for c in in_channels)
        self.out_channels = channels * len(in_channels)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[-2:]
        return torch.cat([resize(conv(f), size, self.align_corners)
                          for conv, f in zip(self.convs, feats)], dim=1)


class S2PM(nn.Sequential):
    """Sparse semantic perception module: three Conv3x3-BN-ReLU blocks (Conv-BN-BN-ReLU with
    ``double_bn``, the official code's)."""

    def __init__(self, in_channels: int, channels: int = 64, num_blocks: int = 3,
                 double_bn: bool = False) -> None:
        block = conv_bn_bn_relu if double_bn else conv_bn_act
        super().__init__(*[
            block(in_channels if i == 0 else channels, channels) for i in range(num_blocks)
        ])


class S2P2(nn.Module):
    """Sparse semantic perception path: binary, semantic and boundary heads.

    ``forward(f_se, size)`` returns ``(semantic, binary, boundary)`` logits at ``size``:
    ``num_classes``, 2 and 2 channels.
    """

    def __init__(self, channels: int = 64, num_classes: int = 9,
                 align_corners: bool = False) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.binary = nn.Sequential(
            conv_bn_act(channels, channels // 4, 1, act='ReLU6'),
            nn.Conv2d(channels // 4, 2, 3, padding=1))
        self.semantic_feat = conv_bn_act(channels, channels, 1, act='ReLU6')
        self.semantic = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.boundary = nn.Sequential(
            conv_bn_act(2 * channels, channels, 1, bias=True, act='ReLU6'),
            nn.Conv2d(channels, 2, 3, padding=1))

    def forward(self, f_se: torch.Tensor,
                size: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ac = self.align_corners
        binary = self.binary(f_se)
        foreground = torch.softmax(binary, dim=1)[:, 1:2]
        up = tuple(2 * s for s in f_se.shape[-2:])
        sem_feat = self.semantic_feat(resize(f_se * foreground, up, ac))
        semantic = self.semantic(sem_feat)
        boundary = self.boundary(torch.cat([sem_feat, resize(f_se, up, ac)], dim=1))
        return resize(semantic, size, ac), resize(binary, size, ac), resize(boundary, size, ac)
