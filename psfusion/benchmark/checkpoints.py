"""Loading the benchmark's own checkpoints under torch >= 2.6.

torch now loads ``weights_only=True`` by default, and mmengine 0.10.7 calls ``torch.load``
without the argument, so resuming a run or loading its final checkpoint fails on the
``HistoryBuffer`` objects mmengine itself stored.  Turning the safety off globally
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) would also unpickle any downloaded file.
:func:`trust_checkpoints_under` allows full unpickling **only** for files inside the given
folders (the run folders this harness wrote), for the duration of a ``with`` block; every
other file keeps torch's default.  Such a file is first checked for completeness
(:func:`psfusion.engine.checkpoint.check_checkpoint_file`): a truncated one is reported as a
:class:`~psfusion.errors.CheckpointError` naming it, not as an unpickling error.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

from ..engine.checkpoint import check_checkpoint_file

#: What to do about a corrupt checkpoint of a run folder.
RUN_CHECKPOINT_ADVICE = ('Delete it (and the run folder\'s last_checkpoint if it names it): the '
                         'run then resumes from its previous checkpoint, or starts again.')


def _inside(path: str, roots: list[str]) -> bool:
    return any(os.path.commonpath([path, root]) == root for root in roots)


@contextlib.contextmanager
def trust_checkpoints_under(*folders: str) -> Iterator[None]:
    """Within the block, ``torch.load`` of a file path under ``folders`` unpickles fully."""
    roots = [os.path.realpath(folder) for folder in folders]
    original = torch.load

    def load(f, *args, **kwargs):
        if (isinstance(f, (str, os.PathLike)) and 'weights_only' not in kwargs
                and _inside(os.path.realpath(f), roots)):
            check_checkpoint_file(os.fspath(f), RUN_CHECKPOINT_ADVICE)
            kwargs['weights_only'] = False
        return original(f, *args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original
