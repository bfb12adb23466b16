"""Dataset layouts: where a dataset's files are, which classes it has, and where fused copies go.

A :class:`DatasetLayout` is the one place that knows a dataset's on-disk form.  Everything else
(the fusion datasets, the fused-dataset writer, the benchmark's segmentation datasets, the
figures and the tables) asks it:

* :meth:`~DatasetLayout.samples` lists the pairs of a split as plain records
  ``{name, ir_path, ir_channels, vi_path, vi_channels, seg_map_path}``; a modality is a file
  plus an optional channel selection (MFNet keeps both in one 4-channel PNG: infrared is
  channel 3 of ``images/<stem>.png``, visible channels 0-2);
* :attr:`~DatasetLayout.metainfo` holds the class names, palette, ignore index, table titles
  and the salient-target classes (what mmseg calls ``metainfo`` / ``dataset_meta``);
* :meth:`~DatasetLayout.output_dir` says where a fused image (or a semantic prediction) of a
  split is written inside a fused dataset, and :meth:`~DatasetLayout.carried_files` which
  files (labels, split lists) a fused dataset copies, so that it is a drop-in source.

Layouts are registered by name in :data:`LAYOUTS` (``msrs``, ``mfnet``, ``fmb``, ``synthetic``,
``folders``); :func:`build_layout` makes one for a root.  A new dataset is one subclass here
plus its configs.
"""
from __future__ import annotations

import os
from typing import ClassVar, Iterable, Optional, Sequence

from .io import IGNORE_INDEX, DataError, list_images

#: The nine MSRS / MFNet classes, in id order, and their palette (RGB).
MSRS_CLASSES = ('unlabelled', 'car', 'person', 'bike', 'curve', 'car_stop', 'guardrail',
                'color_cone', 'bump')
MSRS_PALETTE = ((0, 0, 0), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 192), (128, 128, 0),
                (64, 64, 128), (192, 128, 128), (192, 64, 0))
MSRS_TITLES = ('Background', 'Car', 'Person', 'Bike', 'Curve', 'Car Stop', 'Guardrail',
               'Color cone', 'Bump')

#: FMB (Liu et al., ICCV 2023, SegMiF): 14 classes plus unlabelled (id 0), in id order.
FMB_CLASSES = ('unlabelled', 'road', 'sidewalk', 'building', 'lamp', 'sign', 'vegetation',
               'sky', 'person', 'car', 'truck', 'bus', 'motorcycle', 'bicycle', 'pole')
FMB_PALETTE = ((0, 0, 0), (228, 228, 179), (133, 57, 181), (177, 162, 67), (50, 178, 200),
               (199, 45, 132), (84, 172, 66), (79, 73, 179), (166, 99, 76), (253, 121, 66),
               (91, 165, 137), (152, 97, 155), (140, 153, 105), (158, 215, 222), (90, 113, 135))
FMB_TITLES = ('Background', 'Road', 'Sidewalk', 'Building', 'Lamp', 'Sign', 'Vegetation', 'Sky',
              'Person', 'Car', 'Truck', 'Bus', 'Motorcycle', 'Bicycle', 'Pole')

LAYOUTS: dict[str, type['DatasetLayout']] = {}


def register_layout(cls: type['DatasetLayout']) -> type['DatasetLayout']:
    """Class decorator: make a layout available by its ``name``."""
    LAYOUTS[cls.name] = cls
    return cls


def make_metainfo(classes: Sequence[str], palette: Sequence[Sequence[int]],
                  titles: Sequence[str], target_classes: Sequence[str],
                  ignore_index: int = IGNORE_INDEX) -> dict:
    """A dataset's metainfo: ``classes``, ``palette``, ``class_titles`` (table headings),
    ``ignore_index`` and ``target_classes`` (ids of the warm, salient objects that PSFusion's
    intensity loss emphasises)."""
    if not len(classes) == len(palette) == len(titles):
        raise ValueError('classes, palette and titles must have one entry per class')
    missing = [name for name in target_classes if name not in classes]
    if missing:
        raise ValueError(f'target classes {missing} are not among the classes {classes}')
    return dict(classes=tuple(classes), palette=tuple(tuple(c) for c in palette),
                class_titles=tuple(titles), ignore_index=ignore_index,
                target_classes=tuple(classes.index(name) for name in target_classes))


def describe(stems: Iterable[str], limit: int = 10) -> str:
    """``a, b, c ... (N in all)``: a short listing of names for error messages."""
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


def sample_record(name: str, ir_path: str, vi_path: str, seg_map_path: Optional[str],
                  ir_channels: Optional[Sequence[int]] = None,
                  vi_channels: Optional[Sequence[int]] = None) -> dict:
    """One sample: each modality is a path plus a channel selection (``None``: the file as
    stored)."""
    return dict(name=name, ir_path=ir_path, vi_path=vi_path, seg_map_path=seg_map_path,
                ir_channels=None if ir_channels is None else list(ir_channels),
                vi_channels=None if vi_channels is None else list(vi_channels))


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
                         f'counterpart in {vi_dir}: {describe(only_ir)}')
        if only_vi:
            parts.append(f'{len(only_vi)} visible image(s) in {vi_dir} have no infrared '
                         f'counterpart in {ir_dir}: {describe(only_vi)}')
        raise DataError('; '.join(parts) + '. Add the missing files or remove the unpaired '
                        'ones (pairs are matched by file name without extension).')
    if stems is None:
        stems = sorted(ir_files)
    else:
        absent = [stem for stem in stems if stem not in ir_files]
        if absent:
            raise DataError(f'{split_file or "the split"} lists {len(absent)} stem(s) with no '
                            f'image in {ir_dir}: {describe(absent)}. Fix the split file or '
                            f'add the images.')
    labels = list_images(label_dir) if label_dir else {}
    if label_dir:
        unlabelled = [stem for stem in stems if stem not in labels]
        if unlabelled:
            raise DataError(f'{len(unlabelled)} pair(s) have no label in {label_dir}: '
                            f'{describe(unlabelled)}. Add the labels, or point the dataset at '
                            f'images only (no label folder) for fusion without semantics.')
    return [sample_record(stem, ir_files[stem], vi_files[stem], labels.get(stem))
            for stem in stems]


class DatasetLayout:
    """How one dataset is stored (see the module docstring).  Subclasses set the class
    attributes and implement :meth:`samples`; the other methods have folder-based defaults.

    Args:
        root: the dataset root.
        split_file: optional stem list (relative to the root, or absolute) that restricts every
            split to the stems it names, in its order (e.g. a validation subset held out of
            ``train``); a stem it names that the split lacks is an error.
    """

    name: ClassVar[str] = ''
    #: Display name (tables, figures).
    title: ClassVar[str] = ''
    metainfo: ClassVar[dict] = {}
    #: The splits a benchmark trains and tests on.
    train_split: ClassVar[str] = 'train'
    test_split: ClassVar[str] = 'test'
    #: Where users keep it by default (relative to ``PSFUSION_DATA_ROOT`` or the working folder).
    default_root: ClassVar[str] = ''
    #: Where to get it (shown when the root is missing).
    source_hint: ClassVar[str] = ''
    #: Whether a stem's last letter says when the pair was taken (``D`` day, ``N`` night), as
    #: in MSRS and MFNet (:meth:`condition`).
    names_say_condition: ClassVar[bool] = False

    def __init__(self, root: str, split_file: Optional[str] = None) -> None:
        self.split_file = split_file
        if not root:
            raise DataError(f'{self.title or type(self).__name__}: the dataset root is required.')
        if not os.path.isdir(root):
            hint = f' {self.source_hint}' if self.source_hint else ''
            raise DataError(f'{root}: dataset root not found. Check the path (--data-root, or '
                            f'data_root in the config).{hint}')
        self.root = root

    # -- metadata ------------------------------------------------------------------------
    @classmethod
    def condition(cls, name: str) -> Optional[str]:
        """``'day'`` or ``'night'`` where the dataset's file names say it (``00012N``), else
        None (also for a name without the letter)."""
        if not cls.names_say_condition:
            return None
        return {'D': 'day', 'N': 'night'}.get(str(name)[-1:].upper())

    @property
    def classes(self) -> tuple:
        return self.metainfo['classes']

    @property
    def num_classes(self) -> int:
        return len(self.metainfo['classes'])

    # -- reading -------------------------------------------------------------------------
    def samples(self, split: Optional[str], with_label: Optional[bool] = None) -> list[dict]:
        """The sample records of ``split`` (see :func:`sample_record`).

        ``with_label``: ``True`` requires labels, ``False`` ignores them, ``None`` uses them
        where present.
        """
        raise NotImplementedError

    def restrict(self, records: list[dict]) -> list[dict]:
        """``records`` limited to (and ordered as) the stems of :attr:`split_file`, if any."""
        if not self.split_file:
            return records
        path = os.path.join(self.root, self.split_file)
        stems = read_split_file(path)
        by_name = {record['name']: record for record in records}
        absent = [stem for stem in stems if stem not in by_name]
        if absent:
            raise DataError(f'{path} lists {len(absent)} stem(s) that the split does not have: '
                            f'{describe(absent)}. Fix the split file or add the images.')
        return [by_name[stem] for stem in stems]

    # -- writing a fused copy --------------------------------------------------------------
    def output_dir(self, split: Optional[str], kind: str = 'fused') -> str:
        """Folder, relative to a fused dataset's root, of the fused images (``kind='fused'``)
        or the semantic head's predictions (``'seg_pred'``) of ``split``."""
        return os.path.join(split, kind) if split else kind

    def label_folder(self, split: Optional[str]) -> Optional[str]:
        """The label folder of ``split``, relative to the root (None: no labels)."""
        return None

    def carried_files(self, split: Optional[str], stems: Iterable[str]) -> dict[str, str]:
        """Files a fused copy of ``split`` carries over unchanged, so that it reads as the
        original: ``{path relative to the copy's root: source path}`` (the labels of
        ``stems`` and the root's split lists)."""
        files = {}
        stems = set(stems)
        folder = self.label_folder(split)
        if folder and os.path.isdir(os.path.join(self.root, folder)):
            for name in sorted(os.listdir(os.path.join(self.root, folder))):
                if os.path.splitext(name)[0] in stems:
                    files[os.path.join(folder, name)] = os.path.join(self.root, folder, name)
        for name in sorted(os.listdir(self.root)):
            if name.endswith('.txt') and os.path.isfile(os.path.join(self.root, name)):
                files[name] = os.path.join(self.root, name)
        return files


@register_layout
class MSRSLayout(DatasetLayout):
    """MSRS: ``ROOT/<split>/{ir,vi,Segmentation_labels|Label}``, optional ``ROOT/<split>.txt``.

    Public MSRS names its labels ``Segmentation_labels``; the authors' preprocessed copy
    ``Label``.  A split without its own folder but with ``ROOT/<split>.txt`` (e.g. ``val``
    carved out of ``train/``) reads the stems of that file from the ``train`` folder.

    Args:
        split_file: stem list relative to the root (default ``<split>.txt`` where it exists).
        label_dir: label folder name (default: the first of :data:`LABEL_DIRS` that exists).
    """

    name = 'msrs'
    title = 'MSRS'
    names_say_condition = True
    metainfo = make_metainfo(MSRS_CLASSES, MSRS_PALETTE, MSRS_TITLES, ('car', 'person', 'bike'))
    default_root = 'data/MSRS'
    source_hint = ('MSRS: https://github.com/Linfeng-Tang/MSRS (train/, test/ with ir/, vi/, '
                   'Segmentation_labels/).')
    LABEL_DIRS = ('Segmentation_labels', 'Label', 'labels')

    def __init__(self, root: str, split_file: Optional[str] = None,
                 label_dir: Optional[str] = None) -> None:
        super().__init__(root, split_file)
        self.label_dir = label_dir

    def split_folder(self, split: Optional[str]) -> tuple[str, Optional[str]]:
        """``(folder name, split file or None)`` of ``split``."""
        split = split or self.test_split
        split_file = self.split_file
        if split_file is None and os.path.isfile(os.path.join(self.root, f'{split}.txt')):
            split_file = f'{split}.txt'
        folder = split
        if not os.path.isdir(os.path.join(self.root, split)) and split_file:
            folder = self.train_split  # e.g. val.txt listing part of train/
        return folder, split_file

    def label_folder(self, split: Optional[str]) -> Optional[str]:
        """The first of :data:`LABEL_DIRS` in the split's folder (None: none); a ``label_dir``
        that was given must exist (:class:`DataError` otherwise)."""
        folder, _ = self.split_folder(split)
        if self.label_dir:
            path = os.path.join(self.root, folder, self.label_dir)
            if not os.path.isdir(path):
                raise DataError(f'{path}: label folder not found (label_dir / --label-dir '
                                f'{self.label_dir!r}, a folder name inside ROOT/{folder}). '
                                f'Check the name, or leave it out to use the default '
                                f'({", ".join(self.LABEL_DIRS)}).')
            return os.path.join(folder, self.label_dir)
        return next((os.path.join(folder, n) for n in self.LABEL_DIRS
                     if os.path.isdir(os.path.join(self.root, folder, n))), None)

    def output_dir(self, split: Optional[str], kind: str = 'fused') -> str:
        return os.path.join(self.split_folder(split)[0], kind)

    def samples(self, split: Optional[str], with_label: Optional[bool] = None) -> list[dict]:
        folder, split_file = self.split_folder(split)
        split_dir = os.path.join(self.root, folder)
        if not os.path.isdir(split_dir):
            raise DataError(f'{split_dir}: split folder not found; the {self.title} layout is '
                            f'ROOT/{folder}/ir, ROOT/{folder}/vi.')
        stems = None
        if split_file is not None:
            split_file = os.path.join(self.root, split_file)
            stems = read_split_file(split_file)
        labels = None
        if with_label is not False:
            labels = self.label_folder(split)
            if labels is None and with_label:
                names = (self.label_dir, ) if self.label_dir else self.LABEL_DIRS
                raise DataError(f'{split_dir}: no label folder ({" or ".join(names)}). Labels '
                                f'are required here: download the {self.title} segmentation '
                                f'labels.')
        return match_pairs(os.path.join(split_dir, 'ir'), os.path.join(split_dir, 'vi'),
                           labels and os.path.join(self.root, labels), stems, split_file)


@register_layout
class SyntheticLayout(MSRSLayout):
    """The synthetic road-scene dataset of :mod:`psfusion.data.synthetic` (MSRS layout and
    classes; ``val`` is ``val.txt`` inside ``train/``)."""

    name = 'synthetic'
    title = 'synthetic'
    default_root = 'work_dirs/demo/data'
    source_hint = 'Write it with: python tools/make_synthetic.py --out DIR.'


@register_layout
class MFNetLayout(DatasetLayout):
    """MFNet: ``ROOT/images/<stem>.png`` with 4 channels (R, G, B, thermal), ``ROOT/labels``,
    ``ROOT/{train,val,test}.txt``.  ``split=None`` lists every image."""

    name = 'mfnet'
    title = 'MFNet'
    names_say_condition = True
    metainfo = MSRSLayout.metainfo
    default_root = 'data/MFNet'
    source_hint = ('MFNet: https://www.mi.t.u-tokyo.ac.jp/static/projects/mil_multispectral/ '
                   '(images/, labels/, train.txt, val.txt, test.txt).')
    IR_CHANNELS = (3, )
    VI_CHANNELS = (0, 1, 2)

    def label_folder(self, split: Optional[str]) -> Optional[str]:
        return 'labels'

    def output_dir(self, split: Optional[str], kind: str = 'fused') -> str:
        return kind  # the splits share one image folder, and so do their fused copies

    def samples(self, split: Optional[str], with_label: Optional[bool] = None) -> list[dict]:
        image_dir = os.path.join(self.root, 'images')
        images = list_images(image_dir)
        split_file = None
        if split is None:
            stems = sorted(images)
        else:
            split_file = os.path.join(self.root, f'{split}.txt')
            stems = read_split_file(split_file)
        absent = [stem for stem in stems if stem not in images]
        if absent:
            raise DataError(f'{split_file} lists {len(absent)} stem(s) with no image in '
                            f'{image_dir}: {describe(absent)}.')
        label_dir = os.path.join(self.root, 'labels')
        labels: dict[str, str] = {}
        if with_label is not False and os.path.isdir(label_dir):
            labels = list_images(label_dir)
            unlabelled = [stem for stem in stems if stem not in labels]
            if unlabelled:
                raise DataError(f'{len(unlabelled)} image(s) have no label in {label_dir}: '
                                f'{describe(unlabelled)}.')
        elif with_label:
            raise DataError(f'{label_dir}: label folder not found; labels are required here.')
        return self.restrict([sample_record(stem, images[stem], images[stem], labels.get(stem),
                                            self.IR_CHANNELS, self.VI_CHANNELS)
                              for stem in stems])


@register_layout
class FMBLayout(DatasetLayout):
    """FMB (Liu et al., ICCV 2023): ``ROOT/{train,test}/{Infrared,Visible,Label}/<stem>.png``
    (800x600; 1,220 train / 280 test pairs).  ``color/`` (rendered labels) is not read.

    Classes: 14 plus ``unlabelled`` (id 0), which counts as a class as in SegMiF's own
    evaluation (and as background does on MSRS and MFNet); 255 is ignored.
    """

    name = 'fmb'
    title = 'FMB'
    metainfo = make_metainfo(FMB_CLASSES, FMB_PALETTE, FMB_TITLES,
                             ('person', 'car', 'truck', 'bus', 'motorcycle', 'bicycle'))
    default_root = 'data/FMB'
    source_hint = ('FMB: https://github.com/JinyuanLiu-CV/SegMiF (train/, test/ with Infrared/, '
                   'Visible/, Label/).')
    IR_DIR, VI_DIR, LABEL_DIR = 'Infrared', 'Visible', 'Label'

    def label_folder(self, split: Optional[str]) -> Optional[str]:
        return os.path.join(split or self.test_split, self.LABEL_DIR)

    def samples(self, split: Optional[str], with_label: Optional[bool] = None) -> list[dict]:
        split = split or self.test_split
        split_dir = os.path.join(self.root, split)
        if not os.path.isdir(split_dir):
            raise DataError(f'{split_dir}: split folder not found; the FMB layout is '
                            f'ROOT/{split}/{self.IR_DIR}, ROOT/{split}/{self.VI_DIR}, '
                            f'ROOT/{split}/{self.LABEL_DIR}.')
        label_dir = os.path.join(split_dir, self.LABEL_DIR)
        if with_label and not os.path.isdir(label_dir):
            raise DataError(f'{label_dir}: label folder not found; labels are required here.')
        use_labels = with_label is not False and os.path.isdir(label_dir)
        return self.restrict(match_pairs(os.path.join(split_dir, self.IR_DIR),
                                         os.path.join(split_dir, self.VI_DIR),
                                         label_dir if use_labels else None))


@register_layout
class FolderLayout(DatasetLayout):
    """Any two folders of infrared and visible images matched by file stem (no splits).

    Args:
        ir_dir, vi_dir: the image folders, relative to the root (or absolute).
        label_dir: optional folder of class-id labels (MSRS classes).
        split_file: optional stem list relative to the root.
    """

    name = 'folders'
    title = 'folders'
    metainfo = MSRSLayout.metainfo

    def __init__(self, root: str, ir_dir: str = 'ir', vi_dir: str = 'vi',
                 label_dir: Optional[str] = None, split_file: Optional[str] = None) -> None:
        super().__init__(root, split_file)
        self.ir_dir, self.vi_dir, self.label_dir = ir_dir, vi_dir, label_dir
        if label_dir and not os.path.isdir(os.path.join(root, label_dir)):
            raise DataError(f'{os.path.join(root, label_dir)}: label folder not found '
                            f'(label_dir / --label-dir {label_dir!r}, relative to the dataset '
                            f'root). Check the path, or leave it out to fuse without labels.')

    def label_folder(self, split: Optional[str]) -> Optional[str]:
        return self.label_dir

    def output_dir(self, split: Optional[str], kind: str = 'fused') -> str:
        return kind

    def carried_files(self, split: Optional[str], stems: Iterable[str]) -> dict[str, str]:
        files = super().carried_files(split, stems)
        return {rel: path for rel, path in files.items() if not rel.endswith('.txt')}

    def samples(self, split: Optional[str] = None,
                with_label: Optional[bool] = None) -> list[dict]:
        join = lambda name: os.path.join(self.root, name) if name else None  # noqa: E731
        split_file = join(self.split_file)
        stems = read_split_file(split_file) if split_file else None
        labels = join(self.label_dir) if with_label is not False else None
        if with_label and not labels:
            raise DataError(f'{self.root}: labels are required here; give label_dir.')
        return match_pairs(join(self.ir_dir), join(self.vi_dir), labels, stems, split_file)


def layout_class(name: str) -> type[DatasetLayout]:
    """The layout registered as ``name``; unknown names get the list of valid ones."""
    if name not in LAYOUTS:
        raise DataError(f'unknown dataset layout {name!r}; valid: {", ".join(LAYOUTS)}')
    return LAYOUTS[name]


def build_layout(name: str, root: str, **kwargs) -> DatasetLayout:
    """A layout of the dataset at ``root`` (``kwargs``: the layout's own options)."""
    return layout_class(name)(root, **kwargs)


def dataset_metainfo(name: str, overrides: Optional[dict] = None) -> dict:
    """The metainfo (classes, palette, titles, ignore index, targets) of a registered dataset,
    updated with ``overrides`` (a config's ``metainfo``); a new dict."""
    info = dict(layout_class(name).metainfo)
    info.update(overrides or {})
    return info
