"""Train PSFusion with mmengine's Runner.

    python tools/train_fusion.py [CONFIG] [--work-dir DIR] [--resume [auto|CHECKPOINT]]
                                 [--cfg-options KEY=VALUE ...] [--launcher pytorch] [--debug]
    python tools/train_fusion.py CONFIG --test CHECKPOINT     # evaluate on the test split

``--resume`` continues from the latest complete checkpoint of the work directory and stops with
an error when there is none; ``--resume auto`` starts from iteration 0 in that case;
``--resume CHECKPOINT`` continues from that file.  ``--cfg-options`` keys must exist in the
config; a top-level variable (e.g. ``max_iters=3``) is re-evaluated, so every value computed
from it follows.  Errors in the data, config or checkpoints print one line, ``error: ...``
(exit status 2); ``--debug`` shows the traceback.
Multi-process: tools/dist_train.sh CONFIG NPROC [options].
"""
import argparse
import os
import sys

import psfusion  # noqa: F401  (mmcv-lite compatibility before any mmseg import)
from mmengine.config import DictAction

from psfusion.cli import add_debug_argument, run_tool
from psfusion.engine.allocator import keep_freed_memory
from psfusion.engine.training import apply_speed_options, prepare_config, test, train


#: What ``python tools/train_fusion.py`` trains without a config: the paper's network on MSRS.
PAPER_CONFIG = 'psfusion/configs/psfusion_r34_msrs.py'


def paper_config() -> str:
    """:data:`PAPER_CONFIG` as a path that exists from any working folder (the package's
    copy; shown relative to the working folder where it lies inside it)."""
    path = os.path.join(os.path.dirname(os.path.abspath(psfusion.__file__)), 'configs',
                        os.path.basename(PAPER_CONFIG))
    relative = os.path.relpath(path)
    return path if relative.startswith('..') else relative


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?',
                        help=f'training config file (default: the paper\'s, {PAPER_CONFIG})')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', nargs='?', const=True, default=False,
                        metavar='auto|CHECKPOINT',
                        help='continue from the latest complete checkpoint in the work dir (an '
                        'error if there is none); "auto": the same, but start from iteration 0 '
                        'if there is none; CHECKPOINT: continue from that file')
    parser.add_argument('--test', metavar='CHECKPOINT',
                        help='only evaluate CHECKPOINT on the test split')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config values, e.g. max_iters=100 (a top-level variable: '
                        'everything computed from it follows) or train_cfg.val_interval=50; '
                        'unknown keys are refused')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (torchrun: pytorch)')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)
    speed = parser.add_argument_group('speed (the same network and objective, faster steps)')
    speed.add_argument('--amp', action='store_true',
                       help='bf16 autocast (mmengine AmpOptimWrapper; CPU autocast without a GPU)')
    speed.add_argument('--channels-last', action='store_true',
                       help='NHWC weights and activations (model.channels_last=True)')
    speed.add_argument('--compile', action='store_true',
                       help='torch.compile the training step (minutes of compilation first)')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.config is None:
        args.config = paper_config()
        print(f"no config given: training the paper's config, {args.config}")
    keep_freed_memory()  # CPU training otherwise re-faults its large feature maps every step
    cfg = prepare_config(args.config, args.work_dir, args.resume, args.cfg_options,
                         args.launcher)
    apply_speed_options(cfg, args.amp, args.channels_last, args.compile)
    if args.test:
        print(test(cfg, args.test))
    else:
        train(cfg)
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
