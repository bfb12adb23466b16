"""Input sources of the benchmark: which image a segmenter sees for each labelled sample.

A source is ``ir`` (the infrared image, replicated to three channels), ``vi`` (the visible
image), or a named folder of fused images, ``NAME=DIR``: ours from ``tools/fuse.py`` or another
method's published results.  These are the inputs of image-level segmenters.  ``rgbt`` gives a
feature-level (two-stream RGB-T) segmenter both modalities of the original dataset as one
4-channel image, R, G, B, T (visible RGB, then infrared; :mod:`.transforms`).  Labels always
come from the original dataset, never from the fused folder.

Fused folders come in several layouts; for each split the first of these folders that holds
an image for **every** stem of the split is used (:data:`FUSED_CANDIDATES`)::

    DIR/<split>/fused/<stem>.png    what tools/fuse.py writes for the MSRS layout
    DIR/<split>/<stem>.png          per-split results folders
    DIR/fused/<stem>.png
    DIR/images/<stem>.png
    DIR/<stem>.png                  a flat folder of results named by stem (most methods)

``DIR`` may contain ``{split}``, replaced by the split name, for splits fused into separate
folders (e.g. ``psfusion=work_dirs/fused_{split}`` reads ``work_dirs/fused_train`` and
``work_dirs/fused_test``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from ..data.io import DataError, IMAGE_EXTENSIONS

#: Single-modality sources and what they read.
SINGLE_SOURCES = {'ir': 'infrared (replicated to 3 channels)', 'vi': 'visible'}
#: The source of feature-level segmenters: both modalities, 4 channels (R, G, B, T).
RGBT_SOURCE = 'rgbt'
#: Sources read from the original dataset (names that a fused folder cannot take).
DATASET_SOURCES = {**SINGLE_SOURCES,
                   RGBT_SOURCE: 'visible and infrared together (4 channels: R, G, B, T)'}
#: Sub-folders searched, in order, for the fused images of a split ('{split}' is replaced).
FUSED_CANDIDATES = ('{split}/fused', '{split}', 'fused', 'images', '.')
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]*$')


@dataclass(frozen=True)
class Source:
    """One input source.

    Attributes:
        name: the label used in results and tables (``ir``, ``vi``, ``psfusion``, ``gtf``, ...).
        kind: ``'ir'``, ``'vi'``, ``'rgbt'`` or ``'fused'``.
        folder: the fused-image folder (``kind == 'fused'`` only; may contain ``{split}``);
            ``None`` for a built-in method not fused yet.
        method: the built-in fusion method (a registered fuser that needs no model files) that
            makes this source's images on first use (:mod:`.fused_sources`); ``None`` for a
            folder the user gave.
    """
    name: str
    kind: str
    folder: Optional[str] = None
    method: Optional[str] = None

    @property
    def is_fused(self) -> bool:
        return self.kind == 'fused'

    @property
    def is_builtin(self) -> bool:
        return self.method is not None

    @property
    def channels(self) -> int:
        """Channels of the segmenter's input: 4 for ``rgbt`` (R, G, B, T), 3 otherwise."""
        return 4 if self.kind == RGBT_SOURCE else 3


def builtin_methods() -> dict[str, str]:
    """Source names that are built-in fusion methods: ``{name: registered fuser}`` for every
    fuser that needs no config or checkpoint (``avg``, ``gtf``, ``adf``, ``gff``, ``msvd``...)."""
    from ..fusers import fuser_class, fuser_names

    return {name: name for name in fuser_names() if not fuser_class(name).uses_model_files}


def split_folder(folder: str, split: str) -> str:
    """``folder`` with ``{split}`` replaced by the split name (unchanged without it)."""
    return folder.replace('{split}', split)


def parse_source(text: str) -> Source:
    """Parse ``ir``, ``vi``, ``rgbt``, a built-in method (``avg``, ``gtf``, ...: see
    :func:`builtin_methods`) or ``NAME=DIR`` (the folder must exist).  A folder may carry a
    built-in method's name (``gtf=results/GTF``, e.g. the MATLAB outputs): the folder is read,
    nothing is fused."""
    text = text.strip()
    if text in DATASET_SOURCES:
        return Source(text, text)
    builtin = builtin_methods()
    if text in builtin:
        return Source(text, 'fused', method=builtin[text])
    if '=' not in text:
        raise ValueError(f'unknown source {text!r}: use ir, vi, a built-in fusion method '
                         f'({", ".join(sorted(builtin))}), NAME=DIR for a folder of fused '
                         f'images (e.g. psfusion=work_dirs/fused/msrs), or rgbt (visible + '
                         f'infrared, for feature-level segmenters)')
    name, folder = (part.strip() for part in text.split('=', 1))
    if name in DATASET_SOURCES:
        raise ValueError(f'source name {name!r} is reserved for the {DATASET_SOURCES[name]} '
                         f'images; give the fused folder another name')
    if not _NAME.match(name):
        raise ValueError(f'source name {name!r}: use letters, digits, "_", "-", "+" or "."')
    if not folder:
        raise ValueError(f'source {name!r}: no folder after "="')
    if not os.path.isdir(split_folder(folder, 'test')):
        raise DataError(f'{split_folder(folder, "test")}: fused-image folder of source '
                        f'{name!r} not found.')
    return Source(name, 'fused', os.path.abspath(folder))


def parse_sources(text: str) -> list[Source]:
    """Parse a comma-separated source list; names must be unique."""
    sources = [parse_source(part) for part in text.split(',') if part.strip()]
    if not sources:
        raise ValueError('no source given: use e.g. --sources ir,vi,psfusion=DIR')
    names = [source.name for source in sources]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f'source name(s) given twice: {", ".join(duplicates)}')
    return sources


def _images_by_stem(folder: str) -> dict[str, str]:
    if not os.path.isdir(folder):
        return {}
    found = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in IMAGE_EXTENSIONS and not name.startswith('.'):
            found.setdefault(stem, os.path.join(folder, name))
    return found


def resolve_fused_images(root: str, split: str, stems: Sequence[str],
                         layout_dir: Optional[str] = None) -> dict[str, str]:
    """Map every stem of a split to its fused image under ``root`` (see the module docstring).

    ``layout_dir``: where the dataset's layout puts the split's fused images (what
    ``tools/fuse.py`` writes, e.g. ``test/fused`` for MSRS, ``fused`` for MFNet); searched first.

    Raises:
        DataError: when no candidate folder holds all the stems; the message names the
            missing stem(s) and the folder that came closest.
    """
    root = split_folder(root, split)
    if not os.path.isdir(root):
        raise DataError(f'{root}: fused-image folder not found (split {split!r}).')
    searched, best = [], None
    patterns = ((layout_dir, ) if layout_dir else ()) + FUSED_CANDIDATES
    for pattern in patterns:
        folder = os.path.normpath(os.path.join(root, pattern.format(split=split)))
        if folder in searched:
            continue
        searched.append(folder)
        images = _images_by_stem(folder)
        missing = [stem for stem in stems if stem not in images]
        if not missing:
            return {stem: images[stem] for stem in stems}
        if images and (best is None or len(missing) < len(best[1])):
            best = (folder, missing)
    if best is None:
        raise DataError(f'{root}: no fused images for split {split!r}; searched '
                        f'{", ".join(searched)}.')
    folder, missing = best
    shown = ', '.join(missing[:10]) + (f' ... ({len(missing)} in all)'
                                       if len(missing) > 10 else '')
    raise DataError(f'fused image for {shown} of split {split!r} not found in {folder} (the '
                    f'closest of: {", ".join(searched)}). Fuse every image of the split, or '
                    f'name the folder that holds them.')


def _manifest_identity(folder: str) -> Optional[str]:
    """``method key=value ...`` from ``folder/manifest.json`` (checksums shortened to 12
    hex digits), or None without a manifest."""
    import json

    path = os.path.join(folder, 'manifest.json')
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DataError(f'{path}: unreadable manifest ({exc}). Fuse the folder again with '
                        f'tools/fuse.py, or remove the manifest.') from exc
    parts = [str(manifest.get('method') or 'unknown method')]
    for key, value in sorted((manifest.get('identity') or {}).items()):
        text = str(value)
        if key.endswith('sha256') and len(text) > 12:
            text = text[:12]
        parts.append(f'{key}={text}')
    return ' '.join(parts)


def fusion_identity(source: Source, splits: Sequence[str] = ('train', 'test')) -> str:
    """What made a fused source's images: its fusion method and weights, from the
    ``manifest.json`` of each split's folder (``''`` for ``ir``/``vi``; ``'no manifest'`` for
    a folder of another method's results without one).

    Raises:
        DataError: the splits come from different methods or checkpoints (their manifests
            disagree): a segmenter trained on one and tested on the other measures nothing.
    """
    if not source.is_fused or not source.folder:
        return ''
    found = {split: _manifest_identity(split_folder(source.folder, split)) for split in splits}
    known = {split: value for split, value in found.items() if value is not None}
    if len(set(known.values())) > 1:
        detail = '; '.join(f'{split}: {value}' for split, value in known.items())
        raise DataError(f'source {source.name!r}: its splits were fused by different methods or '
                        f'checkpoints ({detail}). Fuse every split with the same checkpoint.')
    return next(iter(known.values()), 'no manifest')
