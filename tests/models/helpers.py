"""Small builders shared by the model tests."""
from __future__ import annotations

import torch
from mmengine.structures import BaseDataElement, PixelData

# PSFusion-Light (the demo variant), small enough for CPU tests
LIGHT = dict(depth=18, stem_channels=16, rec_channels=16, fuse_channels=32, seg_channels=32,
             sim_hidden=16)


def labelled_samples(batch: int, height: int, width: int, seed: int = 0) -> list:
    """Data samples with random semantic labels and the derived label fields."""
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(batch):
        seg = torch.randint(0, 9, (1, height, width), generator=gen)
        sample = BaseDataElement(metainfo=dict(img_shape=(height, width), name='x'))
        sample.gt_sem_seg = PixelData(data=seg)
        sample.gt_binary = PixelData(data=(seg > 0).long())
        sample.gt_boundary = PixelData(data=torch.randint(0, 2, (1, height, width), generator=gen))
        sample.gt_target = PixelData(data=((seg >= 1) & (seg <= 3)).long())
        samples.append(sample)
    return samples


def randomise_batchnorm(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial BatchNorm statistics and affine parameters (so folding is really tested)."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=gen) * 0.4 - 0.2)
