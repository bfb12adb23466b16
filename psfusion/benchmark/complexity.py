"""Parameters and FLOPs of a segmenter, with mmengine's complexity analysis.

FLOPs follow mmengine's (fvcore's) convention: one fused multiply-add counts as one FLOP, for
convolutions, linear layers, matrix products and normalisations; cheap element-wise operations
are not counted.  They are measured for one image of the given size.  The backbone's share is
reported too: feature-level fusion (CMX and the like) runs one backbone per modality, so its
cost is at least the segmenter's plus one more backbone (the paper's Figure 3 argument).
"""
from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import nn


def _analyse(module: nn.Module, shape: Sequence[int]) -> tuple[int, int]:
    from mmengine.analysis import FlopAnalyzer, parameter_count

    device = next(module.parameters()).device  # the model may sit on a GPU
    inputs = (torch.zeros(1, *shape, device=device), )
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        flops = int(analyzer.total())
    return int(parameter_count(module)['']), flops


def segmenter_complexity(model: nn.Module, image_hw: Sequence[int]) -> dict:
    """``params``, ``flops``, ``backbone_params``, ``backbone_flops`` of an mmseg
    ``EncoderDecoder`` (or a wrapper with ``.module``) for one ``3 x H x W`` image."""
    model = getattr(model, 'module', model)
    shape = (3, int(image_hw[0]), int(image_hw[1]))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            params, flops = _analyse(model, shape)
            backbone_params, backbone_flops = _analyse(model.backbone, shape)
    finally:
        model.train(was_training)
    return dict(params=params, flops=flops, backbone_params=backbone_params,
                backbone_flops=backbone_flops, input_hw=list(shape[1:]))
