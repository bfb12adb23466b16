"""Parameter and multiply-add counts of any network, with mmengine's complexity analysis.

One vocabulary everywhere: ``params`` (trainable and frozen parameters) and ``macs``
(multiply-adds).  mmengine's :class:`~mmengine.analysis.FlopAnalyzer` (fvcore's) counts one
multiply-add per multiply-accumulate of a convolution, linear layer or matrix product, plus
small element-wise terms for normalisation, upsampling and pooling; cheap element-wise
operations are not counted.  Many papers call these counts "FLOPs"; counting multiplies and
adds separately gives twice as many, :attr:`Complexity.flops`, which is only printed where it
is labelled so.

The analyzer has no handle for ``scaled_dot_product_attention``; :func:`sdpa_macs` adds one, so
attention is counted (``Q K^T`` and ``A V``: ``N M (d + d_v)`` per head).

* :func:`fusion_complexity`: a fusion network's ``run(ir, vi)`` on one ``H x W`` pair;
* :func:`segmenter_complexity`: an mmseg segmenter (and its backbone) on one ``3 x H x W`` image.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence

import torch
from torch import nn


def sdpa_macs(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``aten::scaled_dot_product_attention(q, k, v, ...)``."""
    from mmengine.analysis.jit_handles import get_shape

    q, k, v = (get_shape(t) for t in inputs[:3])
    *batch, n, d = q
    m, dv = k[-2], v[-1]
    heads = 1
    for size in batch:
        heads *= size
    return heads * n * m * (d + dv)


@dataclass
class Complexity:
    """Counts for one input size."""
    params: int
    macs: int
    input_hw: tuple = ()
    macs_by_operator: dict = field(default_factory=dict)
    unsupported_ops: dict = field(default_factory=dict)

    @property
    def flops(self) -> int:
        """Multiplies and adds counted separately: ``2 x macs``."""
        return 2 * self.macs


def count(module: nn.Module, inputs: tuple) -> Complexity:
    """Parameters of ``module`` and multiply-adds of ``module(*inputs)`` (eval mode, no grad)."""
    from mmengine.analysis import FlopAnalyzer, parameter_count

    modes = {sub: sub.training for sub in module.modules()}  # each restored as it was
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            analyzer = FlopAnalyzer(module, inputs)
            analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_macs)
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analyzer.tracer_warnings('none')
            macs = int(analyzer.total())
            by_op = dict(analyzer.by_operator())
            unsupported = dict(analyzer.unsupported_ops())
    finally:
        for sub, training in modes.items():
            sub.training = training
    hw = tuple(inputs[0].shape[-2:]) if inputs and hasattr(inputs[0], 'shape') else ()
    return Complexity(int(parameter_count(module)['']), macs, hw, by_op, unsupported)


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)  # the model may sit on a GPU
    return parameter.device if parameter is not None else torch.device('cpu')


class _RunTensors(nn.Module):
    """Adapter for tracing a fusion network: ``(ir, vi) -> tuple`` of ``model.run``'s outputs."""

    def __init__(self, model: nn.Module, **run_kwargs) -> None:
        super().__init__()
        self.model, self.run_kwargs = model, run_kwargs

    def forward(self, ir: torch.Tensor, vi: torch.Tensor) -> tuple:
        return tuple(self.model.run(ir, vi, **self.run_kwargs).values())


def fusion_complexity(model: nn.Module, height: int, width: int,
                      **run_kwargs) -> Complexity:
    """Parameters and multiply-adds of ``model.run(ir, vi, **run_kwargs)`` on one
    ``height x width`` pair (``1 x 1 x H x W`` infrared, ``1 x 3 x H x W`` visible).

    For PSFusion, ``semantic=False, fidelity=False`` leave out the heads inference does not need.
    """
    device = _device(model)
    inputs = (torch.rand(1, 1, height, width, device=device),
              torch.rand(1, 3, height, width, device=device))
    result = count(_RunTensors(model, **run_kwargs), inputs)
    result.params = count_params(model)
    return result


def count_params(module: nn.Module) -> int:
    """Number of parameters of ``module`` (each tensor once)."""
    from mmengine.analysis import parameter_count

    return int(parameter_count(module)[''])


def segmenter_complexity(model: nn.Module, image_hw: Sequence[int],
                         in_channels: Optional[int] = None) -> dict:
    """``params``, ``macs``, ``backbone_params``, ``backbone_macs`` and ``input_hw`` of an mmseg
    ``EncoderDecoder`` (or a wrapper with ``.module``) for one ``C x H x W`` image (``C``: 3, or
    ``in_channels``).  The backbone's share matters to the image- vs feature-level comparison:
    a two-stream segmenter runs one backbone per modality."""
    model = getattr(model, 'module', model)
    channels = in_channels or 3
    shape = (1, channels, int(image_hw[0]), int(image_hw[1]))
    device = _device(model)
    whole = count(model, (torch.zeros(shape, device=device), ))
    backbone = count(model.backbone, (torch.zeros(shape, device=device), ))
    return dict(params=whole.params, macs=whole.macs, backbone_params=backbone.params,
                backbone_macs=backbone.macs, input_hw=list(shape[2:]))
