"""Configuration and launch of fusion training (``tools/train_fusion.py`` is a thin CLI on this).

:func:`prepare_config` applies the command-line choices to a config: ``--cfg-options``
(:mod:`psfusion.config_options`: unknown keys refused, top-level variables re-evaluated), work
directory, resume (:func:`.resume.resolve_resume`), the launcher (:func:`distribute_training`:
the config's batch is the total, BatchNorm synchronised over the processes; gloo without a
GPU), crash-safe checkpoints (:class:`.checkpoint.AtomicCheckpointHook`)
and the validation split held out of the training split when the config asks for one
(``val_split = dict(fraction=..., seed=...)``).  Before anything is built it checks what would
otherwise fail late: the LR schedule's ranges, and the pretrained trunk file
(``model.backbone_pretrained``), loaded once weights-only.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from ..config_options import apply_cfg_options, load_config
from ..errors import ConfigError
from .binary_weights import use_dataset_binary_weights
from .checkpoint import load_checkpoint_checked, use_atomic_checkpoints
from .resume import resolve_resume
from .splits import write_validation_split


def _log(message: str) -> None:
    print_log(message, logger='current')


def prepare_config(config: Union[str, Config], work_dir: Optional[str] = None,
                   resume: Union[bool, str] = False, cfg_options: Optional[dict] = None,
                   launcher: str = 'none', log: Callable[[str], None] = _log) -> Config:
    """Load ``config`` and apply the run's options (see module doc).

    ``resume``: False, True (the latest complete checkpoint of the work dir; an error when
    there is none), ``'auto'`` (the same, or iteration 0 when there is none) or a checkpoint
    path (:func:`.resume.resolve_resume`).

    Raises:
        ConfigError: an unknown ``--cfg-options`` key, an unusable value or schedule.
        CheckpointError: nothing to resume, or a bad ``--resume`` file.
        PretrainedTrunkError: the configured pretrained trunk file is corrupt or missing.
    """
    if isinstance(config, Config):
        cfg = apply_cfg_options(config.copy(), cfg_options)
    else:
        cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir:
        cfg.work_dir = work_dir
    elif not cfg.get('work_dir'):
        name = osp.splitext(osp.basename(cfg.filename or 'psfusion'))[0]
        cfg.work_dir = osp.join('work_dirs', name)
    use_atomic_checkpoints(cfg)
    use_dataset_binary_weights(cfg)
    apply_warmup_form(cfg, log)
    check_schedule(cfg)
    if resume:
        checkpoint = resolve_resume(cfg.work_dir, resume, log)
        cfg.resume = checkpoint is not None
        cfg.load_from = checkpoint
    if launcher != 'none':
        distribute_training(cfg, world_size_of(launcher), log)
    check_pretrained_trunk(cfg)
    if cfg.get('val_split'):
        _hold_out_validation(cfg)
    return cfg


def world_size_of(launcher: str) -> int:
    """The number of training processes a launcher started (from the environment its launcher
    sets: torchrun's ``WORLD_SIZE``, Slurm's ``SLURM_NTASKS``, MPI's ``OMPI_COMM_WORLD_SIZE``);
    1 when none is set."""
    names = {'pytorch': 'WORLD_SIZE', 'slurm': 'SLURM_NTASKS', 'mpi': 'OMPI_COMM_WORLD_SIZE'}
    value = os.environ.get(names.get(launcher, 'WORLD_SIZE'), '1')
    try:
        return max(1, int(value))
    except ValueError:
        raise ConfigError(f'{names.get(launcher, "WORLD_SIZE")}={value!r} is not a process count')


def split_total_batch(cfg: Config, world_size: int,
                      log: Callable[[str], None] = _log) -> None:
    """Keep the config's training batch as the **total** over all processes: each process
    loads ``total / world_size`` samples, so the recipe (batch and learning rate) is the same
    on 1 GPU or 8.  A total not divisible by the world size is refused (no silent change).

    mmengine's ``batch_size`` is per process; without this, ``tools/dist_train.sh CONFIG N``
    would multiply the batch by N at the same learning rate.
    """
    loader = cfg.get('train_dataloader')
    if not loader or world_size <= 1:
        return
    total = int(loader.batch_size)
    if total % world_size:
        raise ConfigError(
            f'the training batch ({total}, train_dataloader.batch_size) is the total over all '
            f'processes and must divide evenly among {world_size}: use a process count that '
            f'divides {total}, or set train_dataloader.batch_size to a multiple of {world_size}.')
    loader.batch_size = total // world_size
    log(f'total training batch {total} kept: {loader.batch_size} per process x {world_size} '
        f'processes (the learning rate is the config\'s, unscaled)')


def distribute_training(cfg: Config, world_size: int,
                        log: Callable[[str], None] = _log) -> None:
    """Make ``cfg`` train data-parallel over ``world_size`` processes with the recipe of one:
    the total batch split (:func:`split_total_batch`) and, with more than one process,
    BatchNorm over the total batch (torch's SyncBN on GPUs through mmengine's ``sync_bn``;
    :class:`~psfusion.engine.cpu_ddp.CPUSyncBNDistributedDataParallel` over gloo without
    them)."""
    split_total_batch(cfg, world_size, log)
    cuda = torch.cuda.is_available()
    if not cuda:
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        cfg.model_wrapper_cfg = dict(
            type='psfusion.CPUSyncBNDistributedDataParallel' if world_size > 1
            else 'MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)
    elif world_size > 1:
        cfg.sync_bn = 'torch'


def apply_speed_options(cfg: Config, amp: bool = False, channels_last: bool = False,
                        compile: bool = False) -> None:  # noqa: A002 (torch's word)
    """Switches that change how fast a step runs, not what the network is:

    * ``amp``: bf16 autocast (mmengine's ``AmpOptimWrapper``; on a machine without a GPU the
      same under CPU autocast, :func:`.amp.use_cpu_amp`);
    * ``channels_last``: NHWC weights and activations (the model's ``channels_last``);
    * ``compile``: ``torch.compile`` of the training step (mmengine's ``compile`` key).
    """
    from .amp import apply_amp, use_cpu_amp

    if amp:
        apply_amp(cfg)
        use_cpu_amp(cfg)
    if channels_last:
        cfg.model.channels_last = True
    if compile:
        cfg.compile = True


WARMUP_FORMS = ('linear', 'exp')


def apply_warmup_form(cfg: Config, log: Callable[[str], None] = _log) -> None:
    """Give the warm-up the form ``cfg.warmup`` asks for (absent: unchanged).

    ``'linear'``: the config's ``LinearLR`` as written.  ``'exp'``: the official code's geometric
    warm-up (its ``optimizer.py``): the first scheduler, a ``LinearLR`` from ``begin`` to ``end``,
    becomes :class:`~psfusion.engine.schedulers.ExponentialWarmupLR` with the same
    ``start_factor`` over iterations ``begin .. end`` inclusive, so that iteration ``end`` runs
    at the full learning rate where the poly decay takes over, as in the official schedule.
    """
    form = cfg.get('warmup')
    if form is None:
        return
    if form not in WARMUP_FORMS:
        raise ConfigError(f"warmup must be 'linear' or 'exp', got {form!r}")
    schedulers = cfg.get('param_scheduler') or []
    first = schedulers[0] if isinstance(schedulers, list) and schedulers else None
    if form == 'linear' or (first and first.get('type') == 'ExponentialWarmupLR'):
        return
    if not first or first.get('type') != 'LinearLR':
        raise ConfigError("warmup='exp' replaces a LinearLR warm-up, the first entry of "
                          f'param_scheduler; this config starts with '
                          f'{first.get("type") if first else "no scheduler"}.')
    schedulers[0] = dict(type='ExponentialWarmupLR', start_factor=first.get('start_factor'),
                         by_epoch=first.get('by_epoch', False), begin=first.get('begin', 0),
                         end=first['end'] + 1)
    log(f"warm-up: exponential (warmup='exp'), lr x {first.get('start_factor')} -> x 1 over "
        f'iterations {schedulers[0]["begin"]}..{first["end"]} (the official code\'s)')


def check_schedule(cfg: Config) -> None:
    """Every iteration-based LR scheduler must have ``begin < end`` (e.g. a warm-up longer than
    a shortened run is refused here, naming the variables, not inside mmengine)."""
    schedulers = cfg.get('param_scheduler') or []
    for index, scheduler in enumerate(schedulers if isinstance(schedulers, list) else []):
        begin, end = scheduler.get('begin', 0), scheduler.get('end')
        if isinstance(end, (int, float)) and isinstance(begin, (int, float)) and begin >= end:
            raise ConfigError(
                f'param_scheduler[{index}] ({scheduler.get("type")}) would run from iteration '
                f'{begin} to {end}: it must end after it begins. After shortening the run '
                f'(max_iters), shorten the warm-up too, e.g. --cfg-options max_iters=N '
                f'warmup_iters=M with M < N.')


def check_pretrained_trunk(cfg: Config) -> None:
    """Load ``model.backbone_pretrained`` (a local file, or a URL already in torch's hub
    cache) once, weights-only, so that a missing or corrupt file stops the run now, naming
    it, and not after the datasets and Runner are built."""
    from ..models.encoder import load_trunk_state_dict

    path = (cfg.get('model') or {}).get('backbone_pretrained')
    if not path:
        return
    if path.startswith(('http://', 'https://')):
        cached = osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(path))
        if not osp.isfile(cached):
            return  # downloaded (or refused) when the model initialises
    load_trunk_state_dict(path)  # PretrainedTrunkError naming the file and what to do


def _hold_out_validation(cfg: Config) -> None:
    """Point the train / val datasets at seeded split files in ``WORK_DIR/splits``."""
    train_set = cfg.train_dataloader.dataset
    val_set = cfg.val_dataloader.dataset
    if val_set.get('split', 'train') != train_set.get('split', 'train'):
        raise ConfigError('val_split holds validation out of the training split: the val '
                          'dataset must use the same split folder as the training dataset.')
    for dataset in (train_set, val_set):
        if not _layout_of(dataset):
            raise ConfigError(f'val_split needs a paired dataset of a registered layout (they '
                              f'take split_file); {dataset.type} is not one.')
    train_file, val_file = write_validation_split(
        train_set.data_root, osp.join(cfg.work_dir, 'splits'), train_set.get('split', 'train'),
        cfg.val_split.get('fraction', 0.1), cfg.val_split.get('seed', 0),
        train_set.get('split_file'), _layout_of(train_set))
    train_set.split_file = train_file
    val_set.split_file = val_file


def _dataset_class(dataset_cfg) -> type:
    from ..registry import DATASETS

    cls = DATASETS.get(dataset_cfg.type)
    if cls is None:
        raise ConfigError(f'unknown dataset type {dataset_cfg.type!r} in the config')
    return cls


def _layout_of(dataset_cfg) -> str:
    """The layout name of a fusion dataset config (``MSRSDataset`` -> ``msrs``; every such
    dataset takes ``split_file``, see :class:`psfusion.data.datasets.PairedDataset`)."""
    return getattr(_dataset_class(dataset_cfg), 'LAYOUT', '')


def init_cpu_distributed(cfg: Config) -> None:
    """Start the gloo process group for a CPU-only multi-process run.

    mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, which fails
    without a GPU; with the group already started, the Runner skips its own initialisation.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def finish_distributed(completed: bool) -> None:
    """Tear the process group down before the interpreter exits.

    mmengine leaves it alive; gloo's background threads are then destroyed during interpreter
    shutdown, which can abort a rank ("terminate called without an active exception") after
    a successful run.  After a completed run all ranks first meet at a barrier, so that no
    rank tears its connections down while another still talks to it; after a failure there
    is no barrier (the other ranks may be gone).
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if completed:
            dist.barrier()
    finally:
        dist.destroy_process_group()


def train(cfg: Config) -> Runner:
    """Build the Runner from a prepared config and train; returns the Runner."""
    init_cpu_distributed(cfg)
    completed = False
    try:
        runner = Runner.from_cfg(cfg)
        runner.train()
        completed = True
    finally:
        if cfg.get('launcher', 'none') != 'none':
            finish_distributed(completed)
    return runner


def test(cfg: Config, checkpoint: str) -> dict:
    """Evaluate ``checkpoint`` on the config's test split; returns the metrics."""
    cfg = cfg.copy()
    cfg.load_from = checkpoint
    cfg.resume = False
    load_checkpoint_checked(checkpoint)  # CheckpointError naming a missing or corrupt file
    os.makedirs(cfg.work_dir, exist_ok=True)
    return Runner.from_cfg(cfg).test()
