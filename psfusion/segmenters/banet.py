"""BANet: attention refinement on a ResNet-18 and the bilateral attention decoder, as mmseg parts.

Peng, Tian, Chen, Guo, Ma, "Bilateral attention decoder: a lightweight decoder for real-time
semantic segmentation", Neural Networks 137 (2021); the network SeAFusion trains on MSRS (class
``BiSeNet`` of its ``model_TII.py``), rebuilt from the facts in
``shared/spec/TABLE1_METHODS.md`` (a).  The parts map onto mmseg's ``EncoderDecoder``:

* backbone: mmseg's ``ResNet`` (depth 18, 7x7 stem: torchvision's resnet18 without ``fc``,
  11,176,512 parameters), outputs at 1/8, 1/16, 1/32 (128, 256, 512 channels);
* neck :class:`BANetNeck`: one :class:`AttentionRefinement` per output, 128 channels each:
  ``A8, A16, A32``;
* decode head :class:`BANetHead`: the bilateral attention decoder (below) and the main output
  (CBR3 to ``channels`` = 128, then a 1x1 classifier without bias), at 1/8;
* auxiliary head :class:`BANetAuxHead`: the same output (``channels`` = 64) on ``A16``.

With CBR(k) = conv kxk (no bias) + BN + leaky ReLU (slope 0.01), ``up`` = bilinear with
``align_corners=False`` and ``G(x)`` = sigmoid(BN(conv1x1(x))), the decoder computes::

    C32 = up(A32 -> 1/8)               U32 = CBR3(up(A32 -> 1/16))
    C16 = up(CBR1([U32, A16]) -> 1/8)  U16 = CBR3(up(A16 -> 1/8))
    C8  = CBR1([U16, A8])
    C16' = G32(C32) * C16              (gate 1: the coarse context gates the 1/16 path)
    F8  = CBR1(C8 * G16(C16'))         (gate 2: the gated 1/16 path gates the fine one)

Both heads' logits are brought to the label / image size with ``align_corners=True`` (the
reference's final upsampling).  Every conv that BANet adds is initialised as the reference's:
``kaiming_normal_(a=1)`` (fan in, std 1/sqrt(fan_in)), BN weight 1 and bias 0.  With 9 classes
the network has 12,894,080 parameters (backbone 11,176,512, neck and heads 1,717,568), the
reference's count.

The refinement's channel attention normalises a 1x1 map over the batch, so training needs at
least 2 images per batch (as the reference, which trains with 16).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

#: The reference's activation after every BN of the decoder (``F.leaky_relu``'s default slope).
LEAKY_RELU = dict(type='LeakyReLU', negative_slope=0.01)
BATCH_NORM = dict(type='BN', requires_grad=True)


def reference_init(module: nn.Module) -> None:
    """The reference's initialisation of BANet's own layers: every conv ``kaiming_normal_(a=1)``
    (fan in, gain 1: std = 1/sqrt(fan_in)) with zero bias, every BN weight 1 and bias 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, a=1)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, _BatchNorm):
            if layer.weight is not None:
                nn.init.ones_(layer.weight)
                nn.init.zeros_(layer.bias)


def upsample(x: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize with ``align_corners=False`` (the decoder's ``up``)."""
    return F.interpolate(x, size=tuple(size), mode='bilinear', align_corners=False)


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, norm_cfg: dict,
            act_cfg: dict) -> ConvModule:
    """Conv (stride 1, 'same' padding, no bias) + BN + activation."""
    return ConvModule(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                      norm_cfg=norm_cfg, act_cfg=act_cfg)


def sigmoid_gate(in_channels: int, out_channels: int, norm_cfg: dict) -> ConvModule:
    """``G(x) = sigmoid(BN(conv1x1(x)))``, values in (0, 1)."""
    return conv_bn(in_channels, out_channels, 1, norm_cfg, dict(type='Sigmoid'))


class AttentionRefinement(nn.Module):
    """ARM: ``f = CBR3(x)``, ``out = f * sigmoid(BN(conv1x1(mean over H, W of f)))``: one
    channel weight per image from the global context of the refined features."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict = BATCH_NORM,
                 act_cfg: dict = LEAKY_RELU):
        super().__init__()
        self.conv = conv_bn(in_channels, out_channels, 3, norm_cfg, act_cfg)
        self.attention = sigmoid_gate(out_channels, out_channels, norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        feat = self.conv(x)
        return feat * self.attention(F.adaptive_avg_pool2d(feat, 1))


@MODELS.register_module()
class BANetNeck(BaseModule):
    """Attention refinement of the backbone's 1/8, 1/16 and 1/32 features: ``(A8, A16, A32)``,
    ``out_channels`` each (the reference's ``arm8``, ``arm16``, ``arm32``)."""

    def __init__(self, in_channels: Sequence[int] = (128, 256, 512), out_channels: int = 128,
                 norm_cfg: dict = BATCH_NORM, act_cfg: dict = LEAKY_RELU, init_cfg=None):
        super().__init__(init_cfg)
        self.refinements = nn.ModuleList(
            AttentionRefinement(c, out_channels, norm_cfg, act_cfg) for c in in_channels)

    def forward(self, inputs: Sequence[Tensor]) -> tuple:
        if len(inputs) != len(self.refinements):
            raise ValueError(f'BANetNeck: {len(self.refinements)} backbone outputs expected '
                             f'(1/8, 1/16, 1/32), got {len(inputs)}; set the backbone\'s '
                             f'out_indices to three stages')
        return tuple(arm(x) for arm, x in zip(self.refinements, inputs))

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            reference_init(self)


class _BANetOutputHead(BaseDecodeHead):
    """A BANet output: CBR3 (``output_in_channels`` -> ``channels``) and a 1x1 classifier
    without bias (the reference's ``BiSeNetOutput``), no dropout.

    The two output layers are named ``head_conv`` and ``conv_seg``: the schedule gives exactly
    these the reference's 10x learning rate (``mmseg_configs/_base_/schedules/banet_80k.py``).
    """

    def __init__(self, output_in_channels: int, act_cfg: dict = LEAKY_RELU,
                 norm_cfg: dict = BATCH_NORM, dropout_ratio: float = 0.0, init_cfg=None,
                 **kwargs):
        super().__init__(act_cfg=act_cfg, norm_cfg=norm_cfg, dropout_ratio=dropout_ratio,
                         init_cfg=init_cfg, **kwargs)
        self.head_conv = conv_bn(output_in_channels, self.channels, 3, norm_cfg, act_cfg)
        self.conv_seg = nn.Conv2d(self.channels, self.out_channels, kernel_size=1, bias=False)

    def output(self, feat: Tensor) -> Tensor:
        """Logits of ``feat`` at its own resolution."""
        return self.cls_seg(self.head_conv(feat))

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            reference_init(self)


@MODELS.register_module()
class BANetAuxHead(_BANetOutputHead):
    """The auxiliary output on one input: on ``A16`` (``in_index`` = 1 of :class:`BANetNeck`)
    with ``channels`` = 64 in BANet."""

    def __init__(self, in_channels: int, **kwargs):
        if not isinstance(in_channels, int):
            raise ValueError(f'BANetAuxHead: in_channels must be one number (a single input), '
                             f'got {in_channels}')
        super().__init__(in_channels, in_channels=in_channels, **kwargs)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        return self.output(self._transform_inputs(inputs))


@MODELS.register_module()
class BANetHead(_BANetOutputHead):
    """The bilateral attention decoder on ``(A8, A16, A32)`` (``in_index`` = (0, 1, 2) of
    :class:`BANetNeck`) and the main output at 1/8 (see the module docstring for the equations).

    Args:
        in_channels: channels of ``A8``, ``A16``, ``A32``.
        decoder_channels: width of the decoder (128 in BANet).
        channels: width of the output's CBR3 (128 in BANet).
    """

    def __init__(self, in_channels: Sequence[int] = (128, 128, 128), decoder_channels: int = 128,
                 input_transform: str = 'multiple_select', **kwargs):
        if input_transform != 'multiple_select' or len(in_channels) != 3:
            raise ValueError(f'BANetHead takes three inputs (A8, A16, A32) with '
                             f"input_transform='multiple_select', got in_channels={in_channels}, "
                             f'input_transform={input_transform!r}')
        super().__init__(decoder_channels, in_channels=list(in_channels),
                         input_transform=input_transform, **kwargs)
        c8, c16, c32 = in_channels
        d, norm_cfg, act_cfg = decoder_channels, self.norm_cfg, self.act_cfg
        self.up32 = conv_bn(c32, d, 3, norm_cfg, act_cfg)  # U32
        self.fuse16 = conv_bn(d + c16, d, 1, norm_cfg, act_cfg)  # C16 before upsampling
        self.up16 = conv_bn(c16, d, 3, norm_cfg, act_cfg)  # U16
        self.fuse8 = conv_bn(d + c8, d, 1, norm_cfg, act_cfg)  # C8
        self.gate32 = sigmoid_gate(c32, d, norm_cfg)  # gate 1, from C32
        self.gate16 = sigmoid_gate(d, d, norm_cfg)  # gate 2, from C16'
        self.fuse = conv_bn(d, d, 1, norm_cfg, act_cfg)  # F8

    def decode(self, a8: Tensor, a16: Tensor, a32: Tensor) -> Tensor:
        """``F8``, the decoder's output at the size of ``a8``."""
        size8, size16 = a8.shape[2:], a16.shape[2:]
        c32 = upsample(a32, size8)
        u32 = self.up32(upsample(a32, size16))
        c16 = upsample(self.fuse16(torch.cat([u32, a16], dim=1)), size8)
        u16 = self.up16(upsample(a16, size8))
        c8 = self.fuse8(torch.cat([u16, a8], dim=1))
        c16 = self.gate32(c32) * c16
        return self.fuse(c8 * self.gate16(c16))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        return self.output(self.decode(*self._transform_inputs(inputs)))
