"""Segmentation datasets for mmseg whose input **source** is chosen per run.

Each dataset asks its :class:`~psfusion.data.layouts.DatasetLayout` for the labelled samples of
one split (same files, same checks, same error messages as fusion training) and for its classes
(``metainfo``: names, palette, ignore index; mmseg hands them to the metric as
``dataset_meta``), then picks the image the segmenter sees: ``source='ir'``, ``'vi'`` or
``'fused'`` (with ``fused_root``, resolved by
:func:`~psfusion.benchmark.sources.resolve_fused_images`), or ``'rgbt'``: both modalities, for
feature-level segmenters (items with the visible ``img_path``/``img_channels`` and the infrared
``ir_path``/``ir_channels``, read as one R, G, B, T image by
:class:`~psfusion.benchmark.transforms.LoadSourceImage`; the dataset's pipeline gets
:func:`~psfusion.benchmark.transforms.rgbt_pipeline`, i.e. the photometric distortion of the
visible channels only).  Labels always come from the original dataset.  Background counts
(``reduce_zero_label=False``) and 255 is ignored.

A new dataset is a layout in :mod:`psfusion.data.layouts` and a three-line subclass here.
Registered in the ``psfusion`` scope; under mmseg's default scope::

    dataset=dict(type='psfusion.MSRSSegDataset', data_root='data/MSRS', split='train',
                 source='fused', fused_root='work_dirs/fused/msrs', pipeline=[...])

**Validation hold-out.**  MSRS and FMB ship only ``train`` and ``test``; model selection must
never look at ``test``.  ``holdout=dict(fraction=0.1, seed=0, part='train'|'val')`` splits the
split's labelled pairs in two, computed from the sorted stems alone (:func:`held_out_stems`; no
file needs to exist): ``part='val'`` is a seeded ``fraction`` of them, ``part='train'`` the rest.
The same fraction and seed give the same stems as the fusion network's hold-out
(:func:`psfusion.engine.write_validation_split`, ``val_split`` in ``psfusion/configs``).  The
leaf configs of ``mmseg_configs/`` train on ``part='train'`` and validate on ``part='val'``, so
mmseg's own ``tools/train.py`` never validates on test nor on training images; the benchmark
switches validation off and trains on the whole split (:func:`disable_validation`).
"""
from __future__ import annotations

import random
from typing import ClassVar, Optional, Sequence

from mmseg.datasets import BaseSegDataset

from ..data.io import DataError
from ..data.layouts import DatasetLayout, build_layout, dataset_metainfo, layout_class
from ..errors import ConfigError
from ..registry import DATASETS
from .sources import DATASET_SOURCES, RGBT_SOURCE, resolve_fused_images
from .transforms import rgbt_pipeline

SOURCE_KINDS = tuple(DATASET_SOURCES) + ('fused', )
#: The two parts of a held-out split (``holdout['part']``).
HOLDOUT_PARTS = ('train', 'val')
_HOLDOUT_KEYS = ('fraction', 'seed', 'part')


def held_out_stems(stems: Sequence[str], fraction: float,
                   seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train part, validation part)`` of ``stems``, each sorted: a seeded random ``fraction``
    (at least one) for validation, the rest for training.

    Depends only on the set of stems, ``fraction`` and ``seed``, and draws exactly what
    :func:`psfusion.engine.write_validation_split` writes for the same arguments.
    """
    if not 0 < fraction < 1:
        raise ConfigError(f'holdout fraction must be in (0, 1), got {fraction!r}')
    shuffled = sorted(set(stems))
    random.Random(seed).shuffle(shuffled)
    n_val = max(1, round(len(shuffled) * fraction))
    if n_val >= len(shuffled):
        raise DataError(f'{len(shuffled)} labelled pair(s) are too few to hold out '
                        f'{fraction:.0%} for validation; use a dataset with more training pairs '
                        f'or a split with its own validation list.')
    return sorted(shuffled[n_val:]), sorted(shuffled[:n_val])


def check_holdout(holdout: Optional[dict], owner: str = 'dataset') -> Optional[dict]:
    """``holdout`` with its defaults (``seed=0``) after checking its keys and values; None
    stays None."""
    if holdout is None:
        return None
    unknown = sorted(set(holdout) - set(_HOLDOUT_KEYS))
    if unknown or 'fraction' not in holdout or 'part' not in holdout:
        raise ConfigError(f'{owner}: holdout takes fraction, seed and part (e.g. '
                          f"dict(fraction=0.1, seed=0, part='val')), got {dict(holdout)!r}")
    if holdout['part'] not in HOLDOUT_PARTS:
        raise ConfigError(f"{owner}: holdout part must be 'train' or 'val', got "
                          f'{holdout["part"]!r}')
    return dict(fraction=float(holdout['fraction']), seed=int(holdout.get('seed', 0)),
                part=holdout['part'])


def disable_validation(cfg) -> None:
    """The benchmark's training: no validation loop, and the whole training split (the paper
    trains the segmenters on all of it).  Sets ``val_dataloader``, ``val_cfg`` and
    ``val_evaluator`` to None and drops the training dataset's ``holdout``."""
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_dataloader.dataset.pop('holdout', None)


class SourceSegDataset(BaseSegDataset):
    """Base class: a labelled split of the :attr:`LAYOUT` dataset read through one source.

    Args:
        data_root: the original dataset root (images and labels).
        split: ``train``, ``val`` or ``test``.
        source: ``ir``, ``vi``, ``fused`` or ``rgbt`` (both modalities; the pipeline's
            ``PhotoMetricDistortion`` then distorts the visible channels only).
        fused_root: folder of fused images (``source='fused'`` only).
        layout_args: options of the layout (e.g. ``split_file`` for MSRS).
        holdout: ``dict(fraction, seed=0, part)``: only the ``'train'`` or the ``'val'`` part
            of the split (see the module docstring); None: the whole split.
        **kwargs: passed to mmseg's ``BaseSegDataset`` (``pipeline``, ``test_mode``, ...).
    """

    LAYOUT: ClassVar[str] = ''

    def __init__(self, data_root: str = '', split: str = 'train', source: str = 'vi',
                 fused_root: Optional[str] = None, layout_args: Optional[dict] = None,
                 holdout: Optional[dict] = None, **kwargs) -> None:
        if source not in SOURCE_KINDS:
            raise ValueError(f'{type(self).__name__}: unknown source {source!r}; expected one '
                             f'of {", ".join(SOURCE_KINDS)}')
        if source == 'fused' and not fused_root:
            raise ValueError(f"{type(self).__name__}: source='fused' needs fused_root (the "
                             f'folder of fused images)')
        self.layout: DatasetLayout = build_layout(self.LAYOUT, data_root, **(layout_args or {}))
        self.split = split
        self.source = source
        self.fused_root = fused_root
        self.holdout = check_holdout(holdout, type(self).__name__)
        kwargs.setdefault('reduce_zero_label', False)
        kwargs.setdefault('ignore_index', self.layout.metainfo['ignore_index'])
        if kwargs['reduce_zero_label']:
            raise ValueError('the benchmark counts background as a class: reduce_zero_label '
                             'must be False')
        if source == RGBT_SOURCE:
            kwargs['pipeline'] = rgbt_pipeline(kwargs.get('pipeline') or [])
        super().__init__(data_root=data_root, **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        return dataset_metainfo(cls.LAYOUT, metainfo)

    def list_samples(self) -> list[dict]:
        """The labelled sample records of the split (see
        :func:`psfusion.data.layouts.sample_record`), limited to the :attr:`holdout` part."""
        samples = self.layout.samples(self.split, with_label=True)
        if self.holdout is None:
            return samples
        parts = dict(zip(HOLDOUT_PARTS, held_out_stems(
            [sample['name'] for sample in samples], self.holdout['fraction'],
            self.holdout['seed'])))
        keep = set(parts[self.holdout['part']])
        return [sample for sample in samples if sample['name'] in keep]

    def load_data_list(self) -> list[dict]:
        samples = self.list_samples()
        stems = [sample['name'] for sample in samples]
        fused = (resolve_fused_images(self.fused_root, self.split, stems,
                                      self.layout.output_dir(self.split))
                 if self.source == 'fused' else {})
        num_classes = len(self.metainfo['classes'])
        data_list = []
        for sample in samples:
            extra = {}
            if self.source == 'fused':
                path, channels = fused[sample['name']], None
            elif self.source == RGBT_SOURCE:  # the visible image, and the infrared beside it
                path, channels = sample['vi_path'], sample['vi_channels']
                extra = dict(ir_path=sample['ir_path'], ir_channels=sample['ir_channels'])
            else:
                path = sample[f'{self.source}_path']
                channels = sample[f'{self.source}_channels']
            data_list.append(
                dict(img_path=path, img_modality=self.source, img_channels=channels, **extra,
                     seg_map_path=sample['seg_map_path'], name=sample['name'],
                     num_classes=num_classes, label_map=self.label_map,
                     reduce_zero_label=False, seg_fields=[]))
        return data_list


@DATASETS.register_module()
class MSRSSegDataset(SourceSegDataset):
    """MSRS (``ROOT/<split>/{ir,vi,Segmentation_labels|Label}``, optional ``ROOT/<split>.txt``;
    ``val`` reads ``val.txt`` from ``train/`` when there is no ``val/`` folder).  Pass
    ``layout_args=dict(split_file=...)`` for another stem list."""

    LAYOUT = 'msrs'


@DATASETS.register_module()
class SyntheticSegDataset(SourceSegDataset):
    """The synthetic road-scene dataset of :mod:`psfusion.data.synthetic` (MSRS layout)."""

    LAYOUT = 'synthetic'


@DATASETS.register_module()
class MFNetSegDataset(SourceSegDataset):
    """MFNet: ``ROOT/images/<stem>.png`` (R, G, B, thermal), ``ROOT/labels``,
    ``ROOT/{train,val,test}.txt``.  ``ir`` reads the thermal channel, ``vi`` the RGB ones,
    ``rgbt`` all four."""

    LAYOUT = 'mfnet'


@DATASETS.register_module()
class FMBSegDataset(SourceSegDataset):
    """FMB: ``ROOT/{train,test}/{Infrared,Visible,Label}``; 14 classes + unlabelled."""

    LAYOUT = 'fmb'


def split_samples(dataset: str, data_root: str, split: str = 'test') -> list[dict]:
    """The labelled sample records of a split of a registered dataset (``name``, ``ir_path``,
    ``ir_channels``, ``vi_path``, ``vi_channels``, ``seg_map_path``)."""
    return build_layout(dataset, data_root).samples(split, with_label=True)


def dataset_classes(dataset: str) -> tuple:
    """The class names of a registered dataset, in id order."""
    return layout_class(dataset).metainfo['classes']
