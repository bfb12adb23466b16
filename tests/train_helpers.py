"""Tiny training configs on a tiny synthetic dataset, shared by the training and fusing tests."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from mmengine.hooks import Hook

from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.engine.training import prepare_config

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = str(REPO / 'psfusion' / 'configs' / 'psfusion_light_synthetic.py')


def make_tiny_dataset(root: Path) -> str:
    """8 training, 2 validation and 4 test pairs of 64x80 (not a multiple of 32 in width)."""
    write_synthetic_dataset(str(root), num_train=8, num_test=4, num_val=2, seed=0, height=64,
                            width=80)
    return str(root)


def tiny_options(data_root: str, max_iters: int, schedule_end: Optional[int] = None,
                 crop: int = 32, batch: int = 2, interval: int = 3) -> dict:
    """``--cfg-options`` turning the demo config into a seconds-long run."""
    end = schedule_end or max_iters
    options = {
        'model.trunk_channels': 16,  # a tiny network: small checkpoints, quick steps
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': interval,
        'default_hooks.checkpoint.interval': interval,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': batch,
        'train_dataloader.dataset.pipeline.2.crop_size': (crop, crop),
        'param_scheduler': [
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1),
            dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=1, end=end),
        ],
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = data_root
    return options


def tiny_config(data_root: str, work_dir: str, name: str, max_iters: int, **kwargs):
    cfg = prepare_config(DEMO_CONFIG, work_dir, cfg_options=tiny_options(data_root, max_iters,
                                                                         **kwargs))
    cfg.experiment_name = name  # several Runners in one process need distinct names
    return cfg


class LossRecorder(Hook):
    """Collects the total loss of every training iteration."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.losses.append(float(outputs['loss'].detach()))
