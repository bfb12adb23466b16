"""Train PSFusion with mmengine's Runner.

    python tools/train_fusion.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]]
                                 [--cfg-options KEY=VALUE ...] [--launcher pytorch]
    python tools/train_fusion.py CONFIG --test CHECKPOINT     # evaluate on the test split

``--resume`` without a path continues from the latest checkpoint in the work directory.
Multi-process: tools/dist_train.sh CONFIG NPROC [options].
"""
import argparse

import psfusion  # noqa: F401  (mmcv-lite compatibility before any mmseg import)
from mmengine.config import DictAction

from psfusion.engine.allocator import keep_freed_memory
from psfusion.engine.training import prepare_config, test, train


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='training config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', nargs='?', const=True, default=False,
                        help='resume from CHECKPOINT, or from the latest one in the work dir')
    parser.add_argument('--test', metavar='CHECKPOINT',
                        help='only evaluate CHECKPOINT on the test split')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config values, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (torchrun: pytorch)')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    keep_freed_memory()  # CPU training otherwise re-faults its large feature maps every step
    cfg = prepare_config(args.config, args.work_dir, args.resume, args.cfg_options,
                         args.launcher)
    if args.test:
        print(test(cfg, args.test))
    else:
        train(cfg)


if __name__ == '__main__':
    main()
