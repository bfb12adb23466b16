"""Small on-disk datasets built inside a test's temporary folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def make_pair_folders(root: Path, stems=('a', 'b'), size=(8, 12), label=True) -> Path:
    """``root/ir``, ``root/vi`` (and ``root/label``) with deterministic content."""
    rng = np.random.default_rng(0)
    h, w = size
    for stem in stems:
        save(root / 'ir' / f'{stem}.png', rng.integers(0, 256, (h, w), dtype=np.uint8))
        save(root / 'vi' / f'{stem}.png', rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        if label:
            save(root / 'label' / f'{stem}.png', rng.integers(0, 9, (h, w), dtype=np.uint8))
    return root


def make_msrs(root: Path, split='train', stems=('00001D', '00002N'), size=(8, 12),
              label_dir='Segmentation_labels') -> Path:
    split_root = root / split
    make_pair_folders(split_root, stems, size, label=label_dir is not None)
    if label_dir is not None:
        (split_root / 'label').rename(split_root / label_dir)
    return root
