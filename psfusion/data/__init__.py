"""Paired infrared/visible data: reading, datasets, paired transforms, derived labels and the
synthetic benchmark dataset."""
from .datasets import FolderPairDataset, MFNetDataset, MSRSDataset, PairedDataset, match_pairs
from .io import DataError, read_infrared, read_label, read_mfnet, read_visible
from .labels import CLASSES, PALETTE, binary_label, boundary_label, colorize, target_mask
from .transforms import (DeriveFusionLabels, LoadFusionPair, PackFusionInputs, PadToMultiple,
                         PairedRandomCrop, PairedRandomFlip, PairedRandomRot90, crop_to_shape)

__all__ = [
    'DataError', 'read_infrared', 'read_visible', 'read_mfnet', 'read_label', 'CLASSES',
    'PALETTE', 'binary_label', 'boundary_label', 'target_mask', 'colorize', 'PairedDataset',
    'MSRSDataset', 'MFNetDataset', 'FolderPairDataset', 'match_pairs', 'LoadFusionPair',
    'DeriveFusionLabels', 'PairedRandomCrop', 'PairedRandomFlip', 'PairedRandomRot90',
    'PadToMultiple', 'PackFusionInputs', 'crop_to_shape'
]
