"""Time one training iteration of each benchmark segmenter (SegFormer-B2/B4, SegNeXt-B/L).

Builds each model from `mmseg_configs/<segmenter>_msrs.py` (9 classes, random weights: the
pretrained-backbone value is dropped), feeds random normalised images and random labels of the
given size, and times forward + backward + AdamW step (the configs' optimiser), after warm-up,
synchronising CUDA around the timed block.  Prints one JSON line per segmenter.  ``--amp``: the
forward pass (and loss) under bf16 autocast, as ``tools/benchmark_downstream.py --amp`` trains.

    python benchmarks/gpu_seg_step.py                       # 480x640, batch 8, on CUDA
    python benchmarks/gpu_seg_step.py --device cpu --batch 1 --size 64 64 --steps 1 --warmup 0
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import psfusion  # noqa: F401  (mmcv-lite compatibility, before mmseg)
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'mmseg_configs'
SEGMENTERS = ('segformer_b2', 'segformer_b4', 'segnext_b', 'segnext_l')


def build(segmenter: str, device: torch.device) -> torch.nn.Module:
    cfg = Config.fromfile(str(CONFIG_DIR / f'{segmenter}_msrs.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.pretrained = None
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    return model.to(device).train()


def time_step(segmenter: str, device: torch.device, batch: int, size: tuple, steps: int,
              warmup: int, amp: bool = False) -> dict:
    torch.manual_seed(0)
    model = build(segmenter, device)
    optim = torch.optim.AdamW(model.parameters(), lr=6e-5, weight_decay=0.01)
    h, w = size
    inputs = torch.randn(batch, 3, h, w, device=device)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 9, (1, h, w), device=device))
        samples.append(sample)

    def step() -> float:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            losses = model.loss(inputs, samples)
        total = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()
        return float(total.detach())

    for _ in range(warmup):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / steps
    result = dict(segmenter=segmenter, batch=batch, size=[h, w], amp=amp,
                  seconds_per_iter=seconds,
                  images_per_second=batch / seconds,
                  params_m=sum(p.numel() for p in model.parameters()) / 1e6)
    if device.type == 'cuda':
        result['peak_memory_gib'] = torch.cuda.max_memory_allocated(device) / 2**30
        result['gpu'] = torch.cuda.get_device_name(device)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--size', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'))
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--seg', default=','.join(SEGMENTERS))
    parser.add_argument('--amp', action='store_true', help='bf16 autocast forward pass')
    args = parser.parse_args()
    register_all_modules(init_default_scope=True)
    device = torch.device(args.device)
    for segmenter in args.seg.split(','):
        print(json.dumps(time_step(segmenter, device, args.batch, tuple(args.size), args.steps,
                                   args.warmup, args.amp)), flush=True)


if __name__ == '__main__':
    main()
