"""Preflight: check everything the benchmark's runs will need before the first one trains.

A benchmark call may train for days (SegNeXt-L: ~9 h per run on one H200); a problem found when
its run starts would stop the call hours in.  :func:`preflight` looks at every input at once and
returns **all** problems, each one line naming the file or setting and the fix:

* every segmenter's pretrained backbone is reachable and loads (:mod:`.pretrained`: a corrupt
  file is named as corrupt), and ``--cfg-options`` apply to its config;
* the dataset's training and test splits list their pairs (images paired, a label for each)
  and every label holds valid class ids (:func:`psfusion.data.io.read_label`: ids below the
  dataset's class count, or its ignore index);
* every fused source has an image for every stem of both splits
  (:func:`.sources.resolve_fused_images`; a folder with only ``test`` is reported for
  ``train``), and both splits come from one fusion method and checkpoint
  (:func:`.sources.fusion_identity`); a built-in method not fused yet is made from the
  dataset itself and needs nothing;
* the work folder can be written (checked without creating it).

Nothing is written.  :class:`PreflightError` lists the problems; the tool prints it and exits 2
without training.
"""
from __future__ import annotations

import os
import tempfile
from typing import Optional, Sequence

from ..config_options import apply_cfg_options
from ..data.io import read_label
from ..data.layouts import build_layout
from ..errors import PsfusionError
from .catalog import config_path
from .pretrained import resolve_pretrained
from .sources import Source, fusion_identity, resolve_fused_images

#: Bad labels named one by one in the report; more are counted.
MAX_LABELS_SHOWN = 5


class PreflightError(PsfusionError):
    """Problems found before any run trained (:func:`preflight`), one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(f'preflight found {count} problem{"s" if count != 1 else ""}; nothing '
                         f'was trained:\n' + '\n'.join(f'  - {p}' for p in self.problems))


def _line(exc: BaseException) -> str:
    return ' '.join(str(exc).split()) or type(exc).__name__


def check_pretrained(segmenters: Sequence[str], dataset: str, mode: str,
                     config_dir: Optional[str] = None,
                     cfg_options: Optional[dict] = None) -> list[str]:
    """``<segmenter>: <problem>`` for each segmenter whose config cannot take ``cfg_options``
    or whose pretrained backbone cannot be read under ``mode`` (``--pretrained``)."""
    from .run_config import load_config

    problems = []
    for segmenter in segmenters:
        try:
            cfg = load_config(str(config_path(segmenter, dataset, config_dir)))
            apply_cfg_options(cfg, cfg_options or {})
            resolve_pretrained(cfg, mode, log=lambda message: None)
        except (PsfusionError, FileNotFoundError, ValueError) as exc:
            problems.append(f'{segmenter}: {_line(exc)}')
    return problems


def check_labels(samples: Sequence[dict], num_classes: int, ignore_index: int) -> list[str]:
    """One problem per bad label file (the first :data:`MAX_LABELS_SHOWN`, then a count)."""
    bad = []
    for path in dict.fromkeys(s['seg_map_path'] for s in samples if s.get('seg_map_path')):
        try:
            read_label(path, num_classes=num_classes, ignore_index=ignore_index)
        except PsfusionError as exc:
            bad.append(_line(exc))
    if len(bad) > MAX_LABELS_SHOWN:
        bad = bad[:MAX_LABELS_SHOWN] + [f'... {len(bad) - MAX_LABELS_SHOWN} more bad label(s) '
                                        f'({len(bad)} in all)']
    return bad


def check_fused_source(source: Source, layout, stems: dict[str, list[str]]) -> list[str]:
    """Problems of one fused source: a split without an image for each of its stems, splits
    fused by different methods or checkpoints."""
    problems = []
    for split, split_stems in stems.items():
        try:
            resolve_fused_images(source.folder, split, split_stems, layout.output_dir(split))
        except PsfusionError as exc:
            problems.append(f'source {source.name}: {_line(exc)}')
    try:
        fusion_identity(source, tuple(stems))
    except PsfusionError as exc:
        problems.append(_line(exc))
    return problems


def check_writable(work_dir: str) -> Optional[str]:
    """A problem when the work folder, or the nearest existing folder above it, cannot be
    written (nothing is created)."""
    path = os.path.abspath(work_dir)
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        return f'{work_dir}: work dir cannot be created: {probe} is a file. Use another --work-dir.'
    try:
        if probe == path:
            with tempfile.TemporaryFile(dir=probe):
                pass
        elif not os.access(probe, os.W_OK | os.X_OK):
            raise PermissionError(f'no write permission in {probe}')
    except OSError as exc:
        return f'{work_dir}: work dir not writable ({_line(exc)}). Use another --work-dir.'
    return None


def preflight(dataset: str, data_root: str, segmenters: Sequence[str],
              sources: Sequence[Source], work_dir: str, pretrained: str = 'on',
              config_dir: Optional[str] = None, cfg_options: Optional[dict] = None
              ) -> list[str]:
    """Every problem the runs of a call would meet (see the module docstring); empty when
    there is none."""
    problems = check_pretrained(segmenters, dataset, pretrained, config_dir, cfg_options)
    try:
        layout = build_layout(dataset, data_root)
    except PsfusionError as exc:
        return problems + [_line(exc)]
    stems, samples = {}, []
    for split in dict.fromkeys((layout.train_split, layout.test_split)):
        try:
            found = layout.samples(split, with_label=True)
        except PsfusionError as exc:
            problems.append(f'{layout.title} {split} split: {_line(exc)}')
            continue
        if not found:
            problems.append(f'{layout.title} {split} split: no labelled pairs in {data_root}.')
        stems[split] = [sample['name'] for sample in found]
        samples += found
    meta = layout.metainfo
    problems += check_labels(samples, len(meta['classes']), meta['ignore_index'])
    for source in sources:
        # a built-in method's folder (an earlier call's) is completed when it is fused
        if source.is_fused and source.folder and not source.is_builtin:
            problems += check_fused_source(source, layout, stems)
    problem = check_writable(work_dir)
    if problem:
        problems.append(problem)
    return problems
