"""Profound semantic fusion module (PSFM, paper eq. 7-10, Fig. 6): fuses the deep levels 4-6.

Per modality a dense block enhances the trunk feature; a modality-invariant query comes from
both modalities (eq. 8), keys and values from each modality (eq. 7); each modality's
attention-weighted values are added to the *other* modality's feature (cross residual, eq. 10,
scaled by zero-initialised learnable gains as in the reference) and a Conv3x3 fuses the two.

Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention`: with its fused
(flash / memory-efficient) kernels the ``HW x HW`` attention matrix (4800 x 4800 at level 4 of a
480 x 640 input) is never materialised.  The reference applies no ``1/sqrt(d)`` scaling, and
neither does the paper's eq. 9: ``scale=1.0`` by default, ``scale=None`` gives the usual one.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_bn_act


class DenseBlock(nn.Module):
    """1x1 reduction to ``channels // 4``, four densely connected Conv3x3-BN-ReLU layers, then
    Conv3x3-BN-ReLU over the concatenation of the input and the last dense output."""

    def __init__(self, in_channels: int, channels: int, num_layers: int = 4,
                 reduction: int = 4) -> None:
        super().__init__()
        mid = channels // reduction
        self.reduce = nn.Conv2d(in_channels, mid, 1)
        self.layers = nn.ModuleList(
            conv_bn_act(mid * (i + 1), mid) for i in range(num_layers))
        self.fuse = conv_bn_act(in_channels + mid, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.reduce(x)]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return self.fuse(torch.cat([x, feats[-1]], dim=1))


def spatial_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      scale: Optional[float] = 1.0) -> torch.Tensor:
    """Single-head attention over all positions of ``B x C x H x W`` maps (eq. 9-10's ``A V``).

    ``out[:, :, p] = sum_q softmax_q(scale * <query_p, key_q>) value_q``; returns ``B x C x H x W``.
    """
    b, c, h, w = value.shape
    # B x 1 x HW x C with unit stride along C: what the fused kernels accept
    q, k, v = (t.permute(0, 2, 3, 1).reshape(t.shape[0], 1, -1, t.shape[1]).contiguous()
               for t in (query, key, value))
    out = F.scaled_dot_product_attention(q, k, v, scale=scale)
    return out.reshape(b, h, w, c).permute(0, 3, 1, 2)


class CrossModalAttention(nn.Module):
    """Query from both modalities, key/value per modality, cross residuals, Conv3x3 fusion."""

    def __init__(self, channels: int, scale: Optional[float] = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.query = conv_bn_act(2 * channels, channels)
        self.key_vi = conv_bn_act(channels, channels)
        self.value_vi = conv_bn_act(channels, channels)
        self.key_ir = conv_bn_act(channels, channels)
        self.value_ir = conv_bn_act(channels, channels)
        self.gain_vi = nn.Parameter(torch.zeros(1))
        self.gain_ir = nn.Parameter(torch.zeros(1))
        self.fuse = conv_bn_act(2 * channels, channels)

    def forward(self, vi: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        query = self.query(torch.cat([vi, ir], dim=1))
        from_ir = spatial_attention(query, self.key_ir(ir), self.value_ir(ir), self.scale)
        from_vi = spatial_attention(query, self.key_vi(vi), self.value_vi(vi), self.scale)
        vi_out = vi + self.gain_ir * from_ir
        ir_out = ir + self.gain_vi * from_vi
        return self.fuse(torch.cat([vi_out, ir_out], dim=1))


class PSFM(nn.Module):
    """Dense enhancement per modality followed by :class:`CrossModalAttention`.

    Args:
        in_channels: trunk channels of the level (128 / 256 / 512 for ResNet-34).
        channels: output width (64 in the paper).
        scale: attention logit scale; ``1.0`` = none (paper, reference), ``None`` = 1/sqrt(C).
    """

    def __init__(self, in_channels: int, channels: int = 64,
                 scale: Optional[float] = 1.0) -> None:
        super().__init__()
        self.dense_vi = DenseBlock(in_channels, channels)
        self.dense_ir = DenseBlock(in_channels, channels)
        self.attention = CrossModalAttention(channels, scale)

    def forward(self, vi: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return self.attention(self.dense_vi(vi), self.dense_ir(ir))
