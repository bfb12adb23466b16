"""Parameter and compute counts of a PSFusion model with mmengine's complexity analysis.

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` (fvcore's) counts one *multiply-add* per
multiply-accumulate of a convolution or matrix product (plus small element-wise terms for
normalisation, upsampling and pooling); papers' "FLOPs" usually count multiplies and adds
separately, i.e. about twice as many.  The analyzer has no handle for
``scaled_dot_product_attention``; :func:`sdpa_macs` adds one, so the PSFM attention is counted
(``Q K^T`` and ``A V``: ``2 N M d`` per head).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from torch import nn


def sdpa_macs(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``aten::scaled_dot_product_attention(q, k, v, ...)``."""
    q, k, v = (get_shape(t) for t in inputs[:3])
    *batch, n, d = q
    m, dv = k[-2], v[-1]
    heads = 1
    for size in batch:
        heads *= size
    return heads * n * m * (d + dv)


class _RunTensors(nn.Module):
    """Adapter for tracing: ``(ir, vi) -> tuple`` of the network's outputs."""

    def __init__(self, model: nn.Module, semantic: bool, fidelity: bool) -> None:
        super().__init__()
        self.model, self.semantic, self.fidelity = model, semantic, fidelity

    def forward(self, ir: torch.Tensor, vi: torch.Tensor) -> tuple:
        out = self.model.run(ir, vi, semantic=self.semantic, fidelity=self.fidelity)
        return tuple(out.values())


@dataclass
class Complexity:
    """Counts for one input size (multiply-adds as mmengine counts them)."""
    params: int
    macs: int
    macs_by_operator: dict
    unsupported_ops: dict

    @property
    def flops(self) -> int:
        """Multiplies and adds counted separately: ``2 x`` multiply-adds."""
        return 2 * self.macs


def model_complexity(model: nn.Module, height: int, width: int, semantic: bool = True,
                     fidelity: bool = True) -> Complexity:
    """Parameters and multiply-adds of ``model.run`` on one ``height x width`` pair.

    ``semantic`` / ``fidelity`` = ``False`` leave out the heads that inference does not need.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device  # the model may sit on a GPU
    inputs = (torch.rand(1, 1, height, width, device=device),
              torch.rand(1, 3, height, width, device=device))
    try:
        with torch.no_grad():  # counting needs no autograd graph (and its memory)
            analyzer = FlopAnalyzer(_RunTensors(model, semantic, fidelity), inputs)
            analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_macs)
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            macs = analyzer.total()
            by_op = dict(analyzer.by_operator())
            unsupported = dict(analyzer.unsupported_ops())
    finally:
        model.train(was_training)
    return Complexity(parameter_count(model)[''], macs, by_op, unsupported)
