"""What ``tools/benchmark_downstream.py --seg SEG`` uses for the options left out.

* ``--dataset``: :data:`DEFAULT_DATASET` (MSRS, the paper's main benchmark).
* ``--data-root``: the dataset layout's :attr:`~psfusion.data.layouts.DatasetLayout.default_root`
  (``data/MSRS``, ``data/MFNet``, ``data/FMB``), relative to the working folder; with
  ``PSFUSION_DATA_ROOT`` set, the folder it names holds ``MSRS/``, ``MFNet/``, ``FMB/``
  (:func:`default_data_root`).  A missing root is one line naming it and where to get the
  dataset (:func:`check_data_root`).
* ``--sources``: ``ir``, ``vi`` and every fused dataset registered for the dataset, i.e. every
  folder ``work_dirs/fused/<dataset>/<name>/`` with a ``manifest.json`` (what ``tools/fuse.py
  --out work_dirs/fused/<dataset>/<name>`` writes; source ``<name>``), plus
  ``work_dirs/fused/<dataset>/`` itself when it holds a manifest (the README's
  ``--out work_dirs/fused/msrs``; source named by the manifest's method); ``rgbt`` where a
  feature-level segmenter is asked for (:func:`default_sources`).
"""
from __future__ import annotations

import json
import os
from typing import Optional, Sequence

from ..data.io import DataError
from ..data.layouts import layout_class
from .catalog import is_feature_level
from .sources import DATASET_SOURCES, RGBT_SOURCE, Source, _NAME

#: ``--dataset`` when left out.
DEFAULT_DATASET = 'msrs'
#: The folder holding ``MSRS/``, ``MFNet/``, ``FMB/`` (overrides the default ``data/``).
DATA_ROOT_ENV = 'PSFUSION_DATA_ROOT'
#: Where fused datasets are registered: ``<registry>/<dataset>/<name>/manifest.json``.
FUSED_REGISTRY = os.path.join('work_dirs', 'fused')
_MANIFEST = 'manifest.json'
_DATA_PREFIX = 'data/'


def default_data_root(dataset: str) -> str:
    """The data root of ``dataset`` when ``--data-root`` is left out: the layout's default
    (``data/MSRS``), or ``$PSFUSION_DATA_ROOT/MSRS`` when the variable is set (only for the
    defaults under ``data/``; the synthetic demo's stays ``work_dirs/demo/data``)."""
    root = layout_class(dataset).default_root
    base = os.environ.get(DATA_ROOT_ENV)
    if base and root.startswith(_DATA_PREFIX):
        return os.path.join(base, root[len(_DATA_PREFIX):])
    return root


def check_data_root(dataset: str, root: str, given: bool) -> None:
    """A one-line :class:`DataError` naming the expected root and where to get the dataset,
    unless ``root`` is a folder.  ``given``: the root came from ``--data-root``."""
    if os.path.isdir(root):
        return
    layout = layout_class(dataset)
    if given:
        origin = '--data-root'
    elif os.environ.get(DATA_ROOT_ENV) and layout.default_root.startswith(_DATA_PREFIX):
        origin = (f'the default of --dataset {dataset} under {DATA_ROOT_ENV}='
                  f'{os.environ[DATA_ROOT_ENV]}')
    else:
        origin = (f'the default of --dataset {dataset}; pass --data-root DIR, or set '
                  f'{DATA_ROOT_ENV} to the folder holding MSRS/, MFNet/, FMB/')
    hint = f' {layout.source_hint}' if layout.source_hint else ''
    raise DataError(f'{root}: {layout.title} data root not found ({origin}).{hint}')


def _manifest_method(folder: str) -> Optional[str]:
    """The ``method`` of ``folder/manifest.json`` (``'fused'`` when it has none); None when the
    manifest is unreadable."""
    try:
        with open(os.path.join(folder, _MANIFEST), encoding='utf-8') as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return str(data.get('method') or 'fused') if isinstance(data, dict) else None


def registered_fused_sources(dataset: str, registry: str = FUSED_REGISTRY) -> list[Source]:
    """The fused datasets registered for ``dataset`` under ``registry`` (see the module
    docstring), sorted by name.  A folder whose name cannot be a source name (``ir``, ``vi``,
    ``rgbt``, odd characters) is left out."""
    base = os.path.join(registry, dataset)
    if not os.path.isdir(base):
        return []
    found = {}
    for name in sorted(os.listdir(base)):
        folder = os.path.join(base, name)
        if (os.path.isfile(os.path.join(folder, _MANIFEST)) and _NAME.match(name)
                and name not in DATASET_SOURCES):
            found[name] = Source(name, 'fused', os.path.abspath(folder))
    if os.path.isfile(os.path.join(base, _MANIFEST)):  # tools/fuse.py --out work_dirs/fused/msrs
        method = _manifest_method(base)
        if method and _NAME.match(method) and method not in DATASET_SOURCES \
                and method not in found:
            found[method] = Source(method, 'fused', os.path.abspath(base))
    return [found[name] for name in sorted(found)]


def default_sources(dataset: str, segmenters: Sequence[str],
                    registry: str = FUSED_REGISTRY) -> list[Source]:
    """``--sources`` when left out: ``ir``, ``vi`` and the registered fused datasets for the
    image-level segmenters, ``rgbt`` for the feature-level ones."""
    sources = []
    if any(not is_feature_level(segmenter) for segmenter in segmenters):
        sources += [Source('ir', 'ir'), Source('vi', 'vi')]
        sources += registered_fused_sources(dataset, registry)
    if any(is_feature_level(segmenter) for segmenter in segmenters):
        sources.append(Source(RGBT_SOURCE, RGBT_SOURCE))
    return sources


def describe_sources(sources: Sequence[Source]) -> str:
    """``sources: ir, vi, psfusion (work_dirs/fused/msrs/psfusion)``: each fused folder shown
    relative to the working folder where it lies inside it."""
    parts = []
    for source in sources:
        if source.folder:
            folder = os.path.relpath(source.folder)
            parts.append(f'{source.name} ({source.folder if folder.startswith("..") else folder})')
        else:
            parts.append(source.name)
    return 'sources: ' + ', '.join(parts)
