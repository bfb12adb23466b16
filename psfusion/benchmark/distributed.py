"""One benchmark run on several processes (GPUs): data-parallel training that keeps the recipe.

``tools/benchmark_downstream.py --launcher pytorch`` (under ``torchrun``, see
``tools/dist_benchmark.sh``) or ``--launcher slurm`` starts the process group once
(:func:`run_in_process_group`); every run then trains with mmengine's
``MMDistributedDataParallel``.  The run config (:func:`.run_config.build_run_config`) and its
hash stay those of one process: only the Runner's config is changed (:func:`distribute`):

* the training batch of the recipe is the **total** over all processes: each loads
  ``total / world size`` (:func:`psfusion.engine.training.split_total_batch`; a total not
  divisible by the world size is refused);
* with more than one process, the model's BatchNorm layers become synchronised, so the batch
  statistics are those of the total batch, as in one process: torch's ``SyncBN`` on GPUs, and
  :class:`~psfusion.models.sync_batchnorm.AllReduceSyncBN` without them (torch's runs on GPUs
  only), where the processes use gloo and a CPU model wrapper.

Only the main process (rank 0) writes results rows, run-folder records and caches
(:mod:`.runner`).
"""
from __future__ import annotations

import copy
from typing import Callable, Optional

import torch

from ..engine.training import finish_distributed, split_total_batch, world_size_of
from ..errors import ConfigError

#: The launchers ``--launcher`` takes (mmengine's, without MPI).
LAUNCHERS = ('none', 'pytorch', 'slurm')
Log = Callable[[str], None]


#: The synchronised BatchNorm of processes on GPUs (torch's) and on CPUs (ours, over gloo).
GPU_SYNC_BN = 'SyncBN'
CPU_SYNC_BN = 'psfusion.AllReduceSyncBN'


def batchnorm_to_syncbn(value, sync_type: str = GPU_SYNC_BN):
    """``value`` (a model config) with every ``type='BN'`` norm config made ``sync_type``."""
    if isinstance(value, dict):
        out = {key: batchnorm_to_syncbn(item, sync_type) for key, item in value.items()}
        if out.get('type') == 'BN':
            out['type'] = sync_type
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(batchnorm_to_syncbn(item, sync_type) for item in value)
    return value


def distribute(data: dict, launcher: str, log: Log = print,
               cuda: Optional[bool] = None) -> dict:
    """Make a Runner config (a plain dict, changed in place and returned) run data-parallel
    under ``launcher``: total batch split over the processes, synchronised BN (torch's SyncBN
    on GPUs, :data:`CPU_SYNC_BN` on CPUs), gloo and a CPU wrapper without GPUs.  ``'none'`` changes nothing but the launcher key.

    Raises:
        ConfigError: an unknown launcher, or a total batch the world size does not divide.
    """
    if launcher not in LAUNCHERS:
        raise ConfigError(f'launcher {launcher!r}: use one of {", ".join(LAUNCHERS)}')
    data['launcher'] = launcher
    if launcher == 'none':
        return data
    cuda = torch.cuda.is_available() if cuda is None else cuda
    world = world_size_of(launcher)
    from mmengine.config import Config
    holder = Config({key: data[key] for key in ('train_dataloader',) if data.get(key)})
    if holder.get('train_dataloader'):
        split_total_batch(holder, world, log)
        data['train_dataloader'] = holder.to_dict()['train_dataloader']
    if world > 1:
        data['model'] = batchnorm_to_syncbn(copy.deepcopy(data['model']),
                                            GPU_SYNC_BN if cuda else CPU_SYNC_BN)
    if not cuda:
        env = data.setdefault('env_cfg', {})
        env.setdefault('dist_cfg', {})['backend'] = 'gloo'
        data['model_wrapper_cfg'] = dict(type='MMDistributedDataParallel', device_ids=None,
                                         broadcast_buffers=False)
    return data


def init_distributed(launcher: str) -> None:
    """Start the process group of ``launcher`` (once): mmengine's ``init_dist`` on GPUs, gloo
    on the CPU (mmengine's ``init_dist`` needs a GPU).  The Runners then find it started."""
    import torch.distributed as dist

    if launcher not in LAUNCHERS:
        raise ConfigError(f'launcher {launcher!r}: use one of {", ".join(LAUNCHERS)}')
    if launcher == 'none' or in_process_group():
        return
    if torch.cuda.is_available():
        from mmengine.dist import init_dist
        init_dist(launcher)
    elif launcher == 'pytorch':
        dist.init_process_group(backend='gloo')
    else:
        raise ConfigError(f'--launcher {launcher} without a GPU: use --launcher pytorch under '
                          'torchrun (tools/dist_benchmark.sh), which runs on the CPU with gloo')


def in_process_group() -> bool:
    """Whether a process group is started."""
    import torch.distributed as dist
    return dist.is_available() and dist.is_initialized()


def is_main_process() -> bool:
    """True on rank 0, and without a process group."""
    from mmengine.dist import is_main_process as main
    return main()


def barrier() -> None:
    """All processes meet (nothing without a process group)."""
    from mmengine.dist import barrier as meet
    meet()


def main_process_first(function: Callable, *args, **kwargs):
    """``function(*args, **kwargs)`` on rank 0 first, then (after a barrier) on the others,
    e.g. fusing a built-in source once, the others then finding it written."""
    result = function(*args, **kwargs) if is_main_process() else None
    barrier()
    if not is_main_process():
        result = function(*args, **kwargs)
    return result


def run_in_process_group(launcher: str, main: Callable, argv=None) -> int:
    """``main(argv)`` inside ``launcher``'s process group, torn down afterwards (after a
    barrier when it returned 0 on this rank)."""
    init_distributed(launcher)
    status = 1
    try:
        status = main(argv)
        return status
    finally:
        finish_distributed(status == 0)
