"""GPU throughput of PSFusion: training images/s (batch 16, 256x256) and fusion pairs/s (480x640).

The reference-sized network (psfusion_r34_msrs.py, random weights, no downloads) on random
inputs with random labels; the full objective (eq. 22) and an SGD step per training iteration;
fusion through the writer's optimised path (BatchNorm folded, channels-last, no fidelity or
semantic heads).  Warm-up iterations are not timed; CUDA is synchronised around each timed
block.  Prints one JSON line per measurement, each with the command and the device:

* ``train``: images/s of the bare training step, for each speed variant asked for
  (``--variants fp32,amp,channels_last,amp+channels_last,amp+channels_last+compile``; ``--amp``
  adds the bf16 ones);
* ``profile`` (``--profile``): one profiled step per variant: kernel launches, host-device
  synchronisations and device-to-host copies per step, and the ten kernels with the most
  device time (torch.profiler, CUDA activities);
* ``loss_agreement`` (``--agreement-steps N``): N iterations fp32 and bf16 from the same seed on
  the same batches; the largest relative difference of the total loss;
* ``runner`` (``--runner-steps N``): the real thing: ``tools/train_fusion.py``'s Runner on a
  synthetic 480x640 MSRS-layout dataset (256 crops, the config's workers), images/s and the
  share of each iteration spent waiting for data (mmengine's data_time / time);
* ``fuse``: pairs/s of the network at each ``--fuse-batches``;
* ``fuse_network``, ``fuse_end_to_end``, ``fuse_bf16_vs_fp32`` (``--fuse-pairs N``):
  ``tools/fuse.py``'s own path at batch ``--fuse-batch`` (8), float32 and, with ``--amp``,
  bf16: the network alone, end to end with decoding, colour and PNG writing by I/O threads,
  and the count of pixels the bf16 PNGs change (``benchmarks/bench_fuse.py``'s
  ``fuse_figures``).

Under 10 minutes on one recent GPU:

    python benchmarks/gpu_check.py --amp --profile --agreement-steps 100 --runner-steps 60 \
        --fuse-pairs 256
    python benchmarks/gpu_check.py --device cpu --train-steps 1 --fuse-steps 1 --batch 2 \
        --crop 64 --fuse-size 96 128 --profile --agreement-steps 2 --runner-steps 3 \
        --runner-size 96 128 --runner-batch 2 --runner-crop 64 --trunk-channels 16 \
        --fuse-pairs 4 --fuse-batch 2
        # a CPU smoke test of the whole script (a few minutes)
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

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


#: Speed variants of the training step (``--variants``): which switches each one turns on.
VARIANTS = {
    'fp32': {},
    'channels_last': dict(channels_last=True),
    'amp': dict(amp=True),
    'amp+channels_last': dict(amp=True, channels_last=True),
    'amp+channels_last+compile': dict(amp=True, channels_last=True, compile=True),
}
TRUNK_CHANNELS = 64


def build(device: torch.device, channels_last: bool = False) -> torch.nn.Module:
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone_pretrained = None
    cfg.model.trunk_channels = TRUNK_CHANNELS
    cfg.model.channels_last = channels_last
    # binary weights of a fixed foreground share (the training hook counts it from the data)
    cfg.model.loss.binary_weights = 'reference'
    return MODELS.build(cfg.model).to(device)


def machine(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads'


def emit(result: dict, device: torch.device) -> None:
    """One JSON line: the measurement, the command that made it and the machine."""
    result.update(command=' '.join(shlex.quote(a) for a in ['python'] + sys.argv),
                  machine=machine(device), torch=torch.__version__)
    print(json.dumps(result), flush=True)


def make_step(model: torch.nn.Module, inputs: dict, data: list, amp: bool, compile: bool):
    """One SGD training step of ``model`` on a fixed batch; returns the total loss tensor."""
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    forward = torch.compile(model.forward) if compile else model.forward

    def step() -> torch.Tensor:
        with torch.autocast(inputs['ir'].device.type, dtype=torch.bfloat16, enabled=amp):
            losses = forward(inputs, data, mode='loss')
        total = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()
        return total.detach()

    return step


def variant_step(device: torch.device, batch: int, crop: int,
                 variant: str) -> tuple[Callable[[], torch.Tensor], int]:
    """The training step of ``variant`` on a fixed random batch (seed 0), and the extra
    warm-up steps it needs (``torch.compile`` compiles during its first calls)."""
    switches = VARIANTS[variant]
    torch.manual_seed(0)
    model = build(device, switches.get('channels_last', False)).train()
    inputs = dict(ir=torch.rand(batch, 1, crop, crop, device=device),
                  vi=torch.rand(batch, 3, crop, crop, device=device))
    step = make_step(model, inputs, samples(batch, crop, device), switches.get('amp', False),
                     switches.get('compile', False))
    return step, 2 if switches.get('compile') else 0


def train_throughput(device: torch.device, batch: int, crop: int, steps: int,
                     warmup: int, variant: str) -> dict:
    step, compile_warmup = variant_step(device, batch, crop, variant)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup + compile_warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    sync(device)
    seconds = time.perf_counter() - start
    result = dict(measure='train', variant=variant, batch=batch, crop=crop, steps=steps,
                  seconds_per_step=seconds / steps, images_per_second=batch * steps / seconds,
                  last_loss=float(loss))
    if device.type == 'cuda':
        result['peak_memory_gib'] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


#: Host-side calls that make the CPU wait for the GPU (or copy from it).
SYNC_CALLS = ('cudaStreamSynchronize', 'cudaDeviceSynchronize', 'cudaEventSynchronize')
COPY_CALLS = ('cudaMemcpy', 'cudaMemcpyAsync')


def profile_step(device: torch.device, batch: int, crop: int, variant: str,
                 steps: int = 2) -> dict:
    """Kernel launches, synchronisations and the top kernels of ``steps`` profiled steps."""
    from torch.profiler import ProfilerActivity, profile

    step, compile_warmup = variant_step(device, batch, crop, variant)
    for _ in range(2 + compile_warmup):
        step()
    sync(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda'
                                           else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        sync(device)
    events = prof.key_averages()
    on_device = 'cuda' if device.type == 'cuda' else 'cpu'

    def self_time(event) -> float:
        return (getattr(event, 'self_device_time_total', 0) if on_device == 'cuda'
                else event.self_cpu_time_total)

    kernels = [e for e in events if on_device == 'cpu' or
               str(getattr(e, 'device_type', '')).endswith('CUDA')]
    launches = sum(e.count for e in events if e.key in ('cudaLaunchKernel',
                                                        'cudaLaunchKernelExC', 'cuLaunchKernel'))
    top = sorted(kernels, key=self_time, reverse=True)[:10]
    total = sum(self_time(e) for e in kernels) or 1.0
    return dict(measure='profile', variant=variant, batch=batch, crop=crop,
                kernel_launches_per_step=launches / steps,
                synchronisations_per_step=sum(e.count for e in events
                                              if e.key in SYNC_CALLS) / steps,
                copies_per_step=sum(e.count for e in events if e.key in COPY_CALLS) / steps,
                top=[dict(name=e.key[:80], share=round(self_time(e) / total, 4),
                          ms_per_step=round(self_time(e) / 1000 / steps, 3), calls=e.count)
                     for e in top])


def loss_agreement(device: torch.device, batch: int, crop: int, steps: int) -> dict:
    """fp32 and bf16 training from the same seed on the same sequence of random batches."""
    curves = {}
    for amp in (False, True):
        torch.manual_seed(0)
        model = build(device).train()
        generator = torch.Generator(device='cpu').manual_seed(1)
        optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
        losses = []
        for _ in range(steps):
            inputs = dict(ir=torch.rand(batch, 1, crop, crop, generator=generator).to(device),
                          vi=torch.rand(batch, 3, crop, crop, generator=generator).to(device))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                terms = model(inputs, samples(batch, crop, device), mode='loss')
            total = sum(v for k, v in terms.items() if 'loss' in k)
            optim.zero_grad(set_to_none=True)
            total.backward()
            optim.step()
            losses.append(float(total.detach()))
        curves[amp] = losses
    relative = [abs(a - b) / abs(a) for a, b in zip(curves[False], curves[True])]
    return dict(measure='loss_agreement', batch=batch, crop=crop, steps=steps,
                max_relative_difference=max(relative),
                mean_relative_difference=sum(relative) / len(relative),
                fp32_first_last=[curves[False][0], curves[False][-1]],
                bf16_first_last=[curves[True][0], curves[True][-1]])


def runner_throughput(device: torch.device, steps: int, size: tuple, variant: str,
                      batch: int = 0, crop: int = 0) -> dict:
    """tools/train_fusion.py's Runner (the paper config, its data pipeline and workers) on a
    synthetic dataset: images/s and the share of the iteration spent waiting for data.
    ``batch``/``crop`` (0: the config's) shrink it for a CPU smoke test."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from psfusion.data.synthetic import write_synthetic_dataset
    from psfusion.engine.training import apply_speed_options, prepare_config

    class Timing(Hook):
        priority = 'LOWEST'

        def __init__(self):
            self.times, self.data_times = [], []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            hub = runner.message_hub
            self.times.append(hub.get_scalar('train/time').current())
            self.data_times.append(hub.get_scalar('train/data_time').current())

    with tempfile.TemporaryDirectory() as tmp:
        root = str(Path(tmp) / 'data')
        cfg0 = Config.fromfile(str(CONFIG))
        batch = batch or int(cfg0.train_dataloader.batch_size)
        write_synthetic_dataset(root, num_train=max(2 * batch, 32), num_test=2, num_val=2,
                                seed=0, height=size[0], width=size[1])
        options = {f'{loader}.dataset.data_root': root
                   for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}
        options.update({'model.backbone_pretrained': None, 'train_cfg.max_iters': steps,
                        'train_cfg.val_interval': steps + 1,
                        'model.trunk_channels': TRUNK_CHANNELS,
                        'default_hooks.checkpoint.interval': steps + 1,
                        'default_hooks.logger.interval': max(1, steps // 2),
                        'train_dataloader.batch_size': batch})
        if crop:
            options['crop_size'] = (crop, crop)
        cfg = prepare_config(str(CONFIG), str(Path(tmp) / 'work'), cfg_options=options)
        apply_speed_options(cfg, **VARIANTS[variant])
        runner = Runner.from_cfg(cfg)
        timing = Timing()
        runner.register_hook(timing)
        runner.train()
    warm = max(1, len(timing.times) // 5)  # the first iterations start the workers
    times, data_times = timing.times[warm:], timing.data_times[warm:]
    seconds = sum(times) / len(times)
    return dict(measure='runner', variant=variant, batch=batch, image_size=list(size),
                crop=list(cfg.crop_size),
                iterations=steps, seconds_per_iteration=seconds,
                images_per_second=batch / seconds,
                data_time_share=sum(data_times) / sum(times),
                workers=int(cfg.train_dataloader.num_workers))


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
    parser.add_argument('--variants', default='fp32,channels_last',
                        help=f'training step variants, of {", ".join(VARIANTS)}')
    parser.add_argument('--amp', action='store_true',
                        help='also the bf16 variants (amp, amp+channels_last, and with compile)')
    parser.add_argument('--profile', action='store_true',
                        help='profile one step of each variant (kernels, synchronisations)')
    parser.add_argument('--agreement-steps', type=int, default=0,
                        help='fp32 vs bf16 losses over this many iterations (0: skip)')
    parser.add_argument('--runner-steps', type=int, default=0,
                        help='iterations of the real Runner with its data loader (0: skip)')
    parser.add_argument('--runner-size', type=int, nargs=2, default=(480, 640))
    parser.add_argument('--runner-batch', type=int, default=0, help="0: the config's (16)")
    parser.add_argument('--runner-crop', type=int, default=0, help="0: the config's (256)")
    parser.add_argument('--fuse-size', type=int, nargs=2, default=(480, 640))
    parser.add_argument('--fuse-batches', type=int, nargs='+', default=(1, 4))
    parser.add_argument('--fuse-steps', type=int, default=20)
    parser.add_argument('--fuse-pairs', type=int, default=0,
                        help="pairs through tools/fuse.py's path end to end (0: skip)")
    parser.add_argument('--fuse-batch', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--trunk-channels', type=int, default=64,
                        help='ResNet width (64: the paper; smaller only for smoke tests)')
    args = parser.parse_args()
    global TRUNK_CHANNELS
    TRUNK_CHANNELS = args.trunk_channels
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    variants = [v for v in args.variants.split(',') if v]
    if args.amp:
        variants += [v for v in ('amp', 'amp+channels_last', 'amp+channels_last+compile')
                     if v not in variants]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f'unknown variants {unknown}: use {", ".join(VARIANTS)}')
    for variant in variants:
        emit(train_throughput(device, args.batch, args.crop, args.train_steps, args.warmup,
                              variant), device)
    if args.profile:
        for variant in variants:
            if 'compile' not in variant:
                emit(profile_step(device, args.batch, args.crop, variant), device)
    if args.agreement_steps:
        emit(loss_agreement(device, args.batch, args.crop, args.agreement_steps), device)
    if args.runner_steps:
        for variant in ('fp32', 'amp+channels_last') if args.amp else ('fp32', ):
            emit(runner_throughput(device, args.runner_steps, tuple(args.runner_size),
                                   variant, args.runner_batch, args.runner_crop), device)
    for batch in args.fuse_batches:
        emit(fuse_throughput(device, tuple(args.fuse_size), batch, args.fuse_steps,
                             args.warmup), device)
    if args.fuse_pairs:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_fuse import fuse_figures

        cfg = Config.fromfile(str(CONFIG))
        cfg.model.trunk_channels = TRUNK_CHANNELS
        fuse_figures(device=args.device, batch=args.fuse_batch, size=tuple(args.fuse_size),
                     amp=args.amp, steps=args.fuse_steps, warmup=args.warmup,
                     pairs=args.fuse_pairs, config=cfg,
                     emit=lambda record: emit(record, device))


if __name__ == '__main__':
    main()
