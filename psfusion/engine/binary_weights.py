"""The binary head's class weights from the whole training split (``binary_weights='dataset'``).

The official code fixes them to ``(1.4548, 19.8962)``: ENet weights ``1 / ln(1.02 + p)`` of the
MSRS training set's foreground share (3.155 %), computed once.  Recomputing them per batch
(``'batch'``) makes them swing with each crop (the fg/bg ratio from about 6 to 24 at 256x256).
:class:`BinaryClassWeightHook` counts the foreground share of the training split's labels once,
before the first iteration (also when resuming: it is a pure function of the labels), and hands
it to the loss; ``tools/train_fusion.py`` adds the hook whenever the loss asks for it
(:func:`use_dataset_binary_weights`).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..data.io import IGNORE_INDEX, read_label
from ..registry import HOOKS


def foreground_share(label_paths: Iterable[str], num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> float:
    """Share of labelled pixels whose class is not background (0) over all ``label_paths``;
    pixels equal to ``ignore_index`` are not counted."""
    foreground = labelled = 0
    for path in label_paths:
        label = read_label(path, num_classes, ignore_index)
        valid = label != ignore_index
        labelled += int(valid.sum())
        foreground += int((valid & (label != 0)).sum())
    if labelled == 0:
        raise ValueError('the training labels hold no labelled pixel: cannot weight the binary '
                         'head; check the label folder.')
    return foreground / labelled


def _loss_of(model):
    model = getattr(model, 'module', model)
    return getattr(model, 'loss_module', None)


@HOOKS.register_module()
class BinaryClassWeightHook(Hook):
    """Before training: the training split's foreground share -> the loss's binary weights."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        loss = _loss_of(runner.model)
        if loss is None or not getattr(loss, 'needs_foreground_share', False):
            return
        dataset = runner.train_dataloader.dataset
        items = dataset.items() if hasattr(dataset, 'items') else []
        paths = [item['seg_map_path'] for item in items if item.get('seg_map_path')]
        if not paths or len(paths) != len(items):
            raise ValueError(
                "binary_weights='dataset' needs a label for every training pair; "
                f'{len(items) - len(paths)} of {len(items)} have none. Train on a labelled '
                "split, or set model.loss.binary_weights='batch' or 'reference'.")
        num_classes = int(items[0].get('num_classes') or 9)
        share = foreground_share(paths, num_classes, loss.ignore_index)
        loss.set_foreground_share(share)
        weights = ', '.join(f'{w:.4f}' for w in loss.binary_weight())
        print_log(f'binary head weights (background, foreground) = ({weights}): ENet weights of '
                  f'the training split\'s foreground share {share:.4%} ({len(paths)} labels)',
                  logger='current')


def use_dataset_binary_weights(cfg: Config) -> None:
    """Add :class:`BinaryClassWeightHook` to ``cfg.custom_hooks`` when the model's loss asks for
    the training split's binary weights (the default ``binary_weights='dataset'``, no fixed
    ``binary_class_weight``, semantic heads on)."""
    model = cfg.get('model') or {}
    loss = model.get('loss') or {}
    if not model.get('with_s2p2', True) or loss.get('binary_class_weight') is not None:
        return
    if loss.get('binary_weights', 'dataset') != 'dataset':
        return
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') in ('BinaryClassWeightHook', BinaryClassWeightHook) for h in hooks):
        hooks.append(dict(type='BinaryClassWeightHook'))
    cfg.custom_hooks = hooks
