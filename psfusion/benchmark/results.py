"""The results store: one CSV row per run (dataset, segmenter, source, seed).

Columns (:data:`COLUMNS`): ``dataset, segmenter, source, seed, mIoU, mAcc``, the IoU of each of
the nine classes under its class name, ``params, flops, seconds, config_hash``.  IoU and
accuracy are in percent, unrounded.  ``segmenter`` ends in ``+tta`` for test-time-augmented
evaluations.

Rows are appended atomically: the whole file is rewritten to a temporary file in the same folder
and moved over the old one (``os.replace``), under an exclusive lock, so a reader never sees a
half-written row and two concurrent runs do not lose each other's rows.  A rerun of a key with
a different ``config_hash`` adds a row; tables use the latest row of each key.
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from typing import Iterator, Mapping, Optional

import pandas as pd

from ..data.labels import CLASSES

KEY_COLUMNS = ('dataset', 'segmenter', 'source', 'seed')
METRIC_COLUMNS = ('mIoU', 'mAcc') + tuple(CLASSES)
COLUMNS = KEY_COLUMNS + METRIC_COLUMNS + ('params', 'flops', 'seconds', 'config_hash')


class ResultsError(ValueError):
    """A results file that is not in this store's format."""


def row_from_metrics(key: Mapping, metrics: Mapping[str, float], *, params: int, flops: int,
                     seconds: float, config_hash: str) -> dict:
    """A store row from :class:`~psfusion.metrics.segmentation.PerClassIoUMetric` output."""
    row = {column: key[column] for column in KEY_COLUMNS}
    row['mIoU'] = float(metrics['mIoU'])
    row['mAcc'] = float(metrics['mAcc'])
    for name in CLASSES:
        row[name] = float(metrics[f'IoU.{name}'])
    row.update(params=int(params), flops=int(flops), seconds=round(float(seconds), 1),
               config_hash=config_hash)
    return row


def read_results(path: str) -> pd.DataFrame:
    """The store as a DataFrame (empty, with the columns, if the file does not exist)."""
    if not os.path.isfile(path):
        return pd.DataFrame(columns=list(COLUMNS))
    frame = pd.read_csv(path, dtype={'config_hash': str, 'source': str, 'segmenter': str})
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ResultsError(f'{path}: not a results store of this benchmark (missing columns: '
                           f'{", ".join(missing)}).')
    return frame[list(COLUMNS)]


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """An exclusive advisory lock on ``path + '.lock'`` (no-op where fcntl is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path + '.lock', 'a+') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_result(path: str, row: Mapping) -> pd.DataFrame:
    """Append one row atomically; returns the updated store."""
    unknown = set(row) - set(COLUMNS)
    missing = set(COLUMNS) - set(row)
    if unknown or missing:
        raise ResultsError(f'row columns do not match the store: missing {sorted(missing)}, '
                           f'unknown {sorted(unknown)}')
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with locked(path):
        frame = read_results(path)
        new = pd.DataFrame([{column: row[column] for column in COLUMNS}])
        frame = new if frame.empty else pd.concat([frame, new], ignore_index=True)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix='.results-', suffix='.csv')
        try:
            with os.fdopen(handle, 'w', encoding='utf-8', newline='') as out:
                frame.to_csv(out, index=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return frame


def find_result(frame: pd.DataFrame, key: Mapping,
                config_hash: Optional[str] = None) -> Optional[dict]:
    """The latest row with this key (and this config hash, if given), or None."""
    mask = pd.Series(True, index=frame.index)
    for column in KEY_COLUMNS:
        values = frame[column]
        mask &= (values.astype(int) == int(key[column])) if column == 'seed' else (
            values.astype(str) == str(key[column]))
    if config_hash is not None:
        mask &= frame['config_hash'].astype(str) == config_hash
    rows = frame[mask]
    return None if rows.empty else rows.iloc[-1].to_dict()


def latest_results(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, segmenter, source, seed): the last one written."""
    if frame.empty:
        return frame
    return frame.drop_duplicates(subset=list(KEY_COLUMNS), keep='last').reset_index(drop=True)


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
