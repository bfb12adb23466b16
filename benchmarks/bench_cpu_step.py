"""CPU speed of PSFusion's training step and forward pass, side by side in one process.

Each round times, one after the other (so that every figure of a round saw the same machine
load), with glibc keeping freed memory for all of them (``keep_freed_memory``: the setting
``tools/train_fusion.py`` and ``tools/fuse.py`` use; given to the reference too, so that the
ratio measures the code, not the allocator):

* ``step``: one training iteration of the paper's network (psfusion_r34_msrs.py, random
  weights) at batch 4, 256x256: the full objective (eq. 22), backward and an SGD step; NCHW and
  ``channels_last``;
* ``demo_step``: the same for ``make demo``'s config (PSFusion-Light at its batch and crop);
* ``forward``: one 480x640 pair through ``tools/fuse.py``'s optimised path (BatchNorm folded,
  channels-last, no fidelity or semantic heads);
* with ``--reference FILE`` (a transcription of the authors' ``PSF.py`` defining ``PSF``, built
  outside this repository): the same forward in their eager network, and their network's
  training step under our objective configured as theirs (``psfusion_r34_msrs_official.py``'s
  loss: the objective costs the same on both sides, so the step ratio measures the networks).

Prints one JSON line per figure and round (median over rounds at the end), with the command,
the machine and the ratio to the reference or to NCHW::

    OMP_NUM_THREADS=2 python benchmarks/bench_cpu_step.py --rounds 3 \\
        --reference /tmp/official_psf/official_psf.py
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import psfusion  # noqa: F401  (mmcv-lite compatibility)
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement, PixelData

from psfusion.engine.allocator import keep_freed_memory
from psfusion.models.inference import prepare_for_inference
from psfusion.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[1] / 'psfusion' / 'configs'
PAPER = CONFIGS / 'psfusion_r34_msrs.py'
OFFICIAL = CONFIGS / 'psfusion_r34_msrs_official.py'
DEMO = CONFIGS / 'psfusion_light_synthetic.py'


def cpu_name() -> str:
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build(config: Path, **model) -> torch.nn.Module:
    cfg = Config.fromfile(str(config))
    cfg.model.backbone_pretrained = None
    cfg.model.loss.binary_weights = 'reference'  # a fixed share (the hook counts it from data)
    cfg.model.update(model)
    return MODELS.build(cfg.model)


def batch_of(size: int, n: int) -> tuple[dict, list]:
    generator = torch.Generator().manual_seed(0)
    inputs = dict(ir=torch.rand(n, 1, size, size, generator=generator),
                  vi=torch.rand(n, 3, size, size, generator=generator))
    samples = []
    for _ in range(n):
        seg = torch.randint(0, 9, (1, size, size), generator=generator)
        sample = BaseDataElement(metainfo=dict(img_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=seg)
        sample.gt_binary = PixelData(data=(seg > 0).long())
        sample.gt_boundary = PixelData(data=(seg > 4).long())
        sample.gt_target = PixelData(data=((seg >= 1) & (seg <= 3)).long())
        samples.append(sample)
    return inputs, samples


def timed(function, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def our_step(model: torch.nn.Module, inputs: dict, samples: list):
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    model.train()

    def step():
        losses = model(inputs, samples, mode='loss')
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()
    return step


def reference_step(network: torch.nn.Module, objective: torch.nn.Module, inputs: dict,
                   samples: list):
    """The authors' network under our objective configured as theirs (the same loss cost)."""
    from psfusion.color import rgb_to_y
    from psfusion.models.psfusion import stack_labels

    optim = torch.optim.SGD(network.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    network.train()
    ir, vi = inputs['ir'], inputs['vi']

    def step():
        labels = stack_labels(samples, ir.shape[0], ir.device)
        labels['target'] = (labels['target'] == 1).float().unsqueeze(1)
        sem, bi, bd, fused, vi_rec, ir_rec = network(vi, ir)
        outputs = dict(fused=fused, vi_rec=vi_rec, ir_rec=ir_rec, semantic=sem, binary=bi,
                       boundary=bd)
        losses = objective(outputs, ir, rgb_to_y(vi), labels)
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()
    return step


def load_reference(path: str):
    spec = importlib.util.spec_from_file_location('reference_psf', path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    return module.PSF


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--reference', help="a transcription of the authors' PSF.py")
    parser.add_argument('--skip', default='', help='comma-separated figures to leave out '
                        '(step, demo_step, forward)')
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(',')))
    keep_freed_memory()
    torch.manual_seed(0)
    header = dict(command=' '.join(shlex.quote(a) for a in ['python'] + sys.argv),
                  machine=f'{cpu_name()}, {os.cpu_count()} cores',
                  threads=torch.get_num_threads(), torch=torch.__version__,
                  omp_num_threads=os.environ.get('OMP_NUM_THREADS'))
    print(json.dumps(header), flush=True)

    figures = {}
    inputs, samples = batch_of(256, 4)
    if 'step' not in skip:
        figures['step_nchw'] = our_step(build(PAPER), inputs, samples)
        figures['step_channels_last'] = our_step(build(PAPER, channels_last=True), inputs,
                                                 samples)
    if 'demo_step' not in skip:
        demo = Config.fromfile(str(DEMO))
        crop = int(demo.train_dataloader.dataset.pipeline[2].crop_size[0])
        demo_inputs, demo_samples = batch_of(crop, int(demo.train_dataloader.batch_size))
        figures['demo_step_nchw'] = our_step(build(DEMO), demo_inputs, demo_samples)
        figures['demo_step_channels_last'] = our_step(build(DEMO, channels_last=True),
                                                      demo_inputs, demo_samples)
    pair = dict(ir=torch.rand(1, 1, 480, 640), vi=torch.rand(1, 3, 480, 640))
    if 'forward' not in skip:
        fuser = prepare_for_inference(build(PAPER).eval(), channels_last=True)
        ir_cl = pair['ir'].contiguous(memory_format=torch.channels_last)
        vi_cl = pair['vi'].contiguous(memory_format=torch.channels_last)
        figures['forward'] = torch.inference_mode()(
            lambda: fuser.run(ir_cl, vi_cl, semantic=False, fidelity=False))
    if args.reference:
        network = load_reference(args.reference)(9)
        objective = MODELS.build(dict(Config.fromfile(str(OFFICIAL)).model.loss,
                                      binary_weights='reference'))
        if 'forward' not in skip:
            eager = load_reference(args.reference)(9).eval()
            figures['reference_forward'] = torch.inference_mode()(
                lambda: eager(pair['vi'], pair['ir']))
        if 'step' not in skip:
            figures['reference_step'] = reference_step(network, objective, inputs, samples)

    for function in figures.values():  # warm-up: first calls allocate and pick kernels
        function()
    seconds = {name: [] for name in figures}
    for round_ in range(args.rounds):
        for name, function in figures.items():
            seconds[name].append(timed(function))
        print(json.dumps(dict(round=round_, seconds={k: round(v[-1], 3)
                                                     for k, v in seconds.items()})), flush=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    ratios = {}
    pairs = [('step_channels_last', 'step_nchw'), ('demo_step_channels_last', 'demo_step_nchw'),
             ('forward', 'reference_forward'), ('step_nchw', 'reference_step'),
             ('step_channels_last', 'reference_step')]
    for ours, base in pairs:
        if ours in seconds and base in seconds:
            per_round = [a / b for a, b in zip(seconds[ours], seconds[base])]
            ratios[f'{ours} / {base}'] = [round(min(per_round), 3), round(max(per_round), 3)]
    print(json.dumps(dict(header, median_seconds={k: round(v, 3) for k, v in median.items()},
                          ratio_range_over_rounds=ratios)), flush=True)


if __name__ == '__main__':
    main()
