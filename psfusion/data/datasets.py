"""Paired infrared/visible datasets for fusion training (mmengine ``BaseDataset``\\ s registered
in ``psfusion``).

Each dataset class is a thin wrapper around its :class:`~psfusion.data.layouts.DatasetLayout`
(``MSRSDataset`` -> ``msrs``, ``MFNetDataset`` -> ``mfnet``, ``FMBDataset`` -> ``fmb``,
``FolderPairDataset`` -> ``folders``): the layout lists the files and holds the classes
(``metainfo``); the dataset adds mmengine's lazy loading and the pipeline (by default just
:class:`~psfusion.data.transforms.LoadFusionPair`).  Problems found while listing (missing
counterpart, missing label, a split file naming absent images, an empty folder) raise
:class:`~psfusion.data.io.DataError` at construction, naming the files; problems inside a file
(corrupt, wrong channels, size mismatch, label ids out of range) raise when it is read.
"""
from __future__ import annotations

from typing import ClassVar, Optional, Sequence

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .io import DataError
from .layouts import DatasetLayout, build_layout, dataset_metainfo, match_pairs, \
    read_split_file
from .transforms import build_pipeline

DEFAULT_PIPELINE = (dict(type='LoadFusionPair'), )
__all__ = ['PairedDataset', 'MSRSDataset', 'SyntheticDataset', 'MFNetDataset', 'FMBDataset',
           'FolderPairDataset', 'match_pairs', 'read_split_file']


class PairedDataset(BaseDataset):
    """Common base: the layout named by :attr:`LAYOUT` lists the samples; its metainfo is the
    dataset's.  Each sample record also carries ``num_classes`` and ``target_classes`` so that
    the loading and label steps check ids and derive masks for this dataset's classes.

    Args:
        data_root: dataset root.
        split: the split to list (layout-specific names; ``None`` where a layout allows all).
        with_label: ``True`` requires labels, ``False`` ignores them, ``None`` uses them if
            present.
        split_file: optional stem list (relative to the root, or absolute) restricting the
            split, e.g. a validation set held out of ``train``.
        layout_args: further options of the layout (e.g. ``label_dir``).
    """

    LAYOUT: ClassVar[str] = ''

    def __init__(self, data_root: str = '', split: Optional[str] = 'train',
                 with_label: Optional[bool] = None, split_file: Optional[str] = None,
                 pipeline: Optional[Sequence] = DEFAULT_PIPELINE,
                 layout_args: Optional[dict] = None, **kwargs) -> None:
        if not data_root:
            raise DataError(f'{type(self).__name__}: data_root is required.')
        self.layout: DatasetLayout = build_layout(self.LAYOUT, data_root, split_file=split_file,
                                                  **(layout_args or {}))
        self.split = split
        self.with_label = with_label
        kwargs.setdefault('metainfo', None)
        super().__init__(data_root=data_root, pipeline=build_pipeline(pipeline), **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        return dataset_metainfo(cls.LAYOUT, metainfo)

    def load_data_list(self) -> list[dict]:
        num_classes = len(self.metainfo['classes'])
        targets = list(self.metainfo['target_classes'])
        return [dict(item, num_classes=num_classes, target_classes=targets)
                for item in self.layout.samples(self.split, self.with_label)]

    def __getitem__(self, idx: int) -> dict:
        # mmengine's BaseDataset retries other samples on a None result in training mode; our
        # pipeline never returns None, and errors must surface with the file name, not hide.
        if not self._fully_initialized:
            self.full_init()
        return self.prepare_data(idx)

    def items(self) -> list[dict]:
        """The file records of all samples (mmengine serialises ``data_list`` away)."""
        return [self.get_data_info(index) for index in range(len(self))]

    @property
    def names(self) -> list[str]:
        return [item['name'] for item in self.items()]

    @property
    def has_labels(self) -> bool:
        return all(item.get('seg_map_path') for item in self.items())


@DATASETS.register_module()
class MSRSDataset(PairedDataset):
    """MSRS layout: ``ROOT/<split>/{ir,vi,Segmentation_labels|Label}`` (see
    :class:`~psfusion.data.layouts.MSRSLayout`).

    Args:
        split: the folder under the root (``train`` or ``test``), or a split listed by
            ``ROOT/<split>.txt`` inside ``train/`` (e.g. ``val``).
        split_file: optional stem list, relative to the root.  Default: ``ROOT/<split>.txt`` if
            it exists, else every pair in the folder.
        label_dir: label folder name under ``ROOT/<split>``; default: the first of
            ``Segmentation_labels``, ``Label``, ``labels`` that exists, or none (no labels).
    """

    LAYOUT = 'msrs'

    def __init__(self, data_root: str = '', split: str = 'train',
                 split_file: Optional[str] = None, label_dir: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(data_root=data_root, split=split, split_file=split_file,
                         layout_args=dict(label_dir=label_dir), **kwargs)


@DATASETS.register_module()
class SyntheticDataset(MSRSDataset):
    """The synthetic road-scene dataset (MSRS layout and classes)."""

    LAYOUT = 'synthetic'


@DATASETS.register_module()
class MFNetDataset(PairedDataset):
    """MFNet layout: ``ROOT/images/<stem>.png`` (R, G, B, thermal), ``ROOT/labels``, split files.

    Args:
        split: ``train``, ``val`` or ``test`` (reads ``ROOT/<split>.txt``), or ``None`` for
            every image in ``ROOT/images``.
        split_file: optional stem list restricting the split (e.g. a held-out validation set).
    """

    LAYOUT = 'mfnet'


@DATASETS.register_module()
class FMBDataset(PairedDataset):
    """FMB layout: ``ROOT/<split>/{Infrared,Visible,Label}`` (14 classes + unlabelled).

    Args:
        split: ``train`` or ``test``.
        split_file: optional stem list restricting the split (e.g. a held-out validation set).
    """

    LAYOUT = 'fmb'


@DATASETS.register_module()
class FolderPairDataset(PairedDataset):
    """Any two folders of infrared and visible images matched by file stem.

    Args:
        data_root: root the folder names are relative to (absolute folders also work).
        ir_dir, vi_dir: the image folders (default ``ir`` and ``vi``).
        label_dir: optional folder of class-id labels.
        split_file: optional stem list relative to the root.
    """

    LAYOUT = 'folders'

    def __init__(self, data_root: str = '', ir_dir: str = 'ir', vi_dir: str = 'vi',
                 label_dir: Optional[str] = None, split_file: Optional[str] = None,
                 **kwargs) -> None:
        kwargs.setdefault('split', None)
        super().__init__(data_root=data_root, split_file=split_file,
                         layout_args=dict(ir_dir=ir_dir, vi_dir=vi_dir, label_dir=label_dir),
                         **kwargs)
