"""The segmenters and datasets of the benchmark, and where their configs live.

Config files are ``<config dir>/<segmenter>_<dataset>.py``.  The config dir is, in order: a
``config_dir`` argument (``--config-dir``), ``PSFUSION_MMSEG_CONFIGS``, the repository's
``mmseg_configs/`` (a source checkout), or the copy shipped inside the package
(``psfusion/.mim/mmseg_configs``, as OpenMMLab packages ship theirs) for a non-editable install.
Datasets are the registered layouts of :mod:`psfusion.data.layouts` that have configs here.

Segmenters are **image-level** (one 3-channel image per sample: ``ir``, ``vi`` or a fused
source) or **feature-level** (two-stream RGB-T segmenters such as CMX, which fuse the
modalities' features inside the network: the ``rgbt`` source only, 4 channels R, G, B, T).
:func:`check_inputs` refuses any other pairing before anything trains.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..data.layouts import layout_class
from ..errors import ConfigError
from .sources import RGBT_SOURCE, Source

#: What a segmenter takes (:attr:`Segmenter.input`).
IMAGE_LEVEL = 'image-level'
FEATURE_LEVEL = 'feature-level'


@dataclass(frozen=True)
class Segmenter:
    """A segmenter: its key (config prefix), display name (tables; the paper's name for the
    paper's segmenters) and input kind (:data:`IMAGE_LEVEL` or :data:`FEATURE_LEVEL`)."""
    key: str
    display: str
    input: str = IMAGE_LEVEL

    @property
    def feature_level(self) -> bool:
        return self.input == FEATURE_LEVEL


SEGMENTERS = {
    s.key: s
    for s in (
        Segmenter('banet', 'BANet'),  # first: Table 1 reads BANet, SegFormer, SegNeXt
        Segmenter('segformer_b2', 'SegFormer-B2'),
        Segmenter('segformer_b4', 'SegFormer-B4'),
        Segmenter('segnext_b', 'SegNeXt-Base'),
        Segmenter('segnext_l', 'SegNeXt-Large'),
        Segmenter('segformer_mini', 'SegFormer-mini'),  # the demo's small model, not the paper's
        # Feature-level (RGB-T) segmenters, the comparison of fused-image segmentation with
        # feature-level fusion: CMX (two MiT streams, psfusion/segmenters/cmx.py) and early
        # fusion (one MiT on the 4 channels), each at the width of the image-level SegFormer
        # it is compared with (B2, B4, mini: the demo's).
        Segmenter('cmx_b2', 'CMX-B2', FEATURE_LEVEL),
        Segmenter('cmx_b4', 'CMX-B4', FEATURE_LEVEL),
        Segmenter('cmx_mini', 'CMX-mini', FEATURE_LEVEL),
        Segmenter('early_b2', 'Early-B2', FEATURE_LEVEL),
        Segmenter('early_mini', 'Early-mini', FEATURE_LEVEL),
    )
}
#: What ``--seg all`` means: the paper's four segmenters of Tables 1, 2 and 5 (SegFormer-B2/B4,
#: SegNeXt-Base/Large).  BANet appears in Table 1 only and trains on its own schedule, and
#: SegFormer-mini is the demo's: both must be named (``--seg banet,segformer_b2,segnext_b`` is
#: Table 1).
PAPER_SEGMENTERS = ('segformer_b2', 'segformer_b4', 'segnext_b', 'segnext_l')
#: The benchmark's datasets (layout names with configs in ``mmseg_configs/``).
DATASETS = ('msrs', 'mfnet', 'fmb', 'synthetic')


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


def is_feature_level(segmenter: str) -> bool:
    """Whether ``segmenter`` is a feature-level (RGB-T) segmenter (unknown keys: False)."""
    return segmenter in SEGMENTERS and SEGMENTERS[segmenter].feature_level


def check_input(segmenter: str, source: Source) -> None:
    """A ConfigError (one line: what the segmenter takes, and the fix) unless ``segmenter``
    takes ``source``: a feature-level segmenter only ``rgbt``, an image-level one anything
    else."""
    takes_rgbt = source.kind == RGBT_SOURCE
    if is_feature_level(segmenter) and not takes_rgbt:
        image_level = ', '.join(k for k, s in SEGMENTERS.items() if not s.feature_level)
        raise ConfigError(
            f'{segmenter} is a feature-level (RGB-T) segmenter: it takes only the rgbt source '
            f'(visible + infrared), not {source.name}. Run it with --sources rgbt, and the '
            f'image-level segmenters ({image_level}) on ir, vi and fused sources.')
    if not is_feature_level(segmenter) and takes_rgbt:
        feature_level = ', '.join(k for k, s in SEGMENTERS.items() if s.feature_level)
        raise ConfigError(
            f'{segmenter} is an image-level segmenter: it takes one 3-channel image (ir, vi or '
            f'a fused source), not rgbt (visible + infrared, 4 channels), which is for the '
            f'feature-level segmenters ({feature_level}).')


def takes(segmenter: str, source: Source) -> bool:
    """Whether ``segmenter`` takes ``source`` (feature-level: only ``rgbt``; image-level: all
    others)."""
    return is_feature_level(segmenter) == (source.kind == RGBT_SOURCE)


def check_inputs(segmenters: Iterable[str], sources: Iterable[Source]
                 ) -> list[tuple[str, Source]]:
    """The (segmenter, source) pairs a benchmark call runs: each segmenter with every source it
    takes, so that ``--seg segformer_b2,cmx_b2 --sources ir,vi,psfusion=DIR,rgbt`` compares
    image-level and feature-level fusion in one call.

    Raises:
        ConfigError: a segmenter that takes none of the sources, or a source no segmenter
            takes (:func:`check_input`'s message for the first such pair).
    """
    segmenters, sources = list(segmenters), list(sources)
    pairs = [(seg, src) for seg in segmenters for src in sources if takes(seg, src)]
    for segmenter in segmenters:
        if not any(seg == segmenter for seg, _ in pairs):
            check_input(segmenter, sources[0])
    for source in sources:
        if not any(src is source for _, src in pairs):
            check_input(segmenters[0], source)
    return pairs


def check_dataset(name: str) -> str:
    """``name`` if it is a benchmark dataset; a ValueError listing the valid ones otherwise."""
    if name not in DATASETS:
        raise ValueError(f'unknown dataset {name!r}; valid names: {", ".join(DATASETS)}')
    return name


def dataset_title(name: str) -> str:
    """``MSRS``, ``MFNet``, ``FMB``, ... (the layout's display name)."""
    return layout_class(name).title


def display_name(segmenter: str, tta: bool = False) -> str:
    """``SegNeXt-Large``, or ``SegNeXt-Large + TTA`` with ``tta``; unknown keys as they are."""
    name = SEGMENTERS[segmenter].display if segmenter in SEGMENTERS else segmenter
    return name + (' + TTA' if tta else '')


def default_config_dir() -> Path:
    """``PSFUSION_MMSEG_CONFIGS``, else the checkout's ``mmseg_configs/``, else the packaged
    copy."""
    env = os.environ.get('PSFUSION_MMSEG_CONFIGS')
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent / 'mmseg_configs'
    if checkout.is_dir():
        return checkout
    return package / '.mim' / 'mmseg_configs'


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
