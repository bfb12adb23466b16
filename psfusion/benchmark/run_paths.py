"""Where the benchmark keeps its files: every path of a work folder, named in one place.

A work folder (``--work-dir``; one dataset) holds::

    WORK/results.csv        the results store (psfusion.benchmark.results)
    WORK/sources.json       the dataset root and each source's kind and folder (tables, figure)
    WORK/complexity.json    segmenter parameters/MACs, keyed '<segmenter>@<h>x<w>'
    WORK/cache/             per-source mean/std (psfusion.benchmark.stats)
    WORK/fused/<name>/      images of a built-in fusion method (psfusion.benchmark.fused_sources)
    WORK/runs/<segmenter>/<source>/seed<seed>-<hash8>/
        iter_<n>.pth, last_checkpoint   mmengine's checkpoints (resume)
        train_seconds.json              training time summed over resumed sessions
        preds/ or preds_tta/            test predictions (class-id PNGs), without / with TTA
        per_image.npz / per_image_tta.npz   per-image intersections and unions of the test

A run folder is named by the key's segmenter, source and seed and the first 8 characters of the
config hash; evaluating with and without test-time augmentation shares it (the same weights).
The JSON files here are written only by :class:`WorkDir` and :class:`RunFolder`, atomically
(:mod:`psfusion.fileio`) and, where several runs share a file, under the store's lock.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from ..fileio import write_json
from .results import RunKey, locked
from .sources import Source

RESULTS_FILE = 'results.csv'
SOURCES_FILE = 'sources.json'
COMPLEXITY_FILE = 'complexity.json'
STATS_CACHE_DIR = 'cache'
RUNS_DIR = 'runs'
FUSED_DIR = 'fused'
TRAIN_SECONDS_FILE = 'train_seconds.json'
#: Complexity fields written before they said what they count: both were multiply-adds.
_LEGACY_COMPLEXITY_FIELDS = {'flops': 'macs', 'backbone_flops': 'backbone_macs'}


def read_json(path: str, default: Any = None) -> Any:
    """The JSON content of ``path``, or ``default`` when the file does not exist."""
    if not os.path.isfile(path):
        return default
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def complexity_key(segmenter: str, image_hw: Sequence[int]) -> str:
    """The key of a segmenter's complexity at an input size: ``'<segmenter>@<h>x<w>'``."""
    h, w = (int(v) for v in image_hw)
    return f'{segmenter}@{h}x{w}'


def upgrade_complexity(entry: Mapping) -> dict:
    """A ``complexity.json`` entry with today's field names (older files called MACs
    ``flops`` / ``backbone_flops``)."""
    return {_LEGACY_COMPLEXITY_FIELDS.get(name, name): value for name, value in entry.items()}


def read_complexity(work_dir: str) -> dict:
    """``WORK/complexity.json`` (``{key: {params, macs, backbone_params, backbone_macs,
    input_hw}}``, see :func:`complexity_key`); entries of older files, which called MACs
    ``flops``, come back with today's field names."""
    cache = read_json(os.path.join(work_dir, COMPLEXITY_FILE), {})
    return {key: upgrade_complexity(entry) for key, entry in cache.items()}


@dataclass(frozen=True)
class RunFolder:
    """The folder of one trained segmenter (one key without ``tta``, one config hash)."""
    path: str

    def checkpoint(self, iteration: int) -> str:
        return os.path.join(self.path, f'iter_{int(iteration)}.pth')

    @property
    def last_checkpoint(self) -> str:
        """mmengine's pointer to the latest checkpoint (present once one was saved)."""
        return os.path.join(self.path, 'last_checkpoint')

    def predictions(self, tta: bool = False) -> str:
        return os.path.join(self.path, 'preds_tta' if tta else 'preds')

    def per_image(self, tta: bool = False) -> str:
        """Per-image histograms of the test (``per_image.npz`` / ``per_image_tta.npz``; see
        :func:`psfusion.metrics.segmentation.save_per_image`)."""
        return os.path.join(self.path, 'per_image_tta.npz' if tta else 'per_image.npz')

    @property
    def train_seconds_file(self) -> str:
        return os.path.join(self.path, TRAIN_SECONDS_FILE)

    def train_seconds(self) -> float:
        """Training time spent in this folder so far (all sessions)."""
        return float(read_json(self.train_seconds_file, {'seconds': 0.0})['seconds'])

    def add_train_seconds(self, seconds: float) -> None:
        write_json(self.train_seconds_file, {'seconds': self.train_seconds() + seconds},
                   sort_keys=True)


class WorkDir:
    """A benchmark work folder (see the module docstring)."""

    def __init__(self, root: str) -> None:
        self.root = str(root)

    @property
    def results(self) -> str:
        return os.path.join(self.root, RESULTS_FILE)

    @property
    def sources(self) -> str:
        return os.path.join(self.root, SOURCES_FILE)

    @property
    def complexity(self) -> str:
        return os.path.join(self.root, COMPLEXITY_FILE)

    @property
    def stats_cache(self) -> str:
        return os.path.join(self.root, STATS_CACHE_DIR)

    def fused_dir(self, source: str) -> str:
        """``fused/<source>``: where a built-in fusion method's images are written."""
        return os.path.join(self.root, FUSED_DIR, source)

    def run_folder(self, key: RunKey, config_hash: str) -> RunFolder:
        """``runs/<segmenter>/<source>/seed<seed>-<hash8>`` (shared by plain and TTA tests)."""
        return RunFolder(os.path.join(self.root, RUNS_DIR, key.segmenter, key.source,
                                      f'seed{int(key.seed)}-{str(config_hash)[:8]}'))

    def check_dataset(self, dataset: str) -> None:
        """Raise ValueError when the folder holds another dataset's results."""
        recorded = read_json(self.sources, {}).get('dataset', dataset)
        if recorded != dataset:
            raise ValueError(f'{self.root} holds results of dataset {recorded!r}; use another '
                             f'--work-dir for {dataset!r}')

    def record_sources(self, dataset: str, data_root: str, sources: Sequence[Source]) -> None:
        """Remember the dataset root and each source's folder for the table and figure tools.

        Raises:
            ValueError: the folder holds another dataset's results.
        """
        with locked(self.sources):
            self.check_dataset(dataset)
            info = read_json(self.sources, {})
            info.update(dataset=dataset, data_root=os.path.abspath(data_root))
            known = info.setdefault('sources', {})
            for source in sources:
                known[source.name] = dict(kind=source.kind, folder=source.folder)
            write_json(self.sources, info, sort_keys=True)

    def record_test_size(self, image_hw: Sequence[int]) -> None:
        """Remember the test images' size (``test_hw`` in ``sources.json``): the tables print
        the complexity counted at that size."""
        with locked(self.sources):
            info = read_json(self.sources, {})
            info['test_hw'] = [int(v) for v in image_hw]
            write_json(self.sources, info, sort_keys=True)

    def cached_complexity(self, segmenter: str, image_hw: Sequence[int]) -> Optional[dict]:
        """The stored complexity of ``segmenter`` at ``image_hw`` (None if not measured yet, or
        measured by a version that did not count the backbone's MACs)."""
        entry = read_complexity(self.root).get(complexity_key(segmenter, image_hw))
        return entry if entry and 'macs' in entry and 'backbone_macs' in entry else None

    def store_complexity(self, segmenter: str, image_hw: Sequence[int], value: dict) -> None:
        """Add (or replace) one entry of ``complexity.json``; older entries are rewritten with
        today's field names."""
        with locked(self.complexity):
            cache = read_complexity(self.root)
            cache[complexity_key(segmenter, image_hw)] = dict(value)
            write_json(self.complexity, cache, sort_keys=True)


def run_folder_of(work_dir: str, row: Mapping) -> RunFolder:
    """The run folder of a results row (with ``tta`` and ``config_hash``)."""
    return WorkDir(work_dir).run_folder(RunKey.from_row(row), str(row['config_hash']))


def prediction_dir(work_dir: str, row: Mapping) -> str:
    """Where the run of a results row (with ``tta`` and ``config_hash``) wrote its test
    predictions (class-id PNGs)."""
    key = RunKey.from_row(row)
    return WorkDir(work_dir).run_folder(key, str(row['config_hash'])).predictions(key.tta)
