"""Data-parallel training on CPU processes with BatchNorm over the total batch.

mmengine's ``sync_bn='torch'`` converts BatchNorm to torch's ``SyncBatchNorm``, which runs on
GPUs only.  :class:`CPUSyncBNDistributedDataParallel` is mmengine's DDP wrapper that first
converts every BatchNorm of the model to
:class:`~psfusion.models.sync_batchnorm.AllReduceSyncBN` (statistics all-reduced over gloo), so
that ``tools/dist_train.sh`` on CPUs trains what one process with the total batch trains.
:func:`psfusion.engine.training.prepare_config` selects it (GPUs get ``sync_bn='torch'``).
"""
from __future__ import annotations

from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from torch import nn

from ..models.sync_batchnorm import convert_to_allreduce_syncbn
from ..registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUSyncBNDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` of ``module`` with its BatchNorm layers synchronised over
    the process group (for CPU processes: pass ``device_ids=None``)."""

    def __init__(self, module: nn.Module, **kwargs) -> None:
        module, replaced = convert_to_allreduce_syncbn(module)
        print_log(f'BatchNorm synchronised over the processes: {replaced} layers '
                  f'(AllReduceSyncBN)', logger='current')
        super().__init__(module=module, **kwargs)
