"""Parameters and compute of a config's network (mmengine's complexity analysis).

    python tools/model_info.py CONFIG [--shape H W] [--debug]

CONFIG is a PSFusion config (``psfusion/configs/``, model type ``PSFusion``: one infrared +
visible pair) or an mmseg segmenter config (``mmseg_configs/``, model ``_scope_='mmseg'`` or
type ``EncoderDecoder``: one image of the channels its backbone takes, 4 (R, G, B, T) for the
feature-level segmenters, 3 otherwise), counted as the benchmark counts it
(:func:`psfusion.complexity.segmenter_complexity`).  Pretrained weights are switched off:
counting needs no download.

mmengine counts multiply-adds (MACs); FLOPs below = 2 x MACs, the convention of the paper's and
the reference's numbers.
"""
import argparse
import sys
import warnings

import psfusion  # noqa: F401  (mmcv-lite compatibility before any mmseg import)

from psfusion.cli import add_debug_argument, run_tool
from psfusion.config_options import load_config
from psfusion.errors import ConfigError

#: Model types of mmseg segmenters (besides any model with ``_scope_='mmseg'``).
MMSEG_TYPES = ('EncoderDecoder', 'mmseg.EncoderDecoder', 'CascadeEncoderDecoder')


def config_kind(cfg, path: str) -> str:
    """``'psfusion'`` (a fusion network config) or ``'mmseg'`` (a segmenter config).

    Raises:
        ConfigError: the config has no ``model``, or a model of another kind.
    """
    model = cfg.get('model')
    if not model:
        raise ConfigError(f'{path}: no model in the config (expected a PSFusion config or an '
                          f'mmseg segmenter config)')
    kind = str(model.get('type', ''))
    if kind.split('.')[-1] == 'PSFusion':
        return 'psfusion'
    if model.get('_scope_') == 'mmseg' or kind in MMSEG_TYPES:
        return 'mmseg'
    raise ConfigError(f'{path}: model type {kind!r} is neither PSFusion nor an mmseg segmenter '
                      f"(_scope_='mmseg' or type EncoderDecoder); model_info counts those two")


def input_channels(model_cfg) -> int:
    """Channels of a segmenter's input: its backbone's ``in_channels``, else the length of its
    data preprocessor's mean, else 3 (4 for the feature-level, R, G, B, T, segmenters)."""
    backbone = model_cfg.get('backbone') or {}
    if backbone.get('in_channels'):
        return int(backbone['in_channels'])
    mean = (model_cfg.get('data_preprocessor') or {}).get('mean')
    return len(mean) if mean else 3


def build_segmenter(cfg):
    """The mmseg model of ``cfg`` without pretrained weights (nothing is downloaded or loaded;
    weights stay as constructed: counting only)."""
    from mmengine.registry import DefaultScope
    from mmengine.utils import import_modules_from_strings
    from mmseg.registry import MODELS as MMSEG_MODELS

    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    import psfusion.segmenters  # noqa: F401  (CMX, early fusion, BANet: registered in mmseg)
    cfg.model.pretrained = None
    if cfg.model.get('backbone') is not None:
        cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmseg'), warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # mmseg's deprecation notes of its losses
        return MMSEG_MODELS.build(cfg.model)


def segmenter_info(cfg, path: str, h: int, w: int) -> list[str]:
    """The lines printed for an mmseg segmenter config."""
    from psfusion.complexity import segmenter_complexity

    channels = input_channels(cfg.model)
    model = build_segmenter(cfg)
    info = segmenter_complexity(model, (h, w), in_channels=channels)
    params, macs = info['params'], info['macs']
    kind = ('feature-level, R, G, B, T' if channels == 4 else 'image-level')
    head = cfg.model.get('decode_head') or {}
    lines = [f'config: {path}',
             f'model: {cfg.model.type} ({cfg.model.backbone.type} backbone, '
             f'{head.get("type", "?")}, {head.get("num_classes", "?")} classes)',
             f'parameters: {params:,} ({params / 1e6:.2f} M)',
             f'input: one {channels} x {h} x {w} image ({kind})',
             f'multiply-adds (MACs, mmengine): {macs:,} ({macs / 1e9:.2f} G)',
             f'FLOPs (2 x MACs): {2 * macs / 1e9:.2f} G',
             f'backbone: {info["backbone_params"]:,} parameters '
             f'({info["backbone_params"] / 1e6:.2f} M), '
             f'{info["backbone_macs"] / 1e9:.2f} G MACs']
    return lines


def fusion_info(cfg, path: str, h: int, w: int) -> list[str]:
    """The lines printed for a PSFusion config."""
    from psfusion.complexity import fusion_complexity
    from psfusion.registry import MODELS

    cfg.model.backbone_pretrained = None  # counting needs no weights
    model = MODELS.build(cfg.model)
    full = fusion_complexity(model, h, w)
    infer = fusion_complexity(model, h, w, semantic=False, fidelity=False)
    matmul = sum(full.macs_by_operator.get(k, 0) for k in ('conv', 'scaled_dot_product_attention'))
    lines = [f'config: {path}',
             f'parameters: {full.params:,} ({full.params / 1e6:.2f} M)',
             f'input: one {h}x{w} pair (infrared 1 ch + visible RGB)',
             f'multiply-adds (mmengine, all ops, full forward): {full.macs / 1e9:.2f} G']
    for op, macs in sorted(full.macs_by_operator.items(), key=lambda kv: -kv[1]):
        lines.append(f'  {op:32s} {macs / 1e9:9.3f} G')
    lines += [f'FLOPs (2 x conv + attention multiply-adds): {2 * matmul / 1e9:.1f} G',
              f'FLOPs (2 x all multiply-adds): {full.flops / 1e9:.1f} G',
              f'inference only (fused image, no fidelity / semantic heads): '
              f'{infer.macs / 1e9:.2f} G multiply-adds, {infer.flops / 1e9:.1f} G FLOPs']
    if full.unsupported_ops:
        lines.append('not counted (element-wise): ' + ', '.join(
            f'{op.replace("aten::", "")} x{n}' for op, n in sorted(full.unsupported_ops.items())))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'))
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)  # ConfigError for a missing file
    h, w = args.shape
    if config_kind(cfg, args.config) == 'mmseg':
        lines = segmenter_info(cfg, args.config, h, w)
    else:
        lines = fusion_info(cfg, args.config, h, w)
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
