"""Segmentation datasets for mmseg whose input **source** is chosen per run.

Each dataset lists the labelled samples of one split with the fusion datasets of
:mod:`psfusion.data` (same layouts, same checks, same error messages), then picks the image the
segmenter sees: ``source='ir'``, ``'vi'`` or ``'fused'`` (with ``fused_root``, resolved by
:func:`~psfusion.benchmark.sources.resolve_fused_images`).  Labels always come from the original
dataset.  Classes and palette are the nine MSRS/MFNet classes; background counts
(``reduce_zero_label=False``) and 255 is ignored.

Registered in the ``psfusion`` scope; under mmseg's default scope::

    dataset=dict(type='psfusion.MSRSSegDataset', data_root='data/MSRS', split='train',
                 source='fused', fused_root='work_dirs/fused/msrs', pipeline=[...])
"""
from __future__ import annotations

import os
from typing import Optional

from mmseg.datasets import BaseSegDataset

from ..data.datasets import MFNetDataset, MSRSDataset
from ..data.io import DataError
from ..data.labels import CLASSES, PALETTE
from ..registry import DATASETS
from .sources import SINGLE_SOURCES, resolve_fused_images

SOURCE_KINDS = tuple(SINGLE_SOURCES) + ('fused', )


class SourceSegDataset(BaseSegDataset):
    """Base class: a labelled split read through one source (see the module docstring).

    Args:
        data_root: the original dataset root (images and labels).
        split: ``train``, ``val`` or ``test``.
        source: ``ir``, ``vi`` or ``fused``.
        fused_root: folder of fused images (``source='fused'`` only).
        **kwargs: passed to mmseg's ``BaseSegDataset`` (``pipeline``, ``test_mode``, ...).
    """

    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, data_root: str = '', split: str = 'train', source: str = 'vi',
                 fused_root: Optional[str] = None, **kwargs) -> None:
        if source not in SOURCE_KINDS:
            raise ValueError(f'{type(self).__name__}: unknown source {source!r}; expected one '
                             f'of {", ".join(SOURCE_KINDS)}')
        if source == 'fused' and not fused_root:
            raise ValueError(f"{type(self).__name__}: source='fused' needs fused_root (the "
                             f'folder of fused images)')
        if not data_root or not os.path.isdir(data_root):
            raise DataError(f'{data_root or "(empty)"}: dataset root not found. Check the path '
                            f'(--data-root, or data_root in the config).')
        self.split = split
        self.source = source
        self.fused_root = fused_root
        kwargs.setdefault('reduce_zero_label', False)
        kwargs.setdefault('ignore_index', 255)
        if kwargs['reduce_zero_label']:
            raise ValueError('the 9-class benchmark counts background: reduce_zero_label must '
                             'be False')
        super().__init__(data_root=data_root, **kwargs)

    def list_samples(self) -> list[dict]:
        """``[{'name', 'ir_path', 'vi_path', 'seg_map_path'}, ...]`` of the split, labelled."""
        raise NotImplementedError

    def image_kinds(self) -> tuple[str, str]:
        """The ``img_kind`` used for the ``ir`` and ``vi`` sources."""
        return 'ir', 'vi'

    def load_data_list(self) -> list[dict]:
        samples = self.list_samples()
        stems = [sample['name'] for sample in samples]
        fused = (resolve_fused_images(self.fused_root, self.split, stems)
                 if self.source == 'fused' else {})
        ir_kind, vi_kind = self.image_kinds()
        data_list = []
        for sample in samples:
            if self.source == 'ir':
                path, kind = sample['ir_path'], ir_kind
            elif self.source == 'vi':
                path, kind = sample['vi_path'], vi_kind
            else:
                path, kind = fused[sample['name']], 'fused'
            data_list.append(
                dict(img_path=path, img_kind=kind, seg_map_path=sample['seg_map_path'],
                     name=sample['name'], label_map=self.label_map,
                     reduce_zero_label=False, seg_fields=[]))
        return data_list


@DATASETS.register_module()
class MSRSSegDataset(SourceSegDataset):
    """MSRS layout (``ROOT/<split>/{ir,vi,Segmentation_labels|Label}``, optional
    ``ROOT/<split>.txt``).

    Args:
        split_file: stem list relative to the root; default ``<split>.txt`` if present.
            ``split='val'`` reads ``val.txt`` from the ``train`` folder when there is no
            ``val/`` folder (the synthetic dataset's layout).
    """

    def __init__(self, data_root: str = '', split: str = 'train',
                 split_file: Optional[str] = None, **kwargs) -> None:
        self.split_file = split_file
        super().__init__(data_root=data_root, split=split, **kwargs)

    def list_samples(self) -> list[dict]:
        folder, split_file = self.split, self.split_file
        if not os.path.isdir(os.path.join(self.data_root, folder)) and self.split == 'val':
            folder, split_file = 'train', split_file or 'val.txt'
        listing = MSRSDataset(data_root=self.data_root, split=folder, split_file=split_file,
                              with_label=True, lazy_init=True, pipeline=[])
        return listing.load_data_list()


@DATASETS.register_module()
class SyntheticSegDataset(MSRSSegDataset):
    """The synthetic road-scene dataset of :mod:`psfusion.data.synthetic` (MSRS layout)."""


@DATASETS.register_module()
class MFNetSegDataset(SourceSegDataset):
    """MFNet layout: ``ROOT/images/<stem>.png`` (R, G, B, thermal), ``ROOT/labels``,
    ``ROOT/{train,val,test}.txt``.  ``ir`` reads the thermal channel, ``vi`` the RGB ones."""

    def list_samples(self) -> list[dict]:
        listing = MFNetDataset(data_root=self.data_root, split=self.split, with_label=True,
                               lazy_init=True, pipeline=[])
        return [
            dict(name=item['name'], ir_path=item['mfnet_path'], vi_path=item['mfnet_path'],
                 seg_map_path=item['seg_map_path']) for item in listing.load_data_list()
        ]

    def image_kinds(self) -> tuple[str, str]:
        return 'mfnet_ir', 'mfnet_vi'


#: The dataset class of each benchmark dataset key.
DATASET_CLASSES = {'msrs': MSRSSegDataset, 'mfnet': MFNetSegDataset,
                   'synthetic': SyntheticSegDataset}


def split_samples(dataset: str, data_root: str, split: str = 'test') -> tuple[list, tuple]:
    """The labelled samples of a split (``name``, ``ir_path``, ``vi_path``, ``seg_map_path``)
    and the image kinds to read ``ir_path`` / ``vi_path`` with."""
    if dataset not in DATASET_CLASSES:
        raise ValueError(f'unknown dataset {dataset!r}; valid: {", ".join(DATASET_CLASSES)}')
    reader = DATASET_CLASSES[dataset](data_root=data_root, split=split, source='vi',
                                      pipeline=[], lazy_init=True)
    return reader.list_samples(), reader.image_kinds()
