"""Atomic file writing: a reader (or a rerun after ``kill -9``) sees the old file or the new one,
never half of one.

Every writer goes through :func:`atomic_write`: the content is written to a temporary file with
a unique name (``tempfile.mkstemp``) in the target's folder, flushed, and moved over the target
with ``os.replace`` (atomic on one file system).  Two processes writing the same target never
share a temporary file; on any error the temporary file is removed and the target is untouched.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any, Callable

import numpy as np

__all__ = ['atomic_write', 'write_text', 'write_json', 'save_png', 'copy_file']


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` to produce the content, then move it to ``path``.

    ``tmp_path`` is a fresh, empty file beside ``path`` (its name carries no image suffix:
    writers that infer a format from the name must give it explicitly).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{os.path.basename(path)}.',
                                   suffix='.tmp')
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) atomically, flushed to disk before the rename."""

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8', newline='') as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())

    atomic_write(path, write)


def write_json(path: str, data: Any, indent: int = 2, sort_keys: bool = False) -> None:
    """Write ``data`` as JSON atomically."""
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys, default=str) + '\n')


def save_png(array: np.ndarray, path: str) -> None:
    """Write a uint8 image (``H x W`` or ``H x W x C``) atomically as PNG."""
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format='PNG'))


def copy_file(source: str, path: str) -> None:
    """Copy ``source`` to ``path`` atomically."""
    import shutil

    atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))
