"""AllReduceSyncBN: two gloo processes holding half a batch each compute what one BatchNorm2d
computes on the whole batch (outputs, gradients, running statistics)."""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from psfusion.models.sync_batchnorm import AllReduceSyncBN

TOL = dict(rtol=1e-5, atol=1e-6)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, 6, generator=generator) * 3 + 2
    target = torch.randn(4, 3, 5, 6, generator=generator)
    return x, target


def _step(norm: nn.Module, x: torch.Tensor, target: torch.Tensor, scale: float) -> dict:
    x = x.clone().requires_grad_(True)
    out = norm(x)
    # a loss whose gradient is not constant per channel, so the synchronised backward matters
    ((out - target) ** 2 * x.detach().sin()).mean().mul(scale).backward()
    return dict(out=out.detach(), grad_x=x.grad, grad_w=norm.weight.grad,
                grad_b=norm.bias.grad, mean=norm.running_mean, var=norm.running_var)


def _worker(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    torch.manual_seed(0)
    norm = AllReduceSyncBN(3, momentum=0.3)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
        norm.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    x, target = _batch()
    half = slice(2 * rank, 2 * rank + 2)
    result = _step(norm, x[half], target[half], scale=1.0)
    for key in ('grad_w', 'grad_b'):  # what DDP does with parameter gradients: the mean
        dist.all_reduce(result[key])
        result[key] /= 2
    queue.put((rank, {key: value.clone() for key, value in result.items()}))
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_processes_normalise_like_one_process_with_the_total_batch():
    reference = nn.BatchNorm2d(3, momentum=0.3)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
        reference.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    x, target = _batch()
    expected = _step(reference, x, target, scale=1.0)
    context = mp.get_context('spawn')
    queue = context.SimpleQueue()
    procs = mp.start_processes(_worker, args=(_free_port(), queue), nprocs=2, join=False,
                               start_method='spawn')
    results = dict(queue.get() for _ in range(2))
    while not procs.join(timeout=60):
        pass
    for rank in (0, 1):
        half = slice(2 * rank, 2 * rank + 2)
        got = results[rank]
        torch.testing.assert_close(got['out'], expected['out'][half], **TOL)
        # each process's loss is the mean of its half: twice the share of the total mean
        torch.testing.assert_close(got['grad_x'] / 2, expected['grad_x'][half], **TOL)
        for key in ('grad_w', 'grad_b', 'mean', 'var'):
            torch.testing.assert_close(got[key], expected[key], **TOL)
    # and the running statistics really moved (momentum 0.3 of the batch's)
    assert not torch.allclose(expected['mean'], torch.zeros(3))


def test_without_a_process_group_it_is_batchnorm():
    torch.manual_seed(1)
    ours, plain = AllReduceSyncBN(3), nn.BatchNorm2d(3)
    plain.load_state_dict(ours.state_dict())
    x, target = _batch()
    got, expected = _step(ours, x, target, 1.0), _step(plain, x, target, 1.0)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value)
    assert list(ours.state_dict()) == list(plain.state_dict())
    with pytest.raises(ValueError, match='at least 2-D'):
        ours(torch.zeros(3))


def test_built_by_mmcv_under_the_mmseg_scope():
    from mmcv.cnn import build_norm_layer
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('mmseg'):
        name, layer = build_norm_layer(dict(type='psfusion.AllReduceSyncBN',
                                            requires_grad=True), 8)
    assert name == 'bn' and isinstance(layer, AllReduceSyncBN) and layer.num_features == 8
