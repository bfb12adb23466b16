"""Training through mmengine's Runner on a tiny synthetic dataset: logging, validation,
checkpoints, exact resumption, multi-process training."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner

from .train_helpers import (DEMO_CONFIG, REPO, LossRecorder, make_tiny_dataset, tiny_config,
                            tiny_options)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('synthetic'))


def run(cfg, resume: bool = False) -> tuple[Runner, list]:
    if resume:
        cfg.resume = True
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return runner, recorder.losses


def test_train_validate_checkpoint_and_resume_exactly(data_root, tmp_path):
    full_dir, part_dir = str(tmp_path / 'full'), str(tmp_path / 'part')
    _, full = run(tiny_config(data_root, full_dir, 'full', max_iters=4, interval=2))
    assert len(full) == 4 and all(torch.isfinite(torch.tensor(full)))

    # every loss term is logged
    log = open(next(p for p in (tmp_path / 'full').rglob('scalars.json'))).read()
    first = json.loads(log.splitlines()[0])
    for key in ('loss_int', 'loss_text', 'loss_corr', 'loss_sf_vi', 'loss_sf_ir', 'loss_se',
                'loss_bd', 'loss_bi'):
        assert key in first
    # validation ran on the validation split, best checkpoint by mIoU, fused samples saved
    assert any('mIoU' in json.loads(line) for line in log.splitlines())
    files = os.listdir(full_dir)
    assert any(f.startswith('best_mIoU_iter_') for f in files)
    assert len(os.listdir(os.path.join(full_dir, 'fused_samples', 'iter_4'))) == 2
    # our checkpoints load with torch's safe default
    torch.load(os.path.join(full_dir, 'iter_4.pth'), weights_only=True)

    # the same run stopped after 2 iterations (same schedule), then resumed
    _, first_half = run(tiny_config(data_root, part_dir, 'part', max_iters=2, schedule_end=4,
                                    interval=2))
    _, second_half = run(tiny_config(data_root, part_dir, 'resumed', max_iters=4, interval=2),
                         resume=True)
    assert len(second_half) == 2
    assert first_half == pytest.approx(full[:2], rel=1e-6)
    assert second_half == pytest.approx(full[2:], rel=1e-5)


def test_loss_falls(data_root):
    """The demo config's model, optimizer and training pipeline: twelve SGD steps on one batch of
    synthetic crops lower the total loss (eq. 22) clearly."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from psfusion.engine import foreground_share
    from psfusion.registry import DATASETS, MODELS

    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_options(data_root, max_iters=10))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    # what BinaryClassWeightHook does before training: the split's foreground share
    model.loss_module.set_foreground_share(
        foreground_share([item['seg_map_path'] for item in dataset.items()], 9))
    batch = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]), True)
    optim = torch.optim.SGD(model.parameters(), **{k: v for k, v in cfg.optim_wrapper.optimizer
                                                   .items() if k != 'type'})
    totals = []
    for _ in range(12):
        losses = model(**batch, mode='loss')
        total = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        total.backward()
        optim.step()
        totals.append(total.item())
    assert sum(totals[-3:]) / 3 < 0.75 * sum(totals[:3]) / 3, totals


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_process_training_with_gloo(data_root, tmp_path):
    """tools/dist_train.sh: torchrun, 2 processes, gloo on the CPU."""
    from mmengine.config import Config

    cfg = Config.fromfile(DEMO_CONFIG)
    # batch 4 is the total: 2 samples per process (the SDFM gates need 2 per process)
    cfg.merge_from_dict(tiny_options(data_root, max_iters=2, interval=2, batch=4))
    config = tmp_path / 'tiny.py'
    cfg.dump(str(config))
    # a port free now (a fixed one may still be held by an earlier run or another test)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(config), '2', '--work-dir',
         str(tmp_path / 'work')], capture_output=True, text=True, timeout=600, env=env,
        cwd=str(REPO))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output  # mmengine's name for the world size
    assert 'total training batch 4 kept: 2 per process x 2 processes' in output
    # every BatchNorm of the network normalises over the total batch of 4, as in one process
    from torch.nn.modules.batchnorm import _BatchNorm

    from psfusion.registry import MODELS
    model = MODELS.build(cfg.model)
    n_batchnorm = sum(isinstance(layer, _BatchNorm) for layer in model.modules())
    assert n_batchnorm > 10
    assert f'BatchNorm synchronised over the processes: {n_batchnorm} layers' in output
    assert os.path.isfile(tmp_path / 'work' / 'iter_2.pth')
    assert 'terminate called' not in output  # the process group is torn down before exit


@pytest.mark.slow
def test_demo_beats_the_average_of_the_sources(tmp_path):
    """The demo as documented (psfusion_light_synthetic.py on the Makefile's
    synthetic dataset, ~4 minutes on 2 cores): its loss falls, and on the test split its fused
    images keep more of the infrared's warm-target contrast and of the visible image's marking
    edges than the plain average of the two sources."""
    from psfusion.data.synthetic import write_synthetic_dataset
    from psfusion.engine.training import prepare_config, test, train

    data = str(tmp_path / 'data')
    write_synthetic_dataset(data, num_train=64, num_test=32, seed=0)
    options = {f'{loader}.dataset.data_root': data
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
    cfg = prepare_config(DEMO_CONFIG, str(tmp_path / 'train'), cfg_options=options)
    runner = train(cfg)
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert losses[-20:].mean() < 0.6 * losses[:20].mean()
    metrics = test(cfg, str(tmp_path / 'train' / f'iter_{cfg.train_cfg.max_iters}.pth'))
    assert metrics['target_retention'] > metrics['avg_target_retention']
    assert metrics['edge_retention'] > metrics['avg_edge_retention']
