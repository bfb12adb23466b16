"""Paired infrared/visible data: dataset layouts (files, splits, classes), reading, datasets,
paired transforms, derived labels and the synthetic benchmark dataset."""
from .datasets import (FMBDataset, FolderPairDataset, MFNetDataset, MSRSDataset, PairedDataset,
                       SyntheticDataset)
from .io import DataError, read_infrared, read_label, read_visible
from .labels import binary_label, boundary_label, colorize, target_mask
from .layouts import (FMB_CLASSES, LAYOUTS, MSRS_CLASSES, DatasetLayout, build_layout,
                      dataset_metainfo, layout_class, match_pairs)
from .transforms import (DeriveFusionLabels, LoadFusionPair, PackFusionInputs, PadToMultiple,
                         PairedRandomCrop, PairedRandomFlip, PairedRandomRot90, crop_to_shape)

__all__ = [
    'DataError', 'read_infrared', 'read_visible', 'read_label', 'binary_label',
    'boundary_label', 'target_mask', 'colorize', 'PairedDataset', 'MSRSDataset',
    'SyntheticDataset', 'MFNetDataset', 'FMBDataset', 'FolderPairDataset', 'match_pairs',
    'DatasetLayout', 'LAYOUTS', 'build_layout', 'layout_class', 'dataset_metainfo',
    'MSRS_CLASSES', 'FMB_CLASSES', 'LoadFusionPair', 'DeriveFusionLabels', 'PairedRandomCrop',
    'PairedRandomFlip', 'PairedRandomRot90', 'PadToMultiple', 'PackFusionInputs',
    'crop_to_shape'
]
