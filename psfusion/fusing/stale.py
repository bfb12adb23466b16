"""Temporary files left in an output folder by a fusing run that was killed.

Every file is written through :func:`psfusion.fileio.atomic_write`: a hidden temporary file
``.<name>.<8 random characters>.tmp`` beside the target, renamed over it when complete.  A run
killed with ``kill -9`` leaves its temporary file behind.  Each run holds a shared lock on
``OUT/.fuse.lock`` (:class:`RunLock`) while it writes; a run that starts and gets the lock
exclusively knows that no other run is writing into the folder and removes every such file; if
another run is live, it removes only those older than :data:`STALE_SECONDS` (no live write
takes that long).
"""
from __future__ import annotations

import os
import re
import time
from typing import Optional

try:
    import fcntl
except ImportError:  # not POSIX: no locking; only old files are removed
    fcntl = None

__all__ = ['RUN_LOCK', 'STALE_SECONDS', 'RunLock', 'is_temporary', 'remove_stale_temporaries']

#: The lock file every run into a folder holds (shared) while it writes there.
RUN_LOCK = '.fuse.lock'
#: A temporary file older than this is stale even while another run is live.
STALE_SECONDS = 3600
#: ``tempfile.mkstemp(prefix='.<name>.', suffix='.tmp')`` names (8 characters of
#: ``[a-z0-9_]``), as written by ``psfusion.fileio.atomic_write``.
_TEMPORARY = re.compile(r'^\..+\.[a-z0-9_]{8}\.tmp$')


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :func:`psfusion.fileio.atomic_write`'s temporary files."""
    return bool(_TEMPORARY.match(name))


def remove_stale_temporaries(out: str, older_than: Optional[float] = None) -> list[str]:
    """Remove the temporary files under ``out`` (those older than ``older_than`` seconds
    only, when given); returns their paths."""
    removed = []
    now = time.time()
    for folder, _, names in os.walk(out):
        for name in names:
            path = os.path.join(folder, name)
            if not is_temporary(name) or not os.path.isfile(path) or os.path.islink(path):
                continue
            try:
                if older_than is not None and now - os.path.getmtime(path) < older_than:
                    continue
                os.unlink(path)
            except OSError:  # gone meanwhile (renamed by its writer), or not ours to remove
                continue
            removed.append(path)
    return removed


class RunLock:
    """Held (shared) by a fusing run on ``OUT/.fuse.lock`` from :meth:`acquire` to
    :meth:`release`.  :meth:`acquire` first removes the stale temporary files (see the module
    docstring) and returns their paths."""

    def __init__(self, out: str) -> None:
        self.path = os.path.join(out, RUN_LOCK)
        self.handle = None

    def acquire(self) -> list[str]:
        self.handle = open(self.path, 'a', encoding='utf-8')  # noqa: SIM115 (held open)
        alone = False
        if fcntl is not None:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except OSError:  # another run holds it: it may be writing right now
                pass
        removed = remove_stale_temporaries(os.path.dirname(self.path),
                                           None if alone else STALE_SECONDS)
        if fcntl is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_SH)
        return removed

    def release(self) -> None:
        if self.handle is not None:
            if fcntl is not None:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self) -> 'RunLock':
        return self

    def __exit__(self, *exc) -> None:
        self.release()
