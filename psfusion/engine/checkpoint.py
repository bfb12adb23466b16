"""Checkpoints: weights-only loading, one checked loader, crash-safe writing, resumption.

Since torch 2.6, ``torch.load`` unpickles only tensors and plain containers by default, and
mmengine 0.10.7 calls it without ``weights_only``; its checkpoints hold ``HistoryBuffer``
objects and numpy arrays (the message hub's logs), so ``resume`` fails with "Unsupported
global: HistoryBuffer".  Turning the safety off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, or
allow-listing ``getattr`` and friends) would let any checkpoint run code.

Instead, :class:`WeightsOnlyCheckpointHook` writes checkpoints whose non-tensor objects are
encoded as tensors and plain containers (:func:`to_weights_only`) and decodes them when a
checkpoint is loaded (:func:`from_weights_only`).  Every load (ours, a resume, a foreign
checkpoint) then stays weights-only.

:func:`load_checkpoint_checked` is the one loader for checkpoints and pretrained weights
(:func:`load_checkpoint_weights_only` adds the decoding): every failure is a
:class:`~psfusion.errors.CheckpointError` naming the file.  A truncated, empty or garbled file
is "corrupt or incomplete" (:func:`check_checkpoint_file` recognises it without loading: a
``torch.save`` file is a zip archive whose directory is at its end); only a well-formed file
holding other Python objects gets the weights-only explanation.

:class:`AtomicCheckpointHook` (mmengine's ``CheckpointHook``, switched on by
:func:`use_atomic_checkpoints`) writes every checkpoint to a temporary name beside the target
and renames it, updates ``last_checkpoint`` only afterwards, deletes old checkpoints only after
the new one is complete, and removes temporary files of killed writes.
:func:`find_resume_checkpoint` picks the checkpoint to resume from, skipping partial files.
"""
from __future__ import annotations

import contextlib
import glob
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict, deque
from typing import Any, Optional

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import HistoryBuffer

from ..errors import CheckpointError
from ..fileio import atomic_write, write_text
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


#: Start of a legacy (pre-zip) torch file: pickle protocol 2, then the pickled magic number.
_LEGACY_MAGIC = b'\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19'
#: Parts of torch's message that mark a genuine weights-only refusal (a well-formed file that
#: holds classes or functions other than tensors and plain containers).
_REFUSAL_MARKERS = ('Unsupported global', 'Unsupported class')


#: What to do about a corrupt checkpoint (the default of the ``advice`` arguments below).
CORRUPT_ADVICE = ('Delete it and use a complete copy (training: --resume continues from the '
                  'last complete checkpoint of the work dir).')


def _corrupt(path: str, reason: str, advice: str) -> CheckpointError:
    return CheckpointError(
        f'corrupt or incomplete checkpoint {path} ({reason}): the file was probably cut short '
        f'by a killed or failed write, copy or download. {advice}')


def check_checkpoint_file(path: str, advice: str = CORRUPT_ADVICE) -> None:
    """Cheap structural check of a torch checkpoint file, without loading it.

    A checkpoint written by ``torch.save`` is a zip archive whose directory sits at its end, so
    a truncated one is recognised by its missing directory; a legacy (pre-zip) file starts with
    torch's magic number.

    Raises:
        CheckpointError: ``path`` is missing, empty, truncated or not a torch checkpoint.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint {path} not found')
    if os.path.getsize(path) == 0:
        raise _corrupt(path, 'empty file', advice)
    if zipfile.is_zipfile(path):
        return
    with open(path, 'rb') as handle:
        head = handle.read(len(_LEGACY_MAGIC))
    if head != _LEGACY_MAGIC:
        raise _corrupt(path, 'not a complete zip archive, nor a legacy torch file', advice)


def load_checkpoint_checked(path: str, map_location: Any = 'cpu',
                            advice: str = CORRUPT_ADVICE) -> Any:
    """``torch.load(path, weights_only=True)`` whose every failure is a :class:`CheckpointError`
    naming the file and what to do: the one loader for checkpoints and pretrained weights.

    A truncated, empty or garbled file is reported as "corrupt or incomplete checkpoint PATH";
    only a well-formed file that holds Python objects besides tensors and plain containers gets
    the weights-only explanation (this project never unpickles those: it could run code).
    """
    check_checkpoint_file(path, advice)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - classified below; the cause stays chained
        text = str(exc)
        if isinstance(exc, pickle.UnpicklingError) and any(m in text for m in _REFUSAL_MARKERS):
            found = re.search(r'GLOBAL (\S+)', text)
            what = found.group(1) if found else 'a Python class'
            raise CheckpointError(
                f'checkpoint {path} holds Python objects besides tensors and plain containers '
                f'({what}); this project loads checkpoints weights-only, since unpickling '
                f'arbitrary objects can run code. Use a checkpoint written by this project\'s '
                f'training (its checkpoints hold only tensors and plain containers), or a plain '
                f'state dict of tensors.') from exc
        first_line = text.strip().splitlines()[0][:160] if text.strip() else 'no detail'
        raise _corrupt(path, f'{type(exc).__name__}: {first_line}', advice) from exc


def load_checkpoint_weights_only(path: str, map_location: Any = 'cpu') -> dict:
    """Load a checkpoint weights-only (:func:`load_checkpoint_checked`) and decode what
    :class:`WeightsOnlyCheckpointHook` encoded.

    Checkpoints written with :class:`WeightsOnlyCheckpointHook` (all of this project's training
    configs) and plain state dicts load; anything that needs arbitrary unpickling is refused.

    Raises:
        CheckpointError: a missing, corrupt or incomplete file, or one refused weights-only.
    """
    return from_weights_only(load_checkpoint_checked(path, map_location))


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


# --------------------------------------------------------------------------- atomic writing
#: Name of mmengine's file backend that writes each file atomically (see AtomicLocalBackend).
ATOMIC_BACKEND = 'psfusion_atomic_local'
#: Temporary files of an unfinished checkpoint write (``psfusion.fileio.atomic_write`` names
#: them ``.<target name>.<random>.tmp`` beside the target).
TEMP_PATTERN = '.*.pth.*.tmp'


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, but every ``put`` writes a temporary file beside the
    target, flushes it to disk and renames it over the target: after ``kill -9`` a checkpoint
    is either complete or absent (a ``.NAME.*.tmp`` file is left, removed by the next run)."""

    def put(self, obj: bytes, filepath) -> None:
        def write(tmp: str) -> None:
            with open(tmp, 'wb') as out:
                out.write(obj)
                out.flush()
                os.fsync(out.fileno())

        atomic_write(str(filepath), write)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def remove_stale_temporaries(folder: str) -> list:
    """Delete the temporary files of checkpoint writes killed in ``folder``; returns them."""
    stale = sorted(glob.glob(osp.join(glob.escape(folder), TEMP_PATTERN)))
    for path in stale:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return stale


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe files.

    * each checkpoint (periodic, best, last) is written to a temporary name beside its target
      and renamed (:class:`AtomicLocalBackend`, used unless the config gives a backend);
    * ``last_checkpoint`` is rewritten atomically, and only after the checkpoint it names is
      complete;
    * checkpoints beyond ``max_keep_ckpts`` are deleted only *after* the new one is complete
      (mmengine deletes first, so a kill during the write left no checkpoint to resume from);
    * temporary files of a write killed in an earlier run are removed before training.

    Same arguments as ``CheckpointHook``.  :func:`use_atomic_checkpoints` switches a config's
    ``default_hooks.checkpoint`` to it.
    """

    def __init__(self, *args, **kwargs) -> None:
        if kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None:
            kwargs['backend_args'] = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend, LocalBackend):
            for path in remove_stale_temporaries(self.out_dir):
                runner.logger.warning(f'removed {path}: an unfinished checkpoint write of an '
                                      f'earlier, interrupted run')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        name = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, name)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        dropped: list = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            ids = list(self.keep_ckpt_ids) + [step]  # (the deque has a maxlen: no append)
            dropped = ids[:-self.max_keep_ckpts]
            self.keep_ckpt_ids = deque(ids[-self.max_keep_ckpts:], maxlen=self.max_keep_ckpts)
            # recorded in the checkpoint itself, so a resumed run knows what to delete later
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        runner.save_checkpoint(
            self.out_dir, name, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in dropped:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)


def use_atomic_checkpoints(cfg) -> None:
    """Switch ``cfg['default_hooks']['checkpoint']`` (a Config or plain dict) from mmengine's
    ``CheckpointHook`` to :class:`AtomicCheckpointHook` (scope-prefixed, so that it is found
    under any default scope, e.g. an mmseg Runner's)."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook and hook.get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
        hook['type'] = 'psfusion.AtomicCheckpointHook'


# --------------------------------------------------------------------------- resuming
def _step_of(path: str) -> Optional[int]:
    found = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', osp.basename(path))
    return int(found.group(1)) if found else None


def _complete(path: str) -> bool:
    try:
        check_checkpoint_file(path)
    except CheckpointError:
        return False
    return True


def find_resume_checkpoint(work_dir: str, log=None) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir``: the one ``last_checkpoint`` names when it
    is complete, else the complete ``iter_N.pth`` / ``epoch_N.pth`` with the largest ``N``
    (a partial file of a killed write is skipped, with a message to ``log``); None when there
    is none."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as handle:
            named = handle.read().strip() or None
        if named and not osp.isabs(named) and not osp.exists(named):
            named = osp.join(work_dir, osp.basename(named))
        if named and _complete(named):
            return named
    candidates = [p for p in glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
                  if _step_of(p) is not None]
    for path in sorted(candidates, key=_step_of, reverse=True):
        if _complete(path):
            if log is not None and named:
                log(f'{pointer} names {named}, which is missing or incomplete: resuming from '
                    f'{path}, the latest complete checkpoint')
            return path
        if log is not None:
            log(f'skipping {path}: incomplete (a write was interrupted)')
    return None
