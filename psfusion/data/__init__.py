"""Paired infrared/visible data: dataset layouts (files, splits, classes), reading, datasets,
paired transforms, derived labels and the synthetic benchmark dataset.

The datasets and transforms (mmengine, torch: seconds of start-up) are imported on first use,
so that the readers (:mod:`.io`) serve tools that need neither (``tools/eval_fusion.py``);
the ``psfusion`` dataset and transform registries import those modules themselves
(``psfusion/registry.py``).
"""
from importlib import import_module

from .io import DataError, read_infrared, read_label, read_visible
from .labels import binary_label, boundary_label, colorize, target_mask
from .layouts import (FMB_CLASSES, LAYOUTS, MSRS_CLASSES, DatasetLayout, build_layout,
                      dataset_metainfo, layout_class, match_pairs)

_LAZY = {
    **dict.fromkeys(('FMBDataset', 'FolderPairDataset', 'MFNetDataset', 'MSRSDataset',
                     'PairedDataset', 'SyntheticDataset'), 'datasets'),
    **dict.fromkeys(('DeriveFusionLabels', 'LoadFusionPair', 'PackFusionInputs', 'PadToMultiple',
                     'PairedRandomCrop', 'PairedRandomFlip', 'PairedRandomRot90',
                     'crop_to_shape'), 'transforms'),
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f'.{_LAZY[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

__all__ = [
    'DataError', 'read_infrared', 'read_visible', 'read_label', 'binary_label',
    'boundary_label', 'target_mask', 'colorize', 'PairedDataset', 'MSRSDataset',
    'SyntheticDataset', 'MFNetDataset', 'FMBDataset', 'FolderPairDataset', 'match_pairs',
    'DatasetLayout', 'LAYOUTS', 'build_layout', 'layout_class', 'dataset_metainfo',
    'MSRS_CLASSES', 'FMB_CLASSES', 'LoadFusionPair', 'DeriveFusionLabels', 'PairedRandomCrop',
    'PairedRandomFlip', 'PairedRandomRot90', 'PadToMultiple', 'PackFusionInputs',
    'crop_to_shape'
]
