"""Profound semantic fusion module (PSFM, paper eq. 7-10, Fig. 6): fuses the deep levels 4-6.

Per modality a dense block enhances the trunk feature; a modality-invariant query comes from
both modalities (eq. 8), keys and values from each modality (eq. 7); each modality's
attention-weighted values are added to the *other* modality's feature (cross residual, eq. 10,
scaled by zero-initialised learnable gains as in the reference) and a Conv3x3 fuses the two.

Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention`: with its fused
(flash / memory-efficient) kernels the ``HW x HW`` attention matrix (4800 x 4800 at level 4 of a
480 x 640 input) is never materialised.  The reference applies no ``1/sqrt(d)`` scaling, and
neither does the paper's eq. 9: ``scale=1.0`` by default, ``scale=None`` gives the usual one.

Three switches reproduce the official code (``GEFM`` and ``DenseLayer`` in its ``PSF.py``), which
differs from the paper and from our defaults without changing any parameter shape:

* ``attention='reference'``: the official attention multiplies keys by queries
  (``bmm(K, Q)``) and normalises over the *query* positions, ``softmax(K_x Q^T) V_x``; the paper's
  eq. 9 (default ``'paper'``) is ``softmax(Q K_x^T) V_x``;
* ``dense_order='input_last'``: the official dense layers see ``[x1, ..., x_k, reduced input]``;
  ours (``'input_first'``) ``[reduced input, x1, ..., x_k]``;
* ``fuse_order='ir_vi'``: the official fuse convolution reads ``[ir_out, vi_out]``; ours
  (``'vi_ir'``) ``[vi_out, ir_out]``.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv_bn_act

ATTENTION_FORMS = ('paper', 'reference')
DENSE_ORDERS = ('input_first', 'input_last')
FUSE_ORDERS = ('vi_ir', 'ir_vi')


def check_choice(name: str, value: str, choices: tuple) -> str:
    """``value`` if it is one of ``choices``; a ValueError naming the option otherwise."""
    if value not in choices:
        raise ValueError(f'{name} must be one of {", ".join(map(repr, choices))}, got {value!r}')
    return value


class DenseBlock(nn.Module):
    """1x1 reduction to ``channels // 4``, four densely connected Conv3x3-BN-ReLU layers, then
    Conv3x3-BN-ReLU over the concatenation of the input and the last dense output.

    ``order``: where the reduced input sits in each dense layer's concatenation,
    ``'input_first'`` or ``'input_last'`` (official code)."""

    def __init__(self, in_channels: int, channels: int, num_layers: int = 4,
                 reduction: int = 4, order: str = 'input_first') -> None:
        super().__init__()
        self.input_last = check_choice('dense_order', order, DENSE_ORDERS) == 'input_last'
        mid = channels // reduction
        self.reduce = nn.Conv2d(in_channels, mid, 1)
        self.layers = nn.ModuleList(
            conv_bn_act(mid * (i + 1), mid) for i in range(num_layers))
        self.fuse = conv_bn_act(in_channels + mid, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.reduce(x)]
        for layer in self.layers:
            inputs = feats[1:] + feats[:1] if self.input_last else feats
            feats.append(layer(torch.cat(inputs, dim=1)))
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
    """Query from both modalities, key/value per modality, cross residuals, Conv3x3 fusion.

    ``attention``: ``'paper'`` (eq. 9) or ``'reference'``; ``fuse_order``: ``'vi_ir'`` or
    ``'ir_vi'`` (see the module docstring)."""

    def __init__(self, channels: int, scale: Optional[float] = 1.0, attention: str = 'paper',
                 fuse_order: str = 'vi_ir') -> None:
        super().__init__()
        self.scale = scale
        self.reference_attention = check_choice('attention', attention,
                                                ATTENTION_FORMS) == 'reference'
        self.ir_first = check_choice('fuse_order', fuse_order, FUSE_ORDERS) == 'ir_vi'

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
        from_ir = self.attend(query, self.key_ir(ir), self.value_ir(ir))
        from_vi = self.attend(query, self.key_vi(vi), self.value_vi(vi))
        vi_out = vi + self.gain_ir * from_ir
        ir_out = ir + self.gain_vi * from_vi
        pair = [ir_out, vi_out] if self.ir_first else [vi_out, ir_out]
        return self.fuse(torch.cat(pair, dim=1))

    def attend(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """``softmax(Q K^T) V`` (paper) or ``softmax(K Q^T) V`` (official code: the key map
        indexes the output and the softmax runs over the query positions)."""
        if self.reference_attention:
            return spatial_attention(key, query, value, self.scale)
        return spatial_attention(query, key, value, self.scale)


class PSFM(nn.Module):
    """Dense enhancement per modality followed by :class:`CrossModalAttention`.

    Args:
        in_channels: trunk channels of the level (128 / 256 / 512 for ResNet-34).
        channels: output width (64 in the paper).
        scale: attention logit scale; ``1.0`` = none (paper, reference), ``None`` = 1/sqrt(C).
        attention, dense_order, fuse_order: the official code's forms (module docstring).
    """

    def __init__(self, in_channels: int, channels: int = 64, scale: Optional[float] = 1.0,
                 attention: str = 'paper', dense_order: str = 'input_first',
                 fuse_order: str = 'vi_ir') -> None:
        super().__init__()
        self.dense_vi = DenseBlock(in_channels, channels, order=dense_order)
        self.dense_ir = DenseBlock(in_channels, channels, order=dense_order)
        self.attention = CrossModalAttention(channels, scale, attention, fuse_order)

    def forward(self, vi: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        return self.attention(self.dense_vi(vi), self.dense_ir(ir))
