"""Superficial detail fusion module (SDFM, paper eq. 4-6, Fig. 5): fuses the shallow levels 1-3.

Per modality, three Conv3x3-BN-ReLU blocks adapt the encoder feature.  Then

* **reinforcement** (eq. 4): a channel gate ``g = sigmoid(SE(GAP(C(F_vi, F_ir))))`` with
  ``2C`` outputs; ``F^_vi = F_vi + g_vi * F_ir`` and ``F^_ir = F_ir + g_ir * F_vi`` (the paper's
  cross form, default).  The reference code instead re-weights each modality by its own gate,
  ``F^ = F + g * F`` (``reinforce='self'``);
* **fusion weight** (eq. 5): ``A = Conv1x1-BN-ReLU(C(F^_vi, F^_ir))``,
  ``W = sigmoid(local(A) * global(A))`` with a point-wise (spatial) and a GAP (channel) branch;
* **fusion** (eq. 6): ``F_fu = W * F^_vi + (1 - W) * F^_ir`` (visible gated first, as the
  reference does; the paper writes infrared first: only the sign convention of ``W`` differs).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ChannelGate, conv_bn_act


class SDFM(nn.Module):
    """Channel-spatial attention fusion of two same-sized features.

    Args:
        in_channels: channels of each modality's input feature.
        channels: output (and internal) width.
        reduction: reduction of the SE-style gates.
        reinforce: ``'cross'`` (paper eq. 4) or ``'self'`` (reference code).
    """

    def __init__(self, in_channels: int, channels: int, reduction: int = 4,
                 reinforce: str = 'cross') -> None:
        super().__init__()
        if reinforce not in ('cross', 'self'):
            raise ValueError(f"reinforce must be 'cross' or 'self', got {reinforce!r}")
        self.reinforce = reinforce

        def adapt() -> nn.Sequential:
            return nn.Sequential(
                conv_bn_act(in_channels, channels), conv_bn_act(channels, channels),
                conv_bn_act(channels, channels))

        self.adapt_vi = adapt()
        self.adapt_ir = adapt()
        self.reinforce_gate = ChannelGate(2 * channels, reduction=reduction)
        self.aggregate = conv_bn_act(2 * channels, channels, 1, bias=True)
        self.local_att = nn.Sequential(
            conv_bn_act(channels, channels // reduction, 1, bias=True),
            conv_bn_act(channels // reduction, channels, 1, bias=True, act=None))
        self.global_att = ChannelGate(channels, reduction=reduction)

    def forward(self, vi: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        vi, ir = self.adapt_vi(vi), self.adapt_ir(ir)
        both = torch.cat([vi, ir], dim=1)
        gate_vi, gate_ir = torch.sigmoid(self.reinforce_gate(both)).chunk(2, dim=1)
        if self.reinforce == 'cross':
            vi, ir = vi + gate_vi * ir, ir + gate_ir * vi
        else:
            vi, ir = vi + gate_vi * vi, ir + gate_ir * ir
        agg = self.aggregate(torch.cat([vi, ir], dim=1))
        weight = torch.sigmoid(self.local_att(agg) * self.global_att(agg))
        return ir + weight * (vi - ir)
