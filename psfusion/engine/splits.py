"""Hold out a validation split from a training split that has none (MSRS and FMB ship only train
and test).  Model selection must never look at the test split."""
from __future__ import annotations

import os
import random
from typing import Optional

from ..data.layouts import build_layout


def write_validation_split(data_root: str, out_dir: str, split: str = 'train',
                           fraction: float = 0.1, seed: int = 0,
                           split_file: Optional[str] = None,
                           layout: str = 'msrs') -> tuple[str, str]:
    """Write ``out_dir/train_fit.txt`` and ``out_dir/val.txt``: a seeded random ``fraction`` of
    the split's stems for validation, the rest for training.  Returns both paths (absolute).

    The stems are those the dataset's ``layout`` lists for ``split`` (restricted by
    ``split_file``, relative to the root, where given).  The same inputs always give the same
    files.
    """
    if not 0 < fraction < 1:
        raise ValueError(f'validation fraction must be in (0, 1), got {fraction}')
    records = build_layout(layout, data_root, split_file=split_file).samples(split,
                                                                          with_label=False)
    stems = sorted(record['name'] for record in records)
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
