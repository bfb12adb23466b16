"""Parameters and compute of a PSFusion config's network (mmengine's complexity analysis).

    python tools/model_info.py CONFIG [--shape H W] [--debug]

mmengine counts multiply-adds (MACs); FLOPs below = 2 x MACs of convolutions and attention,
the convention of the paper's and the reference's numbers.
"""
import argparse
import sys

import psfusion  # noqa: F401  (mmcv-lite compatibility before any mmseg import)

from psfusion.cli import add_debug_argument, run_tool
from psfusion.complexity import fusion_complexity
from psfusion.config_options import load_config
from psfusion.registry import MODELS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'))
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)  # ConfigError for a missing file
    cfg.model.backbone_pretrained = None  # counting needs no weights
    model = MODELS.build(cfg.model)
    h, w = args.shape
    full = fusion_complexity(model, h, w)
    infer = fusion_complexity(model, h, w, semantic=False, fidelity=False)
    matmul = sum(full.macs_by_operator.get(k, 0) for k in ('conv', 'scaled_dot_product_attention'))
    print(f'config: {args.config}')
    print(f'parameters: {full.params:,} ({full.params / 1e6:.2f} M)')
    print(f'input: one {h}x{w} pair (infrared 1 ch + visible RGB)')
    print(f'multiply-adds (mmengine, all ops, full forward): {full.macs / 1e9:.2f} G')
    for op, macs in sorted(full.macs_by_operator.items(), key=lambda kv: -kv[1]):
        print(f'  {op:32s} {macs / 1e9:9.3f} G')
    print(f'FLOPs (2 x conv + attention multiply-adds): {2 * matmul / 1e9:.1f} G')
    print(f'FLOPs (2 x all multiply-adds): {full.flops / 1e9:.1f} G')
    print(f'inference only (fused image, no fidelity / semantic heads): '
          f'{infer.macs / 1e9:.2f} G multiply-adds, {infer.flops / 1e9:.1f} G FLOPs')
    if full.unsupported_ops:
        print('not counted (element-wise): ' + ', '.join(
            f'{op.replace("aten::", "")} x{n}' for op, n in sorted(full.unsupported_ops.items())))
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
