"""Early fusion: SegFormer's MiT reading visible and infrared as one 4-channel image.

The simplest RGB-thermal segmenter (the input-level baseline CMX compares against): mmseg's
``MixVisionTransformer`` whose first patch embedding takes 4 channels, (R, G, B, T) as the
``rgbt`` source delivers them, normalised per channel by the data preprocessor.  Everything after
the first 7x7 convolution is SegFormer unchanged: 4 x 7 x 7 x ``embed_dims`` = 3,136 more
parameters than SegFormer-B2 (24,728,585 with 9 classes and mmseg's 256-channel head).

**Pretrained**: an ImageNet MiT checkpoint (mmseg's layout, as SegFormer's) loads as mmseg loads
it, except the first patch embedding's filters: channels 0-2 take the RGB filters and the
thermal channel 3 their mean over R, G and B (a grey-level filter: a thermal image that equals
the luminance of the RGB one starts with the same response as the ImageNet filter has on a grey
image).  Without a checkpoint (``init_cfg=None``, the benchmark's ``--pretrained off``) the
weights are mmseg's MiT initialisation.  Any input but 4 channels raises
:class:`~psfusion.errors.ConfigError` (a ``ValueError``).
"""
from __future__ import annotations

from typing import List

import torch
from mmengine.logging import print_log
from mmseg.models.backbones.mit import MixVisionTransformer
from mmseg.registry import MODELS
from torch import Tensor

from ..errors import CheckpointError, ConfigError
from .cmx import RGBT_CHANNELS, is_pretrained, load_mit_weights, read_mit_checkpoint, \
    require_rgbt

#: The first patch embedding's filters in mmseg's MiT layout.
FIRST_FILTERS = 'layers.0.0.projection.weight'


def rgb_to_rgbt_filters(weight: Tensor) -> Tensor:
    """``out x 3 x k x k`` RGB filters -> ``out x 4 x k x k``: the RGB filters, then their mean
    over the three colour channels as the thermal filter."""
    return torch.cat([weight, weight.mean(dim=1, keepdim=True)], dim=1)


@MODELS.register_module()
class EarlyFusionMiT(MixVisionTransformer):
    """mmseg's ``MixVisionTransformer`` on the 4-channel (R, G, B, T) input.

    Args:
        in_channels: only 4.
        init_cfg: None, or ``dict(type='Pretrained', checkpoint=...)`` naming a 3-channel
            mmseg MiT checkpoint (its first filters are widened, see the module docstring).
        **kwargs: as ``MixVisionTransformer`` (``pretrained`` is refused: use ``init_cfg``).
    """

    def __init__(self, in_channels: int = RGBT_CHANNELS, init_cfg=None, **kwargs) -> None:
        if in_channels != RGBT_CHANNELS:
            raise ConfigError(f'EarlyFusionMiT: in_channels={in_channels}; it reads the `rgbt` '
                              f'source (4 channels: visible RGB + infrared), set 4.')
        if kwargs.get('pretrained') is not None:
            raise ConfigError("EarlyFusionMiT: use init_cfg=dict(type='Pretrained', "
                              "checkpoint=...) rather than the deprecated `pretrained`")
        if init_cfg is not None and not is_pretrained(init_cfg):
            raise ConfigError(f'EarlyFusionMiT: init_cfg must be None or '
                              f"dict(type='Pretrained', checkpoint=...), got {init_cfg!r}")
        super().__init__(in_channels=in_channels, init_cfg=init_cfg, **kwargs)

    def init_weights(self) -> None:
        """mmseg's MiT initialisation; then, with a ``Pretrained`` ``init_cfg``, the
        checkpoint with its first filters widened to 4 channels."""
        pretrained, self.init_cfg = self.init_cfg, None
        try:
            super().init_weights()  # init_cfg None: mmseg's random MiT scheme
        finally:
            self.init_cfg = pretrained
        if is_pretrained(pretrained):
            checkpoint = pretrained['checkpoint']
            print_log(f'load the MiT checkpoint {checkpoint} into the early-fusion MiT (thermal '
                      f'filter = mean of the RGB filters)', logger='current')
            state = dict(read_mit_checkpoint(pretrained))
            weight = state.get(FIRST_FILTERS)
            if weight is None or weight.dim() != 4 or weight.shape[1] != 3:
                shape = None if weight is None else tuple(weight.shape)
                raise CheckpointError(
                    f'{checkpoint}: {FIRST_FILTERS} is {shape}, not 3-channel RGB filters '
                    f'(expected an mmseg MiT ImageNet checkpoint)')
            state[FIRST_FILTERS] = rgb_to_rgbt_filters(weight)
            load_mit_weights(self, state, checkpoint, 'early-fusion MiT')
        self._is_init = True

    def forward(self, x: Tensor) -> List[Tensor]:
        require_rgbt(x, 'early fusion (EarlyFusionMiT)')
        return super().forward(x)
