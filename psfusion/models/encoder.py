"""Feature extraction (paper eq. 1-3): two superficial feature extraction blocks (SFEB) replace
the ResNet stem, then the four residual stages of a ResNet trunk (mmpretrain's implementation).

One :class:`ModalityEncoder` per modality (separate weights); it returns the six feature levels

==== ====================================== ======== =====================
lvl  block                                  stride   channels (ResNet-34)
==== ====================================== ======== =====================
1    SFEB1                                  1        ``stem_channels`` (32)
2    SFEB2 + the trunk's BN + ReLU          2        64
3    max-pool + ResNet layer1               4        64
4-6  ResNet layer2-4                        8-32     128, 256, 512
==== ====================================== ======== =====================

The trunk's own 7x7 stem convolution is dropped (SFEB2 takes its place); its BatchNorm is kept,
as in the reference, so an ImageNet checkpoint initialises it too.
"""
from __future__ import annotations

import os
import torch
from mmpretrain.models.backbones import ResNet
from torch import nn

from ..errors import PsfusionError
from .layers import FReLU, conv_bn_act


class SFEB1(nn.Sequential):
    """Full-resolution block: Conv7x7 -> BN -> FReLU -> Conv3x3 -> BN -> FReLU."""

    def __init__(self, in_channels: int, channels: int = 32) -> None:
        super().__init__(
            conv_bn_act(in_channels, channels, 7, bias=True, act=None), FReLU(channels),
            conv_bn_act(channels, channels, 3, bias=True, act=None), FReLU(channels))


class SFEB2(nn.Sequential):
    """Stride-2 block: Conv3x3/2 -> BN -> FReLU -> Conv3x3 (its BN + ReLU come from the trunk)."""

    def __init__(self, in_channels: int = 32, channels: int = 64) -> None:
        super().__init__(
            conv_bn_act(in_channels, channels, 3, stride=2, bias=True, act=None),
            FReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1))


class PretrainedTrunkError(PsfusionError, RuntimeError):
    """The configured ImageNet trunk checkpoint could not be read."""


def load_trunk_state_dict(path: str) -> dict:
    """Read an ImageNet ResNet checkpoint (torchvision or mmpretrain format), weights-only.

    Returns the trunk's state dict with mmpretrain key names (``backbone.`` prefixes and the
    classifier removed).  Fails with a message that says what to do: machines without internet
    cannot download it.
    """
    hint = ('Download an ImageNet ResNet checkpoint on a machine with internet (torchvision: '
            'https://download.pytorch.org/models/resnet34-b627a593.pth, or mmpretrain\'s '
            'resnet34_8xb32_in1k), copy it here and set model.backbone_pretrained=PATH, or set '
            'model.backbone_pretrained=None to train the trunks from scratch.')
    from ..engine.checkpoint import load_checkpoint_checked
    from ..errors import CheckpointError

    if path.startswith(('http://', 'https://')):
        cached = os.path.join(torch.hub.get_dir(), 'checkpoints', os.path.basename(path))
        if not os.path.isfile(cached):
            try:
                os.makedirs(os.path.dirname(cached), exist_ok=True)
                torch.hub.download_url_to_file(path, cached, progress=False)
            except Exception as exc:  # noqa: BLE001 - every download failure, same advice
                raise PretrainedTrunkError(f'cannot download the pretrained trunk checkpoint '
                                           f'{path!r} ({type(exc).__name__}: {exc}). '
                                           f'{hint}') from exc
        local = cached
    elif not os.path.isfile(path):
        raise PretrainedTrunkError(f'the pretrained trunk checkpoint {path!r} does not exist. '
                                   f'{hint}')
    else:
        local = path
    try:
        state = load_checkpoint_checked(local, advice=f'Delete it. {hint}')
    except CheckpointError as exc:
        raise PretrainedTrunkError(f'pretrained trunk (model.backbone_pretrained): {exc}') \
            from exc
    if isinstance(state, dict) and 'state_dict' in state:
        state = state['state_dict']
    if not isinstance(state, dict):
        raise PretrainedTrunkError(f'{path}: not a state dict. {hint}')
    out = {}
    for key, value in state.items():
        key = key[len('backbone.'):] if key.startswith('backbone.') else key
        if key.startswith(('fc.', 'head.', 'conv1.')):
            continue
        out[key] = value
    return out


class ModalityEncoder(nn.Module):
    """SFEB1, SFEB2 and a ResNet trunk for one modality; ``forward`` returns the six levels.

    Args:
        in_channels: 1 (infrared) or 3 (visible RGB).
        depth: ResNet depth (18, 34, 50, ...), mmpretrain's implementation.
        stem_channels: width of SFEB1 (level 1).
        trunk_channels: the trunk's base width (64 for the standard, ImageNet-pretrainable
            ResNets; smaller for tiny test models).
    """

    def __init__(self, in_channels: int, depth: int = 34, stem_channels: int = 32,
                 trunk_channels: int = 64) -> None:
        super().__init__()
        trunk = ResNet(depth=depth, stem_channels=trunk_channels, base_channels=trunk_channels,
                       out_indices=(0, 1, 2, 3), norm_eval=False)
        del trunk.conv1  # replaced by SFEB1 + SFEB2
        self.sfeb1 = SFEB1(in_channels, stem_channels)
        self.sfeb2 = SFEB2(stem_channels, trunk.stem_channels)
        self.trunk = trunk
        expansion = trunk.res_layers and getattr(trunk, trunk.res_layers[0])[0].expansion
        base = trunk.base_channels
        #: channels of the six levels
        self.out_channels = (stem_channels, trunk.stem_channels) + tuple(
            base * expansion * 2**i for i in range(4))

    def load_pretrained(self, path: str) -> None:
        """Initialise the trunk from an ImageNet checkpoint, whose trunk weights must match
        this trunk's one to one (a ResNet of the configured depth)."""
        state = load_trunk_state_dict(path)
        missing, unexpected = self.trunk.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise PretrainedTrunkError(
                f'{path}: the checkpoint lacks {len(missing)} trunk weights (e.g. {missing[:3]}) '
                f'and has {len(unexpected)} the trunk lacks (e.g. {unexpected[:3]}); is it a '
                f'ResNet of the configured depth?')

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        trunk = self.trunk
        f1 = self.sfeb1(x)
        f2 = trunk.relu(trunk.norm1(self.sfeb2(f1)))
        feats = [f1, f2]
        out = trunk.maxpool(f2)
        for name in trunk.res_layers:
            out = getattr(trunk, name)(out)
            feats.append(out)
        return feats
