"""Tiny on-disk datasets for the benchmark tests (built in a test's temporary folder)."""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
from PIL import Image

from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.fusing import fuse_dataset


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def make_random_msrs(root: Path, splits: dict, size=(8, 12), seed: int = 0) -> Path:
    """MSRS layout with random content: ``splits`` maps split name -> stems."""
    rng = np.random.default_rng(seed)
    h, w = size
    for split, stems in splits.items():
        for stem in stems:
            save(root / split / 'ir' / f'{stem}.png', rng.integers(0, 256, (h, w), np.uint8))
            save(root / split / 'vi' / f'{stem}.png', rng.integers(0, 256, (h, w, 3), np.uint8))
            save(root / split / 'Segmentation_labels' / f'{stem}.png',
                 rng.integers(0, 9, (h, w), np.uint8))
    return root


def make_synthetic(root: Path, num_train: int = 4, num_test: int = 2, size=(64, 80),
                   seed: int = 0) -> Path:
    """The project's synthetic dataset at a tiny size (MSRS layout, no validation pairs)."""
    write_synthetic_dataset(str(root), num_train=num_train, num_test=num_test, num_val=0,
                            seed=seed, height=size[0], width=size[1])
    return root


def make_average_fused(data_root: Path, out: Path, layout: str = 'msrs') -> Path:
    """The stand-in fused source: the per-pixel average of ir and vi of the train and test
    splits, written by the fused-dataset writer (MSRS layout: ``out/<split>/fused``)."""
    fuse_dataset('average', str(data_root), layout, str(out), split='train,test',
                 progress=False)
    return out


def make_mfnet_from_msrs(msrs_root: Path, out: Path,
                         splits: Sequence[str] = ('train', 'test')) -> Path:
    """MFNet layout (4-channel R, G, B, thermal PNGs, labels, split files) from an MSRS-layout
    dataset; the validation split repeats the test stems."""
    lists = {}
    for split in splits:
        stems = sorted(p.stem for p in (msrs_root / split / 'ir').glob('*.png'))
        lists[split] = stems
        for stem in stems:
            ir = np.asarray(Image.open(msrs_root / split / 'ir' / f'{stem}.png').convert('L'))
            vi = np.asarray(Image.open(msrs_root / split / 'vi' / f'{stem}.png').convert('RGB'))
            save(out / 'images' / f'{stem}.png', np.dstack([vi, ir]))
            label = Image.open(msrs_root / split / 'Segmentation_labels' / f'{stem}.png')
            save(out / 'labels' / f'{stem}.png', np.asarray(label))
    lists.setdefault('val', lists['test'])
    for split, stems in lists.items():
        (out / f'{split}.txt').write_text('\n'.join(stems) + '\n')
    return out


@contextlib.contextmanager
def cached_mmseg_metainfo():
    """Cache mmengine's reading of mmseg's 53 metafiles, which it repeats (about 1.4 s) for
    every ``mmseg::`` base of every config parsed; they do not change during a test session."""
    import mmengine.config.utils as config_utils

    cached = functools.lru_cache(maxsize=None)(config_utils._get_cfg_metainfo)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config_utils, '_get_cfg_metainfo', cached)
        yield
