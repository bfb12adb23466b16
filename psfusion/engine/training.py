"""Configuration and launch of fusion training (``tools/train_fusion.py`` is a thin CLI on this).

:func:`prepare_config` applies the command-line choices to a config: work directory, resume,
``--cfg-options``, the launcher (on a machine without a GPU, gloo and a CPU model wrapper), and
the validation split held out of the training split when the config asks for one
(``val_split = dict(fraction=..., seed=...)``).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from .splits import write_validation_split


def prepare_config(config: Union[str, Config], work_dir: Optional[str] = None,
                   resume: Union[bool, str] = False, cfg_options: Optional[dict] = None,
                   launcher: str = 'none') -> Config:
    """Load ``config`` and apply the run's options (see module doc)."""
    cfg = config.copy() if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir:
        cfg.work_dir = work_dir
    elif not cfg.get('work_dir'):
        name = osp.splitext(osp.basename(cfg.filename or 'psfusion'))[0]
        cfg.work_dir = osp.join('work_dirs', name)
    if resume:
        cfg.resume = True
        cfg.load_from = resume if isinstance(resume, str) else None
    if launcher != 'none' and not torch.cuda.is_available():
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                     broadcast_buffers=False)
    if cfg.get('val_split'):
        _hold_out_validation(cfg)
    return cfg


def _hold_out_validation(cfg: Config) -> None:
    """Point the train / val datasets at seeded split files in ``WORK_DIR/splits``."""
    train_set = cfg.train_dataloader.dataset
    val_set = cfg.val_dataloader.dataset
    if val_set.get('split', 'train') != train_set.get('split', 'train'):
        raise ValueError('val_split holds validation out of the training split: the val '
                         'dataset must use the same split folder as the training dataset.')
    for dataset in (train_set, val_set):
        if not _layout_of(dataset):
            raise ValueError(f'val_split needs a paired dataset of a registered layout (they '
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
        raise ValueError(f'unknown dataset type {dataset_cfg.type!r} in the config')
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


def train(cfg: Config) -> Runner:
    """Build the Runner from a prepared config and train; returns the Runner."""
    init_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test(cfg: Config, checkpoint: str) -> dict:
    """Evaluate ``checkpoint`` on the config's test split; returns the metrics."""
    cfg = cfg.copy()
    cfg.load_from = checkpoint
    cfg.resume = False
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{checkpoint}: checkpoint not found')
    os.makedirs(cfg.work_dir, exist_ok=True)
    return Runner.from_cfg(cfg).test()
