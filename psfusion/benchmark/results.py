"""The results store: one CSV row per run (dataset, segmenter, source, seed, tta).

Columns: the key (:data:`KEY_COLUMNS`: ``dataset, segmenter, source, seed, tta``), ``mIoU,
mAcc``, the IoU of each class of the run's dataset under its class name (in the dataset's id
order, e.g. nine for MSRS, fifteen for FMB), ``aAcc``, the run's provenance
(:data:`PROVENANCE_COLUMNS`: ``schedule`` name, ``iters`` trained, total ``batch_size``,
``pretrained`` checkpoint identity or ``none``, and ``fusion_checkpoint``, the fusion method and
weights that made a fused source's images, from its ``manifest.json``; empty for ``ir``/``vi``),
then ``params, macs, seconds, config_hash`` (:data:`TAIL_COLUMNS`).  IoU and accuracy are in
percent, unrounded; ``macs`` counts multiply-adds (mmengine's count; FLOPs would be twice as
many).  A store holds one dataset, so the class columns are that dataset's and pandas reads the
file as is.

Stores of earlier formats still read, their rows in today's form: without the ``tta`` column
(evaluations with test-time augmentation were rows whose segmenter ended in ``+tta``, and
``macs`` was called ``flops``), and without ``aAcc`` and provenance (NaN / empty: unknown).

Rows are appended atomically: the whole file is rewritten to a temporary file in the same folder
and moved over the old one, under an exclusive lock, so a reader never sees a half-written row
and two concurrent runs do not lose each other's rows.  A rerun of a key with a different
``config_hash`` adds a row; tables use the latest row of each key.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from typing import Iterator, Mapping, Optional, Sequence

import pandas as pd

from ..errors import PsfusionError
from ..fileio import write_text

KEY_COLUMNS = ('dataset', 'segmenter', 'source', 'seed', 'tta')
SUMMARY_COLUMNS = ('mIoU', 'mAcc')
#: Written after the class columns: overall pixel accuracy, then where the run came from.
PROVENANCE_COLUMNS = ('schedule', 'iters', 'batch_size', 'pretrained', 'fusion_checkpoint')
AFTER_CLASS_COLUMNS = ('aAcc', ) + PROVENANCE_COLUMNS
#: What makes two runs' numbers comparable in one table (besides the key's ``tta``).
RECIPE_COLUMNS = ('schedule', 'iters', 'batch_size', 'pretrained')
TAIL_COLUMNS = ('params', 'macs', 'seconds', 'config_hash')
#: Suffix that marked test-time-augmented rows in stores written before the ``tta`` column.
LEGACY_TTA_SUFFIX = '+tta'


class ResultsError(PsfusionError, ValueError):
    """A results file that is not in this store's format."""


@dataclass(frozen=True)
class RunKey:
    """What identifies a result: a segmenter trained on one source of a dataset with one seed,
    evaluated with or without test-time augmentation."""
    dataset: str
    segmenter: str
    source: str
    seed: int = 0
    tta: bool = False

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_row(cls, row: Mapping) -> 'RunKey':
        return cls(str(row['dataset']), str(row['segmenter']), str(row['source']),
                   int(row['seed']), _as_bool(row.get('tta', False)))

    def __str__(self) -> str:
        return (f'{self.segmenter}{" (TTA)" if self.tta else ""} / {self.source} / '
                f'seed {self.seed}')


def columns_for(classes: Sequence[str]) -> tuple:
    """The store's columns for a dataset with these classes."""
    return KEY_COLUMNS + SUMMARY_COLUMNS + tuple(classes) + AFTER_CLASS_COLUMNS + TAIL_COLUMNS


def class_columns(frame: pd.DataFrame) -> list[str]:
    """The class columns of a store (after ``mAcc``, up to ``aAcc`` or ``params``), in id
    order."""
    columns = list(frame.columns)
    end = min(columns.index(name) for name in ('aAcc', 'params') if name in columns)
    return columns[columns.index('mAcc') + 1:end]


@dataclass(frozen=True)
class Provenance:
    """Where a run's numbers come from (:data:`PROVENANCE_COLUMNS`)."""
    schedule: str
    iters: int
    batch_size: int
    pretrained: str = 'none'
    fusion_checkpoint: str = ''


def row_from_metrics(key: RunKey, metrics: Mapping[str, float], classes: Sequence[str], *,
                     params: int, macs: int, seconds: float, config_hash: str,
                     provenance: Optional[Provenance] = None) -> dict:
    """A store row from :class:`~psfusion.metrics.segmentation.PerClassIoUMetric` output
    (``aAcc``, ``mIoU``, ``mAcc``, ``IoU.<class>`` for each of the dataset's ``classes``)."""
    row = key.as_dict()
    row['mIoU'] = float(metrics['mIoU'])
    row['mAcc'] = float(metrics['mAcc'])
    for name in classes:
        row[name] = float(metrics[f'IoU.{name}'])
    row['aAcc'] = float(metrics.get('aAcc', float('nan')))
    row.update(asdict(provenance) if provenance else dict.fromkeys(PROVENANCE_COLUMNS, ''))
    row.update(params=int(params), macs=int(macs), seconds=round(float(seconds), 1),
               config_hash=config_hash)
    return row


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ('true', '1', 'yes')
    return bool(value) if not pd.isna(value) else False


def _upgrade(frame: pd.DataFrame) -> pd.DataFrame:
    """Bring a store of an earlier format to today's columns (see the module docstring)."""
    if 'flops' in frame.columns and 'macs' not in frame.columns:
        frame = frame.rename(columns={'flops': 'macs'})
    if 'tta' not in frame.columns and {'segmenter', 'seed'} <= set(frame.columns):
        names = frame['segmenter'].astype(str)
        tta = names.str.endswith(LEGACY_TTA_SUFFIX)
        frame = frame.copy()
        frame['segmenter'] = names.where(~tta, names.str[:-len(LEGACY_TTA_SUFFIX)])
        frame.insert(list(frame.columns).index('seed') + 1, 'tta', tta)
    missing = [name for name in AFTER_CLASS_COLUMNS if name not in frame.columns]
    if missing and 'params' in frame.columns:
        frame = frame.copy()
        at = list(frame.columns).index('params')
        for offset, name in enumerate(missing):
            frame.insert(at + offset, name, float('nan') if name == 'aAcc' else '')
    return frame


def read_results(path: str) -> pd.DataFrame:
    """The store as a DataFrame (empty, with the key and fixed columns, if the file does not
    exist).  ``tta`` is boolean, ``seed`` integer."""
    if not os.path.isfile(path):
        return pd.DataFrame(columns=list(columns_for(())))
    try:
        frame = pd.read_csv(path, dtype={'config_hash': str, 'source': str, 'segmenter': str,
                                         'schedule': str, 'pretrained': str,
                                         'fusion_checkpoint': str}, keep_default_na=False,
                            na_values=[''])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ResultsError(f'{path}: not a readable results store ({exc}).') from exc
    frame = _upgrade(frame)
    fixed = KEY_COLUMNS + SUMMARY_COLUMNS + TAIL_COLUMNS
    missing = [column for column in fixed if column not in frame.columns]
    if missing:
        raise ResultsError(f'{path}: not a results store of this benchmark (missing columns: '
                           f'{", ".join(missing)}).')
    frame['tta'] = frame['tta'].map(_as_bool).astype(bool)
    for name in ('schedule', 'pretrained', 'fusion_checkpoint'):
        frame[name] = frame[name].fillna('').astype(str)
    _check_numbers(frame, path)
    return frame


def _check_numbers(frame: pd.DataFrame, path: str) -> None:
    """Refuse a value that is not a number in a metric column (an empty cell is NaN: a class
    absent from both labels and predictions)."""
    numeric = list(SUMMARY_COLUMNS) + class_columns(frame) + ['aAcc']
    for column in numeric:
        values = frame[column]
        converted = pd.to_numeric(values, errors='coerce')
        bad = converted.isna() & values.notna() & (values.astype(str).str.strip() != '')
        if bad.any():
            index = int(bad.to_numpy().nonzero()[0][0])
            row = frame.iloc[index]
            raise ResultsError(
                f'{path}: row {index + 2} ({RunKey.from_row(row)}) has {column}='
                f'{values.iloc[index]!r}, not a number. Correct or delete that row (the '
                f'benchmark tool writes numbers only).')
        frame[column] = converted.astype(float)


def check_classes(frame: pd.DataFrame, classes: Sequence[str], path: str) -> None:
    """Refuse a store whose class columns are not ``classes`` (another dataset's store)."""
    have = class_columns(frame)
    if not frame.empty and have != list(classes):
        raise ResultsError(
            f'{path} holds results with the classes {", ".join(have)}, not '
            f'{", ".join(classes)}: a store holds one dataset. Use another --work-dir.')


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """An exclusive advisory lock on ``path + '.lock'`` (no-op where fcntl is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + '.lock', 'a+') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_result(path: str, row: Mapping, classes: Sequence[str]) -> pd.DataFrame:
    """Append one row of a dataset with ``classes`` atomically; returns the updated store."""
    columns = columns_for(classes)
    unknown = set(row) - set(columns)
    missing = set(columns) - set(row)
    if unknown or missing:
        raise ResultsError(f'row columns do not match the store: missing {sorted(missing)}, '
                           f'unknown {sorted(unknown)}')
    with locked(path):
        frame = read_results(path)
        check_classes(frame, classes, path)
        new = pd.DataFrame([{column: row[column] for column in columns}])
        frame = new if frame.empty else pd.concat([frame[list(columns)], new],
                                                  ignore_index=True)
        write_text(path, frame.to_csv(index=False))
    return frame


def key_mask(frame: pd.DataFrame, key: RunKey) -> pd.Series:
    """Rows of ``frame`` with this key."""
    mask = pd.Series(True, index=frame.index)
    for column, value in key.as_dict().items():
        values = frame[column]
        if column == 'seed':
            mask &= values.astype(int) == int(value)
        elif column == 'tta':
            mask &= values.astype(bool) == bool(value)
        else:
            mask &= values.astype(str) == str(value)
    return mask


def find_result(frame: pd.DataFrame, key: RunKey,
                config_hash: Optional[str] = None) -> Optional[dict]:
    """The latest row with this key (and this config hash, if given), or None."""
    mask = key_mask(frame, key)
    if config_hash is not None:
        mask &= frame['config_hash'].astype(str) == config_hash
    rows = frame[mask]
    return None if rows.empty else rows.iloc[-1].to_dict()


def latest_results(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per key: the last one written."""
    if frame.empty:
        return frame
    return frame.drop_duplicates(subset=list(KEY_COLUMNS), keep='last').reset_index(drop=True)
