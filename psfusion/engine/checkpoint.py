"""Checkpoints that load with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` unpickles only tensors and plain containers by default, and
mmengine 0.10.7 calls it without ``weights_only``; its checkpoints hold ``HistoryBuffer``
objects and numpy arrays (the message hub's logs), so ``resume`` fails with "Unsupported
global: HistoryBuffer".  Turning the safety off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, or
allow-listing ``getattr`` and friends) would let any checkpoint run code.

Instead, :class:`WeightsOnlyCheckpointHook` writes checkpoints whose non-tensor objects are
encoded as tensors and plain containers (:func:`to_weights_only`) and decodes them when a
checkpoint is loaded (:func:`from_weights_only`).  Every load (ours, a resume, a foreign
checkpoint) then stays weights-only; :func:`load_checkpoint_weights_only` is the explicit
loader for tools.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

from ..registry import HOOKS

_HISTORY = '__psfusion_history_buffer__'
_NDARRAY = '__psfusion_ndarray__'


def to_weights_only(obj: Any) -> Any:
    """Encode ``HistoryBuffer`` objects, numpy arrays and numpy scalars as tensors / Python
    scalars inside plain containers (recursively), so that ``torch.load(weights_only=True)``
    can read the result."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_HISTORY: True, 'log': torch.from_numpy(np.asarray(log, np.float64)),
                'count': torch.from_numpy(np.asarray(count, np.float64)),
                'max_length': int(obj.max_length)}
    if isinstance(obj, np.ndarray):
        return {_NDARRAY: True, 'data': torch.from_numpy(np.ascontiguousarray(obj)),
                'dtype': str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, to_weights_only(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: to_weights_only(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(to_weights_only(v) for v in obj)
    return obj


def from_weights_only(obj: Any) -> Any:
    """Inverse of :func:`to_weights_only`."""
    if isinstance(obj, dict):
        if obj.get(_HISTORY) is True:
            return HistoryBuffer(obj['log'].numpy().tolist(), obj['count'].numpy().tolist(),
                                 obj['max_length'])
        if obj.get(_NDARRAY) is True:
            return obj['data'].numpy().astype(obj['dtype'])
        items = ((k, from_weights_only(v)) for k, v in obj.items())
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(from_weights_only(v) for v in obj)
    return obj


def load_checkpoint_weights_only(path: str, map_location: Any = 'cpu') -> dict:
    """``torch.load(path, weights_only=True)`` with a message that says what to do on failure.

    Checkpoints written with :class:`WeightsOnlyCheckpointHook` (all of this project's training
    configs) and plain state dicts load; anything that needs arbitrary unpickling is refused.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: checkpoint not found.')
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise RuntimeError(
            f'{path}: cannot be loaded weights-only ({type(exc).__name__}: {exc}). This '
            f'project loads checkpoints only weights-only, since unpickling can run code. If '
            f'you trust the file, extract its weights once in a separate Python session: '
            f'torch.save(torch.load(PATH, weights_only=False)["state_dict"], NEW_PATH), and use '
            f'NEW_PATH.') from exc
    return from_weights_only(checkpoint)


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Make the Runner's checkpoints loadable with ``weights_only=True`` (see module doc).

    Runs last before a save (after every other hook added its entries) and first after a
    load (before the Runner restores the message hub from the checkpoint).
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        encoded = to_weights_only(checkpoint)
        checkpoint.clear()
        checkpoint.update(encoded)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        decoded = from_weights_only(checkpoint)
        checkpoint.clear()
        checkpoint.update(decoded)
