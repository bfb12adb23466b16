"""A tiny PSFusion config and checkpoint, and tiny source datasets, for the fusing tests."""
from __future__ import annotations

import contextlib
import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.fusers import load_fusion_model

from .models.helpers import randomise_batchnorm
from .train_helpers import DEMO_CONFIG

#: The synthetic pairs' size: 40 is not a multiple of 32, so PSFusion pads and crops back.
HW = (32, 40)


def tiny_config() -> Config:
    """PSFusion-Light with 16-channel trunks."""
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict({'model.trunk_channels': 16})
    return cfg


def write_checkpoint(config: Config, path: Path) -> str:
    """A checkpoint of the tiny model with non-trivial BatchNorm statistics (so that folding
    them is really exercised)."""
    model, _ = load_fusion_model(config, None, seed=1)
    randomise_batchnorm(model, seed=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'meta': {'iter': 1}, 'state_dict': model.state_dict()}, path)
    return str(path)


def write_source(root: Path, layout: str = 'msrs', **counts) -> str:
    """A synthetic dataset of 32 x 40 pairs (MSRS layout: 3 train, 1 val inside train/,
    2 test)."""
    options = dict(num_train=3, num_test=2, num_val=0 if layout == 'fmb' else 1)
    options.update(counts)
    write_synthetic_dataset(str(root), seed=0, height=HW[0], width=HW[1], layout=layout,
                            **options)
    return str(root)


def write_mfnet(root: Path, stems=('00001D', '00002N'), hw=(40, 48)) -> str:
    """MFNet layout: 4-channel (R, G, B, thermal) images, labels, ``test.txt``."""
    rng = np.random.default_rng(0)
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    for stem in stems:
        Image.fromarray(rng.integers(0, 255, (*hw, 4), np.uint8), 'RGBA').save(
            root / 'images' / f'{stem}.png')
        Image.fromarray(rng.integers(0, 9, hw, np.uint8)).save(root / 'labels' / f'{stem}.png')
    (root / 'test.txt').write_text(''.join(f'{s}\n' for s in stems))
    return str(root)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


@contextlib.contextmanager
def batch_independent_kernels():
    """oneDNN off: CPU convolutions whose float results do not depend on the batch size
    (oneDNN picks its blocking by batch size, moving results by ~1e-6)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch's note on TF32 for Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False):
            yield
