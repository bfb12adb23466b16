"""Overlapped input and output of the fused-dataset writer: reading ahead and writing behind.

On a GPU the network fuses a 480 x 640 pair in a few milliseconds, while decoding its two
PNGs and encoding the fused one take tens of milliseconds of CPU time: done one after the
other in the writer's loop, file I/O would set the pace.  With ``workers > 0`` this module
moves both off the loop into threads (Pillow's PNG decoder and encoder and hashlib release
the GIL, so threads run them in parallel without copying images between processes):

* :func:`read_ahead` loads the next pairs (:class:`~psfusion.data.transforms.LoadFusionPair`)
  while the network runs, in their listed order, with a bounded number of pairs in flight;
* :class:`PngWriter` encodes and writes the finished batches' PNGs while the next batch is
  fused, at most ``2 x workers`` images pending, and hands back each written file's SHA-256
  for the manifest only once the file is complete.

Every file is still written by :func:`psfusion.fileio.save_png` (temporary name, then rename),
so the bytes are those of the serial path and no reader or rerun sees half a file; the
manifest lists a file only after its write has finished.  ``workers=0`` runs everything in the
calling thread, in order (the serial path).
"""
from __future__ import annotations

import collections
import itertools
import os.path as osp
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from ..fileio import save_png
from .manifest import sha256_file

__all__ = ['read_ahead', 'PngWriter', 'Written']

#: One written file: ``(rel, sha256, extra manifest fields)``.
Written = tuple


def read_ahead(items: Iterable, load: Callable, workers: int = 0, depth: int = 8,
               cost: Optional[Callable] = None, max_cost: float = float('inf')) -> Iterator:
    """``load(item)`` for each item, in order.  With ``workers > 0`` a thread pool loads up to
    ``depth`` items ahead, and stops reading further ahead once the items in flight reach
    ``max_cost`` of ``cost(item)`` together (so a few huge images do not pile up).  An
    exception of ``load`` or of ``items`` itself is raised when its item's turn comes, as in
    the serial loop."""
    if workers <= 0:
        for item in items:
            yield load(item)
        return
    pending: collections.deque = collections.deque()
    in_flight = 0.0
    source = iter(items)
    with ThreadPoolExecutor(workers, thread_name_prefix='psfusion-read') as pool:
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < max(depth, 1) \
                        and not (pending and in_flight >= max_cost):
                    try:
                        item = next(source, _END)
                    except Exception as exc:  # e.g. a header check: raised in its turn too
                        item, failed = _END, Future()
                        failed.set_exception(exc)
                        pending.append((failed, 0.0))
                    if item is _END:
                        exhausted = True
                        break
                    weight = cost(item) if cost is not None else 0.0
                    pending.append((pool.submit(load, item), weight))
                    in_flight += weight
                if not pending:
                    return
                future, weight = pending.popleft()
                in_flight -= weight
                yield future.result()
        finally:
            for future, _ in pending:
                future.cancel()


_END = object()


class PngWriter:
    """Write uint8 images as PNG (atomically) under ``out`` and report them once complete.

    :meth:`submit` queues one image; :meth:`finished` returns the images written since the
    last call, in submission order, as ``(rel, sha256, extra)``; :meth:`drain` waits for all.
    With ``workers=0`` :meth:`submit` writes at once.  A failed write raises from
    :meth:`finished` / :meth:`drain`.  Use as a context manager: leaving waits for the writes
    in flight (they finish whole or leave only a temporary file, never a half-written one).
    """

    def __init__(self, out: str, workers: int = 0, max_pending: Optional[int] = None) -> None:
        self.out = out
        self.workers = int(workers)
        self.max_pending = max_pending or max(2 * self.workers, 1)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix='psfusion-write') \
            if self.workers > 0 else None
        self._pending: collections.deque = collections.deque()

    def _write(self, array: np.ndarray, rel: str) -> str:
        path = osp.join(self.out, rel)
        save_png(array, path)
        return sha256_file(path)

    def submit(self, array: np.ndarray, rel: str, **extra) -> None:
        """Queue ``array`` to be written to ``out/rel``; blocks while too many are pending."""
        if self._pool is None:
            done: Future = Future()
            done.set_result(self._write(array, rel))
            self._pending.append((done, rel, extra))
            return
        excess = len(self._pending) + 1 - self.max_pending
        if excess > 0:  # wait for the oldest (a failure is raised by finished())
            wait_for([future for future, _, _ in itertools.islice(self._pending, excess)])
        self._pending.append((self._pool.submit(self._write, array, rel), rel, extra))

    def finished(self, wait: bool = False) -> list:
        """The images written so far (all of them with ``wait``), oldest first.  A failed
        write is raised once the images written before it have been returned."""
        written = []
        while self._pending and (wait or self._pending[0][0].done()):
            future, rel, extra = self._pending[0]
            if written and future.exception() is not None:
                break  # hand back what is complete first; the next call raises
            digest = future.result()
            self._pending.popleft()
            written.append((rel, digest, extra))
        return written

    @property
    def pending(self) -> int:
        """Images queued and not yet returned by :meth:`finished`."""
        return len(self._pending)

    def drain(self) -> list:
        """Wait for every queued image; returns them as :meth:`finished` does (a failed
        write: raised by the next call, after the images written before it)."""
        return self.finished(wait=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> 'PngWriter':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
