"""BatchNorm synchronised over the processes of any backend (gloo on CPUs included).

torch's ``SyncBatchNorm`` refuses inputs that are not on a GPU, so data-parallel training on
CPU processes (``--launcher pytorch`` without a GPU, the 2-process tests) would otherwise
normalise each process's share of the batch by its own statistics: another recipe than one
process with the whole batch.  :class:`AllReduceSyncBN` computes the statistics of the total
batch with two autograd-aware all-reduces (the sum, then the sum of squared deviations from
the total mean, which is as exact as one process's two-pass statistics), so that forward,
backward and the running statistics are those of one process holding the total batch.  Without
a started process group, in evaluation, or in a group of one it is plain BatchNorm.

It is slower than torch's fused GPU kernel and is meant for CPUs; on GPUs the benchmark uses
torch's ``SyncBN`` (:func:`psfusion.benchmark.distributed.distribute`).  Registered in the
``psfusion`` scope: ``norm_cfg=dict(type='psfusion.AllReduceSyncBN')``.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..registry import MODELS


def _synchronising(training: bool) -> bool:
    return (training and dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1)


@MODELS.register_module()
class AllReduceSyncBN(_BatchNorm):
    """BatchNorm over the total batch of all processes (any input of 2 or more dimensions,
    channels second); the same parameters, buffers and state-dict keys as ``nn.BatchNorm2d``."""

    def _check_input_dim(self, input: Tensor) -> None:  # noqa: A002 (torch's name)
        if input.dim() < 2:
            raise ValueError(f'AllReduceSyncBN expects at least 2-D input (N, C, ...), got '
                             f'{input.dim()}-D')

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 (torch's name)
        self._check_input_dim(input)
        if not _synchronising(self.training):
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce

        channels = input.size(1)
        dims = [0] + list(range(2, input.dim()))
        shape = [1, channels] + [1] * (input.dim() - 2)
        local = input.float()
        count = all_reduce(local.new_tensor([local.numel() / channels]))
        mean = all_reduce(local.sum(dims)) / count
        centred = local - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count  # biased, as BN normalises
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), float(count))
        return out.to(input.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, count: float) -> None:
        """BatchNorm's update: momentum (or the cumulative average when it is None), unbiased
        variance of the total batch."""
        self.num_batches_tracked += 1
        factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                  else self.momentum)
        unbiased = var * count / max(count - 1.0, 1.0)
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype),
                                               alpha=factor)


def convert_to_allreduce_syncbn(module: nn.Module) -> tuple[nn.Module, int]:
    """``module`` with every BatchNorm layer (any ``_BatchNorm``: ``nn.BatchNorm1d/2d/3d``,
    torch's ``SyncBatchNorm``) replaced by an :class:`AllReduceSyncBN` holding the same
    parameters and running statistics, and the number replaced.  Like torch's
    ``SyncBatchNorm.convert_sync_batchnorm``, for processes without GPUs."""
    if isinstance(module, _BatchNorm) and not isinstance(module, AllReduceSyncBN):
        synced = AllReduceSyncBN(module.num_features, module.eps, module.momentum,
                                 module.affine, module.track_running_stats)
        if module.affine:
            synced.weight, synced.bias = module.weight, module.bias  # the same Parameters
        if module.track_running_stats:
            synced.running_mean, synced.running_var = module.running_mean, module.running_var
            synced.num_batches_tracked = module.num_batches_tracked
        synced.train(module.training)
        return synced, 1
    replaced = 0
    for name, child in module.named_children():
        new_child, count = convert_to_allreduce_syncbn(child)
        replaced += count
        if new_child is not child:
            setattr(module, name, new_child)
    return module, replaced
