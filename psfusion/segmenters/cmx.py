"""CMX: feature-level RGB-thermal fusion between two MiT streams, as an mmseg backbone.

Zhang, Liu, Yang, Hu, Stiefelhagen, Ma, "CMX: Cross-Modal Fusion for RGB-X Semantic Segmentation
with Transformers", T-ITS 2023; rebuilt from the facts in ``shared/spec/FEATURE_LEVEL.md`` §1
(the public reference is huaaaliu/RGBX_Semantic_Segmentation, ``models/encoders/
dual_segformer.py`` and ``models/net_utils.py``).

:class:`CMXBackbone` holds two complete MiT streams (mmseg's :class:`MixVisionTransformer`, one
for RGB and one for the thermal "X" modality, nothing shared) and runs them stage by stage. After
stage ``i`` of both streams (patch embedding, transformer blocks, LayerNorm, as a B x C x H x W
map):

1. :class:`FeatureRectification` (FRM) cross-updates the two maps with channel and spatial
   weights of each other; the *rectified* maps feed the next stage's patch embeddings;
2. :class:`FeatureFusion` (FFM) merges the rectified maps into one (cross-attention on tokens,
   then a channel embedding to C channels); the fused map goes to the decode head only.

The backbone's outputs are the four fused maps (strides 4/8/16/32, widths ``embed_dims`` x
``num_heads``), which mmseg's ``SegformerHead`` decodes in ``EncoderDecoder``.

**Input** (the ``rgbt`` source): ``B x 4 x H x W``, normalised per channel by the data
preprocessor, channels (R, G, B, T).  The RGB stream reads channels 0-2, the X stream the
thermal channel replicated three times (the reference replicates the 8-bit thermal image to
three channels and normalises them alike).  Any other channel count raises
:class:`~psfusion.errors.ConfigError` (a ``ValueError``).

**Initialisation** (the reference's): every Linear ``trunc_normal(0.02)``, every conv
``normal(0, sqrt(2 / fan_out))``, biases 0, norms weight 1 / bias 0.  With a ``Pretrained``
``init_cfg`` (mmseg's ImageNet MiT checkpoint, keys in mmseg's MiT layout) the same tensors load
into **both** streams; FRM and FFM stay random.  The benchmark's ``--pretrained off`` sets
``init_cfg`` to None as for any mmseg backbone (:mod:`psfusion.benchmark.pretrained`).

Parameters with 9 classes and mmseg's ``SegformerHead`` (channels 512): MiT-B2 66,567,057 and
MiT-B4 139,859,857 (each stream 24,196,288 / 60,842,688; FRMs 10,019,848 and FFMs 6,572,032 in
total).  The reference with its own MLP decoder (E = 512) has 66,565,521 / 139,858,321: mmseg's
head has 3 x 512 more (a BN instead of a bias after each of the four input projections, no bias
in the fuse conv).

Checked against the reference (its weights mapped onto ours, float64): the four fused maps agree
to 1e-14 once the LayerNorms of the patch embeddings and of the attentions' spatial reduction
have eps 1e-5 as there (and in NVlabs' SegFormer); mmseg's MiT, which we keep as our SegFormer
has it, uses 1e-6 for every LayerNorm (outputs then differ by ~1e-6 relative).  Thermal
normalisation: the reference's final recipe normalises the three thermal copies with ImageNet's
three (different) mean/std; here T is normalised once and replicated, which differs only by a
per-channel affine map that the first patch embedding absorbs.

Only the reference's reduction ratio 1 and lambda_c = lambda_s = 0.5 are built.  The helpers
:func:`require_rgbt` and :func:`read_mit_checkpoint` are shared with
:mod:`psfusion.segmenters.early_fusion`.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import constant_init, normal_init, trunc_normal_init
from mmengine.runner.checkpoint import (_load_checkpoint, _load_checkpoint_with_prefix,
                                        load_state_dict)
from mmseg.models.backbones.mit import MixVisionTransformer
from mmseg.models.utils import nlc_to_nchw
from mmseg.registry import MODELS
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..errors import CheckpointError, ConfigError

#: Channels of the ``rgbt`` source: visible R, G, B, then infrared T.
RGBT_CHANNELS = 4


# ----------------------------------------------------------------------------------------
# Shared with early_fusion
# ----------------------------------------------------------------------------------------
def require_rgbt(inputs: Tensor, who: str) -> None:
    """Refuse anything but a ``B x 4 x H x W`` (R, G, B, T) batch.

    Raises:
        ConfigError: another shape; the message names the source the segmenter needs.
    """
    if inputs.dim() != 4 or inputs.shape[1] != RGBT_CHANNELS:
        got = f'{inputs.shape[1]} channels' if inputs.dim() == 4 else \
            f'shape {tuple(inputs.shape)}'
        raise ConfigError(
            f'{who} needs the `rgbt` source (4 channels: visible RGB + infrared, in the order '
            f'R, G, B, T), got {got}; train it on --sources rgbt (the single-image sources '
            f'ir, vi and fused have 3 channels).')


def reference_init(module: nn.Module) -> None:
    """CMX's (and SegFormer's) initialisation of every layer inside ``module``: Linear
    ``trunc_normal(0.02)``, conv ``normal(0, sqrt(2 / fan_out))`` (fan_out divided by the
    groups), biases 0; LayerNorm and BatchNorm weight 1, bias 0.  The q/k/v projection of
    ``nn.MultiheadAttention`` (mmseg's MiT attention; the reference's separate ``q`` and ``kv``
    Linears) is a Linear too: ``trunc_normal(0.02)``, bias 0."""
    for layer in module.modules():
        if isinstance(layer, nn.MultiheadAttention) and layer.in_proj_weight is not None:
            nn.init.trunc_normal_(layer.in_proj_weight, std=0.02)
            if layer.in_proj_bias is not None:
                nn.init.zeros_(layer.in_proj_bias)
        if isinstance(layer, nn.Linear):
            trunc_normal_init(layer, std=0.02, bias=0.0)
        elif isinstance(layer, nn.Conv2d):
            fan_out = layer.kernel_size[0] * layer.kernel_size[1] * layer.out_channels
            fan_out //= layer.groups
            normal_init(layer, mean=0.0, std=math.sqrt(2.0 / fan_out), bias=0.0)
        elif isinstance(layer, (nn.LayerNorm, _BatchNorm)):
            constant_init(layer, val=1.0, bias=0.0)


def is_pretrained(init_cfg) -> bool:
    """Whether an ``init_cfg`` asks for a checkpoint (``type='Pretrained'``)."""
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained' \
        and bool(init_cfg.get('checkpoint'))


def read_mit_checkpoint(init_cfg: dict) -> Dict[str, Tensor]:
    """The state dict a ``Pretrained`` ``init_cfg`` names (``checkpoint``, optional ``prefix``
    and ``map_location``), read as mmengine's ``PretrainedInit`` reads it: a file or URL (URLs
    through torch's hub cache), ``state_dict`` unwrapped, ``module.`` stripped."""
    checkpoint = init_cfg['checkpoint']
    map_location = init_cfg.get('map_location', 'cpu')
    prefix = init_cfg.get('prefix')
    if prefix:
        state = _load_checkpoint_with_prefix(prefix, checkpoint, map_location=map_location)
    else:
        loaded = _load_checkpoint(checkpoint, map_location=map_location, logger='current')
        if not isinstance(loaded, dict):
            raise CheckpointError(f'{checkpoint}: not a state dict (a {type(loaded).__name__})')
        state = loaded.get('state_dict', loaded)
    return {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state.items()}


def load_mit_weights(stream: nn.Module, state: Dict[str, Tensor], checkpoint: str,
                     what: str) -> int:
    """Load the keys of ``state`` that ``stream`` has, with the same shape (others stay as
    initialised, as mmseg's non-strict loading); returns how many tensors were loaded.

    Raises:
        CheckpointError: a key of the stream with another shape in the checkpoint (a
            checkpoint of another MiT size), or no key of the stream at all (another layout).
    """
    own = stream.state_dict()
    wrong = [f'{k} {tuple(v.shape)} (model {tuple(own[k].shape)})' for k, v in state.items()
             if k in own and v.shape != own[k].shape]
    if wrong:
        raise CheckpointError(
            f'{checkpoint}: {len(wrong)} tensor(s) do not fit the {what}, e.g. {wrong[0]}: a '
            f'checkpoint of another MiT size? Point init_cfg.checkpoint at the MiT checkpoint '
            f'of this model size.')
    matching = {k: v for k, v in state.items() if k in own}
    if not matching:
        raise CheckpointError(
            f'{checkpoint}: none of its keys is a key of the {what} (expected mmseg\'s MiT '
            f'layout, e.g. {next(iter(own))!r}; got e.g. {next(iter(state), None)!r}). Use an '
            f'mmseg MiT checkpoint (or set init_cfg.prefix, e.g. "backbone.").')
    load_state_dict(stream, matching, strict=False, logger='current')
    return len(matching)


def mit_stage(mit: MixVisionTransformer, index: int, x: Tensor) -> Tensor:
    """Stage ``index`` of an mmseg MiT (patch embedding, blocks, LayerNorm) as a map."""
    patch_embed, blocks, norm = mit.layers[index]
    x, hw_shape = patch_embed(x)
    for block in blocks:
        x = block(x, hw_shape)
    return nlc_to_nchw(norm(x), hw_shape)


# ----------------------------------------------------------------------------------------
# FRM and FFM
# ----------------------------------------------------------------------------------------
class FeatureRectification(BaseModule):
    """FRM: each modality's map corrected by the other's, weighted per channel and per pixel.

    From the concatenation ``[rgb, x]`` (2C channels):

    * channel weights: global average and max pooling (4C), Linear 4C->4C, ReLU,
      Linear 4C->2C, sigmoid, split into ``wc_rgb`` and ``wc_x`` (C each);
    * spatial weights: 1x1 conv 2C->C, ReLU, 1x1 conv C->2, sigmoid: maps ``ws_rgb`` and
      ``ws_x`` (1 x H x W each);

    then ``rgb' = rgb + lc*wc_x*x + ls*ws_x*x`` and ``x' = x + lc*wc_rgb*rgb + ls*ws_rgb*rgb``
    with ``lc = ls = 0.5``.
    """

    def __init__(self, channels: int, lambda_c: float = 0.5, lambda_s: float = 0.5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.channels = channels
        self.lambda_c = lambda_c
        self.lambda_s = lambda_s
        self.channel_mlp = nn.Sequential(
            nn.Linear(4 * channels, 4 * channels), nn.ReLU(inplace=True),
            nn.Linear(4 * channels, 2 * channels), nn.Sigmoid())
        self.spatial_mlp = nn.Sequential(
            nn.Conv2d(2 * channels, channels, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, 2, kernel_size=1), nn.Sigmoid())

    def weights(self, rgb: Tensor, x: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(wc_rgb, wc_x, ws_rgb, ws_x)``: B x C x 1 x 1 twice, then B x 1 x H x W twice."""
        both = torch.cat([rgb, x], dim=1)
        pooled = torch.cat([both.mean(dim=(2, 3)), both.amax(dim=(2, 3))], dim=1)
        wc = self.channel_mlp(pooled)[:, :, None, None]
        ws = self.spatial_mlp(both)
        c = self.channels
        return wc[:, :c], wc[:, c:], ws[:, 0:1], ws[:, 1:2]

    def forward(self, rgb: Tensor, x: Tensor) -> Tuple[Tensor, Tensor]:
        wc_rgb, wc_x, ws_rgb, ws_x = self.weights(rgb, x)
        rgb_out = rgb + self.lambda_c * wc_x * x + self.lambda_s * ws_x * x
        x_out = x + self.lambda_c * wc_rgb * rgb + self.lambda_s * ws_rgb * rgb
        return rgb_out, x_out


class FeatureFusion(BaseModule):
    """FFM: cross-attention between the modalities on tokens, then a channel embedding.

    Stage 1 (cross path), per modality ``m``: Linear C->2C, ReLU, split into ``y_m`` and
    ``u_m``; a context ``ctx_m = softmax_keys(k_m^T v_m / sqrt(d))`` (d x d per head, ``k_m, v_m``
    from a bias-free Linear C->2C of ``u_m``); ``u_m`` queries the *other* modality's context;
    ``LN(in_m + Linear 2C->C([y_m, u_m ctx_other]))``.  Stage 2 (channel embedding) on the
    concatenation (2C): ``BN(conv1x1(no bias) + BN(conv1x1 -> dw3x3 -> ReLU -> conv1x1))``,
    C channels out.
    """

    def __init__(self, channels: int, num_heads: int,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if channels % num_heads:
            raise ValueError(f'FeatureFusion: {channels} channels do not split into '
                             f'{num_heads} heads')
        self.channels = channels
        self.num_heads = num_heads
        self.scale = (channels // num_heads)**-0.5
        # cross path (one of each per modality)
        self.proj_rgb = nn.Linear(channels, 2 * channels)
        self.proj_x = nn.Linear(channels, 2 * channels)
        self.kv_rgb = nn.Linear(channels, 2 * channels, bias=False)
        self.kv_x = nn.Linear(channels, 2 * channels, bias=False)
        self.end_rgb = nn.Linear(2 * channels, channels)
        self.end_x = nn.Linear(2 * channels, channels)
        self.norm_rgb = nn.LayerNorm(channels)
        self.norm_x = nn.LayerNorm(channels)
        # channel embedding
        self.residual = nn.Conv2d(2 * channels, channels, kernel_size=1, bias=False)
        self.embed = nn.Sequential(
            nn.Conv2d(2 * channels, channels, kernel_size=1),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, groups=channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=1),
            build_norm_layer(norm_cfg, channels)[1])
        self.norm = build_norm_layer(norm_cfg, channels)[1]

    def _heads(self, tokens: Tensor) -> Tensor:
        """B x N x C -> B x heads x N x d."""
        b, n, _ = tokens.shape
        return tokens.reshape(b, n, self.num_heads, -1).transpose(1, 2)

    def context(self, kv: nn.Linear, u: Tensor) -> Tensor:
        """The efficient-attention context of one modality: B x heads x d x d, softmax over
        the key dimension."""
        k, v = kv(u).chunk(2, dim=-1)
        k, v = self._heads(k), self._heads(v)
        return (k.transpose(-2, -1) @ v * self.scale).softmax(dim=-2)

    def cross(self, rgb: Tensor, x: Tensor) -> Tuple[Tensor, Tensor]:
        """The cross path on tokens (B x N x C each)."""
        y_rgb, u_rgb = torch.relu(self.proj_rgb(rgb)).chunk(2, dim=-1)
        y_x, u_x = torch.relu(self.proj_x(x)).chunk(2, dim=-1)
        ctx_rgb, ctx_x = self.context(self.kv_rgb, u_rgb), self.context(self.kv_x, u_x)
        b, n, c = rgb.shape
        att_rgb = (self._heads(u_rgb) @ ctx_x).transpose(1, 2).reshape(b, n, c)
        att_x = (self._heads(u_x) @ ctx_rgb).transpose(1, 2).reshape(b, n, c)
        rgb = self.norm_rgb(rgb + self.end_rgb(torch.cat([y_rgb, att_rgb], dim=-1)))
        x = self.norm_x(x + self.end_x(torch.cat([y_x, att_x], dim=-1)))
        return rgb, x

    def forward(self, rgb: Tensor, x: Tensor) -> Tensor:
        b, c, h, w = rgb.shape
        rgb, x = self.cross(rgb.flatten(2).transpose(1, 2), x.flatten(2).transpose(1, 2))
        merged = torch.cat([rgb, x], dim=-1).transpose(1, 2).reshape(b, 2 * c, h, w)
        return self.norm(self.residual(merged) + self.embed(merged))


# ----------------------------------------------------------------------------------------
# The backbone
# ----------------------------------------------------------------------------------------
@MODELS.register_module()
class CMXBackbone(BaseModule):
    """The CMX encoder: an RGB and an X (thermal) MiT stream, with an FRM and an FFM after
    every stage; outputs the fused maps of ``out_indices``.

    Args:
        in_channels: channels of the input batch; only 4 (R, G, B, T) is accepted.
        embed_dims, num_layers, num_heads, patch_sizes, strides, sr_ratios, mlp_ratio,
            qkv_bias, drop_rate, attn_drop_rate, drop_path_rate, act_cfg, norm_cfg, with_cp:
            as mmseg's ``MixVisionTransformer``, for both streams (3 input channels each).
        out_indices: stages whose fused maps are returned.
        fuse_norm_cfg: the FFMs' BatchNorms (the reference's ``norm_fuse``: BN, or SyncBN when
            distributed).
        init_cfg: None (random, the reference's scheme) or ``dict(type='Pretrained',
            checkpoint=...)`` (an mmseg MiT checkpoint, loaded into both streams).
    """

    def __init__(self,
                 in_channels: int = RGBT_CHANNELS,
                 embed_dims: int = 64,
                 num_layers: Sequence[int] = (3, 4, 6, 3),
                 num_heads: Sequence[int] = (1, 2, 5, 8),
                 patch_sizes: Sequence[int] = (7, 3, 3, 3),
                 strides: Sequence[int] = (4, 2, 2, 2),
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 mlp_ratio: int = 4,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.0,
                 attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.1,
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 fuse_norm_cfg: dict = dict(type='BN', requires_grad=True),
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if in_channels != RGBT_CHANNELS:
            raise ConfigError(f'CMXBackbone: in_channels={in_channels}; it reads the `rgbt` '
                              f'source (4 channels: visible RGB + infrared), set 4.')
        if init_cfg is not None and not is_pretrained(init_cfg):
            raise ConfigError(f'CMXBackbone: init_cfg must be None or '
                              f"dict(type='Pretrained', checkpoint=...), got {init_cfg!r}")
        self.num_stages = len(num_layers)
        self.out_indices = tuple(out_indices)
        stream = dict(in_channels=3, embed_dims=embed_dims, num_stages=self.num_stages,
                      num_layers=list(num_layers), num_heads=list(num_heads),
                      patch_sizes=list(patch_sizes), strides=list(strides),
                      sr_ratios=list(sr_ratios), out_indices=tuple(range(self.num_stages)),
                      mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_rate=drop_rate,
                      attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate,
                      act_cfg=act_cfg, norm_cfg=norm_cfg, with_cp=with_cp, init_cfg=None)
        self.rgb_stream = MixVisionTransformer(**stream)
        self.x_stream = MixVisionTransformer(**stream)
        widths = [embed_dims * heads for heads in num_heads]
        self.frms = ModuleList(FeatureRectification(c) for c in widths)
        self.ffms = ModuleList(
            FeatureFusion(c, heads, norm_cfg=fuse_norm_cfg) for c, heads in zip(widths, num_heads))

    def init_weights(self) -> None:
        """Everything in the reference's random scheme; then, with a ``Pretrained``
        ``init_cfg``, the checkpoint's MiT tensors into both streams (FRM, FFM stay random)."""
        reference_init(self)
        if is_pretrained(self.init_cfg):
            checkpoint = self.init_cfg['checkpoint']
            print_log(f'load the MiT checkpoint {checkpoint} into both CMX streams',
                      logger='current')
            state = read_mit_checkpoint(self.init_cfg)
            for name in ('rgb_stream', 'x_stream'):
                load_mit_weights(getattr(self, name), state, checkpoint,
                                 f'CMX {name.replace("_", " ")}')
        self._is_init = True

    def forward(self, inputs: Tensor) -> List[Tensor]:
        require_rgbt(inputs, 'CMX')
        rgb = inputs[:, :3]
        x = inputs[:, 3:4].expand(-1, 3, -1, -1)
        outs = []
        for i in range(self.num_stages):
            rgb = mit_stage(self.rgb_stream, i, rgb)
            x = mit_stage(self.x_stream, i, x)
            rgb, x = self.frms[i](rgb, x)  # the rectified maps feed the next stage
            if i in self.out_indices:
                outs.append(self.ffms[i](rgb, x))
        return outs
