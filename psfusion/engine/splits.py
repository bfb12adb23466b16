"""Hold out a validation split from a training split that has none (MSRS ships only train and
test).  Model selection must never look at the test split."""
from __future__ import annotations

import os
import random
from typing import Optional

from ..data.datasets import read_split_file
from ..data.io import list_images


def write_validation_split(data_root: str, out_dir: str, split: str = 'train',
                           fraction: float = 0.1, seed: int = 0,
                           split_file: Optional[str] = None) -> tuple[str, str]:
    """Write ``out_dir/train_fit.txt`` and ``out_dir/val.txt``: a seeded random ``fraction`` of
    the split's stems for validation, the rest for training.  Returns both paths (absolute).

    The stems come from ``split_file`` (relative to the root), else ``ROOT/<split>.txt`` if it
    exists, else the ``ROOT/<split>/ir`` folder.  The same inputs always give the same files.
    """
    if not 0 < fraction < 1:
        raise ValueError(f'validation fraction must be in (0, 1), got {fraction}')
    default = os.path.join(data_root, f'{split}.txt')
    if split_file:
        stems = read_split_file(os.path.join(data_root, split_file))
    elif os.path.isfile(default):
        stems = read_split_file(default)
    else:
        stems = sorted(list_images(os.path.join(data_root, split, 'ir')))
    stems = sorted(stems)
    random.Random(seed).shuffle(stems)
    n_val = max(1, round(len(stems) * fraction))
    if n_val >= len(stems):
        raise ValueError(f'{len(stems)} pairs are too few to hold out {fraction:.0%}')
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, subset in (('train_fit.txt', stems[n_val:]), ('val.txt', stems[:n_val])):
        path = os.path.abspath(os.path.join(out_dir, name))
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write('\n'.join(sorted(subset)) + '\n')
        paths.append(path)
    return paths[0], paths[1]
