"""Paired infrared/visible datasets (mmengine ``BaseDataset``\\ s registered in ``psfusion``).

Three on-disk layouts:

* :class:`MSRSDataset`: ``ROOT/<split>/vi``, ``ROOT/<split>/ir`` and labels in
  ``ROOT/<split>/Segmentation_labels`` (public MSRS) or ``ROOT/<split>/Label`` (the authors'
  preprocessed copy); an optional split file (``ROOT/<split>.txt`` by default) lists the stems.
* :class:`MFNetDataset`: ``ROOT/images/*.png`` with 4 channels (R, G, B, thermal),
  ``ROOT/labels/*.png``, ``ROOT/{train,val,test}.txt``.
* :class:`FolderPairDataset`: any ``ir/`` and ``vi/`` folders matched by file stem (optionally
  a label folder).

Each item of ``data_list`` names the files of one sample; the pipeline (by default just
:class:`~psfusion.data.transforms.LoadFusionPair`) reads them.  Problems found while listing
(missing counterpart, missing label, a split file naming absent images, an empty folder) raise
:class:`~psfusion.data.io.DataError` at construction, naming the files; problems inside a file
(corrupt, wrong channels, size mismatch, label ids out of range) raise when it is read.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .io import DataError, list_images
from .labels import CLASSES, PALETTE
from .transforms import build_pipeline

MSRS_LABEL_DIRS = ('Segmentation_labels', 'Label', 'labels')
DEFAULT_PIPELINE = (dict(type='LoadFusionPair'), )


def _describe(stems: Sequence[str], limit: int = 10) -> str:
    stems = sorted(stems)
    shown = ', '.join(stems[:limit])
    return shown + (f' ... ({len(stems)} in all)' if len(stems) > limit else '')


def read_split_file(path: str) -> list[str]:
    """Stems listed in a split file, one per line (extensions and blank lines ignored)."""
    if not os.path.isfile(path):
        raise DataError(f'{path}: split file not found.')
    with open(path, encoding='utf-8') as handle:
        stems = [os.path.splitext(line.strip())[0] for line in handle if line.strip()]
    if not stems:
        raise DataError(f'{path}: split file is empty.')
    return stems


def match_pairs(ir_dir: str, vi_dir: str, label_dir: Optional[str] = None,
                stems: Optional[Sequence[str]] = None,
                split_file: Optional[str] = None) -> list[dict]:
    """Pair the images of two folders by file stem, with optional labels and a stem list.

    Every infrared image needs a visible counterpart and vice versa; with ``label_dir``, every
    pair needs a label; every stem of ``stems`` must exist.  Nothing is skipped silently.
    """
    ir_files = list_images(ir_dir)
    vi_files = list_images(vi_dir)
    only_ir = set(ir_files) - set(vi_files)
    only_vi = set(vi_files) - set(ir_files)
    if only_ir or only_vi:
        parts = []
        if only_ir:
            parts.append(f'{len(only_ir)} infrared image(s) in {ir_dir} have no visible '
                         f'counterpart in {vi_dir}: {_describe(only_ir)}')
        if only_vi:
            parts.append(f'{len(only_vi)} visible image(s) in {vi_dir} have no infrared '
                         f'counterpart in {ir_dir}: {_describe(only_vi)}')
        raise DataError('; '.join(parts) + '. Add the missing files or remove the unpaired '
                        'ones (pairs are matched by file name without extension).')
    if stems is None:
        stems = sorted(ir_files)
    else:
        absent = [stem for stem in stems if stem not in ir_files]
        if absent:
            raise DataError(f'{split_file or "the split"} lists {len(absent)} stem(s) with no '
                            f'image in {ir_dir}: {_describe(absent)}. Fix the split file or '
                            f'add the images.')
    labels = list_images(label_dir) if label_dir else {}
    if label_dir:
        unlabelled = [stem for stem in stems if stem not in labels]
        if unlabelled:
            raise DataError(f'{len(unlabelled)} pair(s) have no label in {label_dir}: '
                            f'{_describe(unlabelled)}. Add the labels, or point the dataset at '
                            f'images only (no label folder) for fusion without semantics.')
    return [
        dict(name=stem, ir_path=ir_files[stem], vi_path=vi_files[stem],
             seg_map_path=labels.get(stem)) for stem in stems
    ]


class PairedDataset(BaseDataset):
    """Common base: class metadata, pipeline built through the ``psfusion`` registry."""

    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, data_root: str = '', pipeline: Optional[Sequence] = DEFAULT_PIPELINE,
                 **kwargs) -> None:
        if not data_root:
            raise DataError(f'{type(self).__name__}: data_root is required.')
        if not os.path.isdir(data_root):
            raise DataError(f'{data_root}: dataset root not found. Check the path (and the '
                            f'data_root config value).')
        super().__init__(data_root=data_root, pipeline=build_pipeline(pipeline), **kwargs)

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
    """MSRS layout: ``ROOT/<split>/{ir,vi,Segmentation_labels|Label}``.

    Args:
        data_root: dataset root.
        split: the folder under the root (``train`` or ``test``).
        split_file: optional stem list, relative to the root or absolute.  Default: use
            ``ROOT/<split>.txt`` if it exists, else every pair in the folder.  A validation
            subset of ``train/`` is e.g. ``split='train', split_file='val.txt'``.
        label_dir: label folder name under ``ROOT/<split>``; default: the first of
            ``Segmentation_labels``, ``Label``, ``labels`` that exists, or none (no labels).
        with_label: ``True`` requires labels, ``False`` ignores them, ``None`` uses them if
            present.
    """

    def __init__(self, data_root: str = '', split: str = 'train',
                 split_file: Optional[str] = None, label_dir: Optional[str] = None,
                 with_label: Optional[bool] = None, **kwargs) -> None:
        self.split = split
        self.split_file = split_file
        self.label_dir = label_dir
        self.with_label = with_label
        super().__init__(data_root=data_root, **kwargs)

    def _label_folder(self, split_dir: str) -> Optional[str]:
        if self.with_label is False:
            return None
        names = (self.label_dir, ) if self.label_dir else MSRS_LABEL_DIRS
        for name in names:
            if os.path.isdir(os.path.join(split_dir, name)):
                return os.path.join(split_dir, name)
        if self.with_label:
            raise DataError(f'{split_dir}: no label folder ({" or ".join(names)}). Labels are '
                            f'required here: download the MSRS segmentation labels.')
        return None

    def load_data_list(self) -> list[dict]:
        split_dir = os.path.join(self.data_root, self.split)
        if not os.path.isdir(split_dir):
            raise DataError(f'{split_dir}: split folder not found; the MSRS layout is '
                            f'ROOT/{self.split}/ir, ROOT/{self.split}/vi.')
        split_file = self.split_file
        if split_file is None and os.path.isfile(os.path.join(self.data_root,
                                                              f'{self.split}.txt')):
            split_file = f'{self.split}.txt'
        stems = None
        if split_file is not None:
            split_file = os.path.join(self.data_root, split_file)
            stems = read_split_file(split_file)
        return match_pairs(os.path.join(split_dir, 'ir'), os.path.join(split_dir, 'vi'),
                           self._label_folder(split_dir), stems, split_file)


@DATASETS.register_module()
class MFNetDataset(PairedDataset):
    """MFNet layout: ``ROOT/images/<stem>.png`` (R, G, B, thermal), ``ROOT/labels``, split files.

    Args:
        split: ``train``, ``val`` or ``test`` (reads ``ROOT/<split>.txt``), or ``None`` for
            every image in ``ROOT/images``.
        with_label: as in :class:`MSRSDataset`.
    """

    def __init__(self, data_root: str = '', split: Optional[str] = 'train',
                 with_label: Optional[bool] = None, **kwargs) -> None:
        self.split = split
        self.with_label = with_label
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        images = list_images(os.path.join(self.data_root, 'images'))
        split_file = None
        if self.split is None:
            stems = sorted(images)
        else:
            split_file = os.path.join(self.data_root, f'{self.split}.txt')
            stems = read_split_file(split_file)
        absent = [stem for stem in stems if stem not in images]
        if absent:
            raise DataError(f'{split_file} lists {len(absent)} stem(s) with no image in '
                            f'{os.path.join(self.data_root, "images")}: {_describe(absent)}.')
        label_dir = os.path.join(self.data_root, 'labels')
        labels: dict[str, str] = {}
        if self.with_label is not False and os.path.isdir(label_dir):
            labels = list_images(label_dir)
            unlabelled = [stem for stem in stems if stem not in labels]
            if unlabelled:
                raise DataError(f'{len(unlabelled)} image(s) have no label in {label_dir}: '
                                f'{_describe(unlabelled)}.')
        elif self.with_label:
            raise DataError(f'{label_dir}: label folder not found; labels are required here.')
        return [
            dict(name=stem, mfnet_path=images[stem], seg_map_path=labels.get(stem))
            for stem in stems
        ]


@DATASETS.register_module()
class FolderPairDataset(PairedDataset):
    """Any two folders of infrared and visible images matched by file stem.

    Args:
        data_root: root the folder names are relative to (absolute folders also work).
        ir_dir, vi_dir: the image folders (default ``ir`` and ``vi``).
        label_dir: optional folder of class-id labels.
        split_file: optional stem list relative to the root.
    """

    def __init__(self, data_root: str = '', ir_dir: str = 'ir', vi_dir: str = 'vi',
                 label_dir: Optional[str] = None, split_file: Optional[str] = None,
                 **kwargs) -> None:
        self.ir_dir, self.vi_dir, self.label_dir = ir_dir, vi_dir, label_dir
        self.split_file = split_file
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        join = lambda name: os.path.join(self.data_root, name) if name else None  # noqa: E731
        split_file = join(self.split_file)
        stems = read_split_file(split_file) if split_file else None
        return match_pairs(join(self.ir_dir), join(self.vi_dir), join(self.label_dir), stems,
                           split_file)
