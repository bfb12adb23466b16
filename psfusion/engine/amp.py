"""bf16 mixed-precision training (``--amp`` of ``tools/train_fusion.py`` and
``tools/benchmark_downstream.py``) on GPUs and on the CPU.

The recipe names mmengine's ``AmpOptimWrapper`` with ``dtype='bfloat16'``
(:func:`apply_amp`); mmengine refuses that wrapper without a GPU, although torch
runs bf16 autocast on the CPU.  :func:`use_cpu_amp` gives a Runner's config on a machine without
a GPU :class:`CPUBFloat16OptimWrapper` instead: the same optimiser under ``torch.autocast('cpu',
bfloat16)``, without loss scaling (bf16 has fp32's exponent range; on GPUs the dynamic scaler
of ``AmpOptimWrapper`` stays at its initial scale in practice).  The recipe and its hash stay
the same on both.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from ..registry import OPTIM_WRAPPERS

#: The recipe's wrapper type and the CPU stand-in's registered name.
AMP_WRAPPER = 'AmpOptimWrapper'
CPU_WRAPPER = 'psfusion.CPUBFloat16OptimWrapper'


@OPTIM_WRAPPERS.register_module()
class CPUBFloat16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward passes run under CPU bf16 autocast.

    Takes (and ignores) ``AmpOptimWrapper``'s ``loss_scale``; ``dtype`` must be bfloat16."""

    def __init__(self, dtype='bfloat16', loss_scale='dynamic', **kwargs):
        if str(dtype).replace('torch.', '') != 'bfloat16':
            raise ValueError(f'CPUBFloat16OptimWrapper trains in bfloat16 only, got {dtype!r}')
        super().__init__(**kwargs)

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield


def apply_amp(cfg) -> None:
    """Train with bf16 autocast: mmengine's ``AmpOptimWrapper`` with ``dtype='bfloat16'``
    (the optimiser, clipping and accumulation settings of the wrapper stay).  bf16 has fp32's
    exponent range, so no loss scaling is needed; it runs on recent GPUs and on the CPU."""
    cfg.optim_wrapper.type = AMP_WRAPPER
    cfg.optim_wrapper.dtype = 'bfloat16'


def use_cpu_amp(data: dict, cuda=None) -> dict:
    """Without a GPU, replace a bf16 ``AmpOptimWrapper`` of a Runner config (a plain dict,
    changed in place) by :class:`CPUBFloat16OptimWrapper`."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    wrapper = data.get('optim_wrapper')
    if (not cuda and isinstance(wrapper, dict) and wrapper.get('type') == AMP_WRAPPER
            and str(wrapper.get('dtype')) == 'bfloat16'):
        data['optim_wrapper'] = {**wrapper, 'type': CPU_WRAPPER}
    return data
