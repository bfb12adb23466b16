"""The segmenters and datasets of the benchmark, and where their configs live.

Config files are ``mmseg_configs/<segmenter>_<dataset>.py`` at the repository root (override
with ``PSFUSION_MMSEG_CONFIGS`` or a ``config_dir`` argument).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence


@dataclass(frozen=True)
class Segmenter:
    """A segmenter: its key (config prefix), display name and the paper's name for it."""
    key: str
    display: str
    paper_name: Optional[str] = None  # the column/row name in the paper's tables, if used there


SEGMENTERS = {
    s.key: s
    for s in (
        Segmenter('segformer_b2', 'SegFormer-B2', 'SegFormer-B2'),
        Segmenter('segformer_b4', 'SegFormer-B4', 'SegFormer-B4'),
        Segmenter('segnext_b', 'SegNeXt-Base', 'SegNeXt-Base'),
        Segmenter('segnext_l', 'SegNeXt-Large', 'SegNeXt-Large'),
        Segmenter('segformer_mini', 'SegFormer-mini', None),  # the demo's small model
    )
}
#: What ``--seg all`` means: the paper's four segmenters (SegFormer-mini must be named).
PAPER_SEGMENTERS = ('segformer_b2', 'segformer_b4', 'segnext_b', 'segnext_l')
#: Dataset keys (config suffixes) and display names.
DATASETS = {'msrs': 'MSRS', 'mfnet': 'MFNet', 'synthetic': 'synthetic'}
#: Suffix of the segmenter name in results evaluated with test-time augmentation.
TTA_SUFFIX = '+tta'


def parse_segmenters(text: str) -> list[str]:
    """Segmenter keys from a comma-separated list, or ``all`` (the paper's four)."""
    names = [part.strip() for part in text.split(',') if part.strip()]
    if names == ['all']:
        return list(PAPER_SEGMENTERS)
    unknown = [name for name in names if name not in SEGMENTERS]
    if unknown or not names:
        raise ValueError(f'unknown segmenter(s): {", ".join(unknown) or "(none given)"}; valid '
                         f'names: {", ".join(SEGMENTERS)}, or all '
                         f'(= {", ".join(PAPER_SEGMENTERS)})')
    return names


def check_dataset(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f'unknown dataset {name!r}; valid names: {", ".join(DATASETS)}')
    return name


def display_name(segmenter: str) -> str:
    """``SegNeXt-Large``, or ``SegNeXt-Large + TTA`` for ``segnext_l+tta``; unknown keys as is."""
    base = segmenter[:-len(TTA_SUFFIX)] if segmenter.endswith(TTA_SUFFIX) else segmenter
    name = SEGMENTERS[base].display if base in SEGMENTERS else base
    return name + (' + TTA' if base != segmenter else '')


def default_config_dir() -> Path:
    env = os.environ.get('PSFUSION_MMSEG_CONFIGS')
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / 'mmseg_configs'


def config_path(segmenter: str, dataset: str, config_dir: Optional[str] = None) -> Path:
    """The config file of a segmenter on a dataset; errors name the file and the fix."""
    parse_segmenters(segmenter)
    check_dataset(dataset)
    folder = Path(config_dir) if config_dir else default_config_dir()
    path = folder / f'{segmenter}_{dataset}.py'
    if not path.is_file():
        raise FileNotFoundError(f'{path}: config not found. Point --config-dir (or '
                                f'PSFUSION_MMSEG_CONFIGS) at the repository\'s mmseg_configs/.')
    return path


def all_config_paths(config_dir: Optional[str] = None,
                     segmenters: Sequence[str] = tuple(SEGMENTERS),
                     datasets: Sequence[str] = tuple(DATASETS)) -> list[Path]:
    return [config_path(s, d, config_dir) for s in segmenters for d in datasets]
