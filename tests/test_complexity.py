"""psfusion.complexity.count: the counting leaves the network as it found it."""
from __future__ import annotations

import torch
from torch import nn

from psfusion.complexity import count


def test_count_leaves_every_submodule_in_its_mode():
    """An eval-mode network inside a train-mode adapter (as fusion_complexity wraps a fuser's
    network) stays in eval mode after counting: BatchNorm keeps its running statistics."""
    inner = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).eval()
    wrapper = nn.Sequential(inner).train()
    inner.eval()
    result = count(wrapper, (torch.rand(1, 1, 8, 8), ))
    assert result.params == 2 * 9 + 2 + 2 + 2
    assert wrapper.training and not inner.training and not inner[1].training
