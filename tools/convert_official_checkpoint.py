"""Convert the authors' released PSFusion checkpoint to this project's network.

    python tools/convert_official_checkpoint.py OFFICIAL.pth OUT.pth
        [--config psfusion/configs/psfusion_r34_msrs_official.py] [--debug]

OFFICIAL.pth is the official code's checkpoint (``best_model.pth``: ``{'MTAN': state_dict, ...}``,
github.com/Linfeng-Tang/PSFusion).  Every official key is renamed to this project's module names
(psfusion/models/official.py) and checked against CONFIG's model, one to one and shape by shape;
a key that cannot be placed stops the conversion with the list (nothing is written).  The two
layers the official forward pass never uses (``classfier.boundary_conv1/2``) are dropped and
reported.  OUT is written atomically as ``{'state_dict': ..., 'meta': ...}``, which
``tools/fuse.py CONFIG OUT ...`` loads weights-only.  Run the fused images with the same CONFIG:
its switches make this network compute what the official one does.
"""
import argparse
import hashlib
import os
import sys

import psfusion  # noqa: F401  (mmcv-lite compatibility before any mmseg import)
import torch

from psfusion.cli import add_debug_argument, run_tool
from psfusion.config_options import load_config
from psfusion.engine.checkpoint import load_checkpoint_checked
from psfusion.fileio import atomic_write
from psfusion.models.official import (convert_official_state_dict, dropped_layers,
                                      official_state_dict)
from psfusion.registry import MODELS

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'psfusion',
                              'configs', 'psfusion_r34_msrs_official.py')


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official', help="the official checkpoint (best_model.pth)")
    parser.add_argument('out', help='where to write the converted checkpoint')
    parser.add_argument('--config', default=os.path.normpath(DEFAULT_CONFIG),
                        help='the model config to convert for (default: %(default)s)')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    cfg.model.backbone_pretrained = None  # the checkpoint brings every weight
    model = MODELS.build(cfg.model)
    checkpoint = load_checkpoint_checked(
        args.official, advice='Download the official best_model.pth again (the link is in the '
        'thread github.com/Linfeng-Tang/PSFusion/issues/5).')
    converted, dropped = convert_official_state_dict(official_state_dict(checkpoint),
                                                     model.state_dict())
    model.load_state_dict(converted, strict=True)  # one-to-one by construction; a last check
    meta = dict(converted_from=os.path.basename(args.official),
                source_sha256=sha256(args.official), config=os.path.basename(args.config),
                dropped_unused=dropped, epoch=checkpoint.get('ep'),
                iteration=checkpoint.get('total_it'), best_miou=checkpoint.get('best_mIou'))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_write(args.out, lambda tmp: torch.save(dict(state_dict=converted, meta=meta), tmp))
    params = sum(v.numel() for k, v in converted.items() if not k.endswith(
        ('running_mean', 'running_var', 'num_batches_tracked')))
    print(f'converted {len(converted)} tensors ({params:,} parameters) for {args.config}')
    print(f'dropped {len(dropped)} tensors of the official code\'s unused layers: '
          f'{", ".join(dropped_layers(dropped))}')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
