"""Scene restoration branch (paper section 3.1, eq. 15): semantic injection and reconstruction.

* :class:`SIM` (eq. 15, SPADE-like): modulates a feature by a guide feature;
* :class:`PSIM`: level 3 -> level 2 -> level 1 progressive injection (two SIMs);
* :class:`DSRM`: four densely connected Conv3x3-BN-ReLU blocks at full resolution;
* :class:`ImageFusionPath`: Conv3x3 -> (tanh + 1) / 2, the fused Y channel;
* :class:`SceneFidelityPath`: a modality-specific mask on the shared feature, then
  Conv3x3 -> (tanh + 1) / 2, reconstructing one source image (used only for the fidelity loss).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ChannelGate, conv_bn_act, conv_bn_bn_relu, resize, to_unit_range

SIM_FORMS = ('reference', 'paper')


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Parameter-free instance normalisation (as ``F.instance_norm``), written with reductions
    and element-wise operations so that a channels-last input stays channels-last (the fused
    kernel returns NCHW, which costs a layout copy before the next convolution)."""
    var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
    return (x - mean) * torch.rsqrt(var + eps)


class SIM(nn.Module):
    """Semantic injection module, in one of two forms (``form``):

    * ``'reference'`` (default; the official code, whose size and cost the paper reports):
      ``BN(IN(x') * (1 + sigmoid(gamma(h)))) + beta(h)`` with ``x' = x``, or
      ``x' = Conv_BN(x)`` with ``pre_conv=True``;
    * ``'paper'``: eq. 15 exactly, ``gamma(h) * IN(Conv_BN(x)) + beta(h)``: no sigmoid, no
      ``1 +``, no BatchNorm after the modulation (``Conv_BN`` = Conv3x3-BN-ReLU, as the paper
      defines it).

    ``h = ReLU(Conv3x3(resize(guide)))``, ``gamma = Conv3x3(h)``, ``beta = Conv3x3(h)``;
    ``IN`` is parameter-free instance normalisation.

    Args:
        channels: channels of the modulated feature ``x``.
        guide_channels: channels of the guide (the coarser fused or semantic feature).
        hidden: width of the shared embedding ``h``.
        pre_conv: ``Conv_BN`` before the normalisation in the reference form (always there in
            the paper's form).
        form: ``'reference'`` or ``'paper'``.
    """

    def __init__(self, channels: int, guide_channels: int, hidden: int = 32,
                 pre_conv: bool = False, form: str = 'reference') -> None:
        super().__init__()
        if form not in SIM_FORMS:
            raise ValueError(f'sim_form must be one of {SIM_FORMS}, got {form!r}')
        self.paper_form = form == 'paper'
        pre_conv = pre_conv or self.paper_form
        self.pre_conv = conv_bn_act(channels, channels) if pre_conv else None
        self.shared = nn.Sequential(nn.Conv2d(guide_channels, hidden, 3, padding=1),
                                    nn.ReLU(inplace=True))
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)
        self.norm = None if self.paper_form else nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        if self.pre_conv is not None:
            x = self.pre_conv(x)
        normalized = instance_norm(x)
        h = self.shared(resize(guide, x.shape[-2:]))
        if self.paper_form:
            return self.gamma(h) * normalized + self.beta(h)
        return self.norm(normalized * (1 + torch.sigmoid(self.gamma(h)))) + self.beta(h)


class PSIM(nn.Module):
    """Progressive semantic injection: ``SIM(F1, SIM(F2, F3))`` (levels 3 -> 2 -> 1)."""

    def __init__(self, channels: int, guide_channels: int, hidden: int = 32,
                 pre_conv: bool = False, form: str = 'reference') -> None:
        super().__init__()
        self.inject2 = SIM(channels, guide_channels, hidden, pre_conv, form)
        self.inject1 = SIM(channels, channels, hidden, pre_conv, form)

    def forward(self, f1: torch.Tensor, f2: torch.Tensor, f3: torch.Tensor) -> torch.Tensor:
        return self.inject1(f1, self.inject2(f2, f3))


class DSRM(nn.Module):
    """Dense scene reconstruction module: block ``i`` sees the input and all earlier outputs;
    the last block's output is returned.  Blocks are Conv3x3-BN-ReLU, or Conv-BN-BN-ReLU with
    ``double_bn`` (the official code's)."""

    def __init__(self, channels: int = 32, num_blocks: int = 4, double_bn: bool = False) -> None:
        super().__init__()
        block = conv_bn_bn_relu if double_bn else conv_bn_act
        self.blocks = nn.ModuleList(block(channels * (i + 1), channels) for i in range(num_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for block in self.blocks:
            feats.append(block(torch.cat(feats, dim=1) if len(feats) > 1 else x))
        return feats[-1]


class ImageFusionPath(nn.Module):
    """Conv3x3 -> (tanh + 1) / 2: the fused image's Y channel in (0, 1)."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit_range(self.conv(x))


class ModalityMask(nn.Module):
    """Modality-specific mask ``BN(sigmoid(local(x) * global(x)) * x)``: a local branch of three
    depth-wise Conv3x3 and a global SE-style branch (reference "S2M")."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.local_att = nn.Sequential(
            conv_bn_act(channels, channels, 3, groups=channels, bias=True),
            conv_bn_act(channels, channels, 3, groups=channels, bias=True),
            conv_bn_act(channels, channels, 3, groups=channels, bias=True, act=None))
        self.global_att = ChannelGate(channels, reduction=reduction)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.sigmoid(self.local_att(x) * self.global_att(x)) * x)


class SceneFidelityPath(nn.Module):
    """Reconstructs one source image (Y or infrared) from the shared restoration feature."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.mask = ModalityMask(channels)
        self.conv = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit_range(self.conv(self.mask(x)))
