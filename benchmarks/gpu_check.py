"""GPU throughput of PSFusion: training images/s (batch 16, 256x256) and fusion pairs/s (480x640).

The reference-sized network (psfusion_r34_msrs.py, random weights, no downloads) on random
inputs with random labels; the full objective (eq. 22) and an SGD step per training iteration;
fusion through the writer's optimised path (BatchNorm folded, channels-last, no fidelity or
semantic heads).  Warm-up iterations are not timed; CUDA is synchronised around each timed
block.  Prints one JSON line per measurement.  Under 3 minutes on one recent GPU:

    python benchmarks/gpu_check.py
    python benchmarks/gpu_check.py --device cpu --train-steps 1 --fuse-steps 1 \
        --batch 2 --crop 64 --fuse-size 96 128      # a CPU smoke test
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import psfusion  # noqa: F401  (mmcv-lite compatibility)
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement, PixelData

from psfusion.models.inference import prepare_for_inference
from psfusion.registry import MODELS

CONFIG = Path(__file__).resolve().parents[1] / 'psfusion' / 'configs' / 'psfusion_r34_msrs.py'


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def samples(batch: int, size: int, device: torch.device) -> list:
    out = []
    for _ in range(batch):
        seg = torch.randint(0, 9, (1, size, size), device=device)
        sample = BaseDataElement(metainfo=dict(img_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=seg)
        sample.gt_binary = PixelData(data=(seg > 0).long())
        sample.gt_boundary = PixelData(data=torch.randint(0, 2, (1, size, size), device=device))
        sample.gt_target = PixelData(data=((seg >= 1) & (seg <= 3)).long())
        out.append(sample)
    return out


def build(device: torch.device) -> torch.nn.Module:
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone_pretrained = None
    return MODELS.build(cfg.model).to(device)


def train_throughput(device: torch.device, batch: int, crop: int, steps: int,
                     warmup: int, amp: bool) -> dict:
    model = build(device).train()
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    inputs = dict(ir=torch.rand(batch, 1, crop, crop, device=device),
                  vi=torch.rand(batch, 3, crop, crop, device=device))
    data = samples(batch, crop, device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> float:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            losses = model(inputs, data, mode='loss')
        total = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()
        return float(total.detach())

    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    sync(device)
    seconds = time.perf_counter() - start
    result = dict(measure='train', batch=batch, crop=crop, steps=steps, amp_bf16=amp,
                  seconds_per_step=seconds / steps, images_per_second=batch * steps / seconds,
                  last_loss=loss)
    if device.type == 'cuda':
        result['peak_memory_gib'] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


@torch.inference_mode()
def fuse_throughput(device: torch.device, size: tuple, batch: int, steps: int,
                    warmup: int) -> dict:
    model = prepare_for_inference(build(device))
    h, w = size
    ir = torch.rand(batch, 1, h, w, device=device).contiguous(memory_format=torch.channels_last)
    vi = torch.rand(batch, 3, h, w, device=device).contiguous(memory_format=torch.channels_last)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        model.run(ir, vi, semantic=False, fidelity=False)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        model.run(ir, vi, semantic=False, fidelity=False)
    sync(device)
    seconds = time.perf_counter() - start
    result = dict(measure='fuse', size=[h, w], batch=batch, steps=steps,
                  pairs_per_second=batch * steps / seconds,
                  seconds_per_pair=seconds / (batch * steps))
    if device.type == 'cuda':
        result['peak_memory_gib'] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--crop', type=int, default=256)
    parser.add_argument('--train-steps', type=int, default=20)
    parser.add_argument('--fuse-size', type=int, nargs=2, default=(480, 640))
    parser.add_argument('--fuse-batches', type=int, nargs='+', default=(1, 4))
    parser.add_argument('--fuse-steps', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--amp', action='store_true', help='also time bf16 autocast training')
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
        print(json.dumps(dict(device=torch.cuda.get_device_name(device),
                              torch=torch.__version__)), flush=True)
    torch.manual_seed(0)
    for amp in ((False, True) if args.amp else (False, )):
        print(json.dumps(train_throughput(device, args.batch, args.crop, args.train_steps,
                                          args.warmup, amp)), flush=True)
    for batch in args.fuse_batches:
        print(json.dumps(fuse_throughput(device, tuple(args.fuse_size), batch, args.fuse_steps,
                                         args.warmup)), flush=True)


if __name__ == '__main__':
    main()
