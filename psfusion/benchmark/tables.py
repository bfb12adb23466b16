"""The paper's tables from the results store: Table 1 and Table 2 layouts, Table 5, complexity.

All tables are built as pandas DataFrames of numbers (:class:`Cell`: mean, std, count, and
whether the value is ours or reported), then rendered as Markdown, CSV or LaTeX:

* **Table 1 layout** (MSRS in the paper): one row per (class, segmenter), one column per source;
  reported columns (``<method> (reported)``) beside ours.
* **Table 2 layout** (MFNet in the paper): one row per (source, segmenter), one column per class,
  plus mIoU and the complexity of the pipeline (fusion network + segmenter); then our
  feature-level models (a feature-level segmenter on the ``rgbt`` source, kind
  ``feature-level (ours)``, named by the model: ``CMX-B2``); reported rows (feature-level
  methods, the paper's own numbers) below ours, marked ``reported``.
* **Table 5**: the fusion network's own semantic head against a segmenter on its fused images.
* **Complexity**: parameters, multiply-adds and FLOPs of each image-level segmenter alone and with
  each fusion network in front, and of each feature-level model measured in the results (the
  paper's Figure 3 argument, with numbers).

Classes (columns, row labels) are the dataset's: its ``metainfo`` (``classes``,
``class_titles``) from :mod:`psfusion.data.layouts`.  A segmenter is identified by
``(segmenter, tta)``: evaluations with test-time augmentation are separate rows.
Complexity is printed as ``GMACs``: multiply-adds (mmengine's count; what fvcore, mmseg and many
papers print as "FLOPs"); the complexity table adds ``GFLOPs``, labelled as ``2 x MACs`` (the
project's FLOPs: multiplies and adds counted separately,
:attr:`psfusion.complexity.Complexity.flops`).

Several seeds give ``mean +- std`` (sample standard deviation).  The best and second best of
**our** values are highlighted (per row in Table 1, per column in Table 2; Markdown: bold and
italics, LaTeX: bold and underline); reported values are never highlighted.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ..data.layouts import dataset_metainfo
from .catalog import SEGMENTERS, display_name, is_feature_level
from .reported import ReportedRow, reported_rows
from ..errors import PsfusionError
from .results import KEY_COLUMNS, RECIPE_COLUMNS, SUMMARY_COLUMNS, class_columns, latest_results
from .run_paths import upgrade_complexity
from .sources import RGBT_SOURCE

#: A segmenter as the tables tell them apart: ``(key, tta)``.
SegRun = tuple
#: Display names of the sources that are not fused images (their pipelines have no fusion
#: network): infrared, visible, and both together for the feature-level segmenters.
SOURCE_TITLES = {'ir': 'Infrared', 'vi': 'Visible', RGBT_SOURCE: 'RGB-T'}
#: The Kind of our feature-level rows in a Table 2 layout.
FEATURE_LEVEL_OURS = 'feature-level (ours)'
#: Reported methods shown by default (besides every feature-level method).
DEFAULT_REPORTED = ('Infrared', 'Visible', 'SeAFusion', 'PSFusion')
FORMATS = ('md', 'csv', 'tex')


@dataclass(frozen=True)
class Cell:
    """One table value: mean over seeds (percent, or a count), std, number of seeds."""
    mean: float
    std: float = math.nan
    n: int = 1
    reported: bool = False
    digits: int = 2
    show_n: bool = False
    #: A footnote mark of a reported value with a known problem (:data:`.reported.FLAGS`).
    mark: str = ''

    def text(self) -> str:
        if self.mean is None or math.isnan(self.mean):
            return '-' + self.mark
        digits = self.digits
        text = f'{self.mean:.{digits}f}'
        if self.n > 1 and not math.isnan(self.std):
            text += f' ± {self.std:.{digits}f}'
        if self.show_n and not self.reported:
            text += f' (n={self.n})'
        return text + self.mark


def size_cell(value: Optional[float], unit: float) -> Optional[Cell]:
    """A parameter or multiply-add count in ``unit`` (1e6, 1e9), three decimals below 1."""
    if value is None:
        return None
    scaled = value / unit
    return Cell(scaled, digits=3 if abs(scaled) < 1 else 2)


def source_title(source: str) -> str:
    return SOURCE_TITLES.get(source, source)


def seg_title(seg: SegRun) -> str:
    """``SegNeXt-Large`` or ``SegNeXt-Large + TTA``."""
    return display_name(seg[0], bool(seg[1]))


def feature_level_run(seg: SegRun, source: str) -> bool:
    """Whether a summary cell is a feature-level model's: a feature-level segmenter of the
    catalogue, or any segmenter on the ``rgbt`` source."""
    return is_feature_level(seg[0]) or source == RGBT_SOURCE


@dataclass(frozen=True)
class ClassInfo:
    """The classes a table shows: names (result columns) and titles (headings), in id order."""
    names: tuple
    titles: tuple

    @classmethod
    def of_dataset(cls, dataset: str) -> 'ClassInfo':
        meta = dataset_metainfo(dataset)
        return cls(tuple(meta['classes']), tuple(meta['class_titles']))

    def title(self, name: str) -> str:
        return dict(zip(self.names, self.titles)).get(name, name)


# ----------------------------------------------------------------------------------------
# Aggregation
# ----------------------------------------------------------------------------------------
class MixedRecipesError(PsfusionError, ValueError):
    """Runs trained with different recipes would share a table (``--allow-mixed`` permits it)."""


def recipe_text(recipe: Sequence[str]) -> str:
    """``schedule quick, 300 iterations, batch 8, pretrained none`` for a recipe of
    :func:`with_recipe` (unknown parts: ``?``)."""
    schedule, iters, batch, pretrained = (part or '?' for part in recipe)
    return f'schedule {schedule}, {iters} iterations, batch {batch}, pretrained {pretrained}'


def _recipe_part(value) -> str:
    """A provenance value as text: ``''`` where unknown (NaN), whole numbers without ``.0``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ''
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def with_recipe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``recipe`` column: the tuple of :data:`RECIPE_COLUMNS` as text (missing
    or empty values of stores written before provenance existed: ``''``)."""
    frame = frame.copy()
    parts = [frame[column].map(_recipe_part) if column in frame.columns
             else pd.Series('', index=frame.index) for column in RECIPE_COLUMNS]
    frame['recipe'] = list(zip(*parts)) if len(frame) else []
    return frame


def recipes_present(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The latest row of each key and recipe of a dataset, with its ``recipe`` column."""
    frame = with_recipe(frame[frame['dataset'].astype(str) == dataset])
    if frame.empty:
        return frame
    return frame.drop_duplicates(subset=list(KEY_COLUMNS) + ['recipe'], keep='last')


def table_rows(frame: pd.DataFrame, dataset: str, allow_mixed: bool = False) -> pd.DataFrame:
    """The rows a table shows: the latest row of each key and recipe.

    Raises:
        MixedRecipesError: the rows hold more than one recipe (:data:`RECIPE_COLUMNS`) and
            ``allow_mixed`` is false; the message names every recipe and its runs.  With
            ``allow_mixed`` the latest row of each key is kept, whatever its recipe.
    """
    latest = recipes_present(frame, dataset)
    if latest.empty:
        return latest
    frame = with_recipe(frame[frame['dataset'].astype(str) == dataset])
    recipes = list(dict.fromkeys(latest['recipe']))
    if len(recipes) > 1 and not allow_mixed:
        lines = []
        for recipe in recipes:
            runs = latest[latest['recipe'] == recipe]
            shown = ', '.join(f'{r.segmenter}{" (TTA)" if r.tta else ""}/{r.source}/seed {r.seed}'
                              for r in runs.head(4).itertuples())
            more = f' and {len(runs) - 4} more' if len(runs) > 4 else ''
            lines.append(f'  {recipe_text(recipe)}: {shown}{more}')
        raise MixedRecipesError(
            f'the results hold runs of {len(recipes)} different recipes, which one table '
            f'would mix:\n' + '\n'.join(lines) + '\nKeep one recipe (another --work-dir or '
            f'--results), or pass --allow-mixed to build the tables anyway (each table then '
            f'lists the recipes in a footnote).')
    return latest_results(frame).reset_index(drop=True)


def summarize(frame: pd.DataFrame, dataset: str, allow_mixed: bool = False) -> dict:
    """:func:`summarize_rows` of the rows :func:`table_rows` keeps."""
    return summarize_rows(table_rows(frame, dataset, allow_mixed))


def summarize_rows(frame: pd.DataFrame) -> dict:
    """``{((segmenter, tta), source): {metric: Cell}}`` over the seeds of ``frame``'s rows
    (one per key); metrics are ``mIoU``, ``mAcc``, the store's class columns, ``params`` and
    ``macs``."""
    metrics = list(SUMMARY_COLUMNS) + class_columns(frame) + ['params', 'macs']
    summary = {}
    for (segmenter, tta, source), group in frame.groupby(['segmenter', 'tta', 'source'],
                                                         sort=False):
        cells = {}
        for metric in metrics:
            values = pd.to_numeric(group[metric], errors='coerce').to_numpy(dtype=float)
            finite = values[~np.isnan(values)]
            if finite.size == 0:
                cells[metric] = Cell(math.nan, n=0)
            else:
                std = float(finite.std(ddof=1)) if finite.size > 1 else math.nan
                cells[metric] = Cell(float(finite.mean()), std, int(finite.size))
        summary[((str(segmenter), bool(tta)), str(source))] = cells
    return summary


def seed_counts(summary: Mapping) -> list[int]:
    """The distinct numbers of seeds behind the cells (mIoU) of a summary, ascending."""
    return sorted({cells['mIoU'].n for cells in summary.values() if 'mIoU' in cells})


def mark_seed_counts(summary: Mapping) -> dict:
    """When cells stand on different numbers of seeds, every cell shows its ``(n=k)``."""
    if len(seed_counts(summary)) <= 1:
        return dict(summary)
    return {key: {metric: Cell(c.mean, c.std, c.n, c.reported, c.digits, show_n=True)
                  for metric, c in cells.items()} for key, cells in summary.items()}


def ordered_segmenters(keys: Iterable[SegRun]) -> list[SegRun]:
    """Catalogue order, each plain evaluation before its TTA one, unknown names last."""
    keys = list(dict.fromkeys(keys))
    order = list(SEGMENTERS)
    return sorted(keys, key=lambda k: (order.index(k[0]) if k[0] in order else len(order),
                                       k[0], bool(k[1])))


def ordered_sources(keys: Iterable[str]) -> list[str]:
    """``ir``, ``vi``, then fused sources in the order given."""
    keys = list(dict.fromkeys(keys))
    return [k for k in ('ir', 'vi') if k in keys] + [k for k in keys if k not in ('ir', 'vi')]


def select_reported(dataset: str, methods: Optional[Sequence[str]] = DEFAULT_REPORTED,
                    tables: Sequence[str] = ('table1', 'table2', 'later')) -> list[ReportedRow]:
    """Reported rows to show: the named methods plus every feature-level one (``methods=None``:
    all; an empty list: none)."""
    rows = [row for row in reported_rows(dataset) if row.table in tables]
    if methods is None:
        return rows
    if not methods:
        return []
    return [row for row in rows if row.method in methods or row.kind == 'feature-level']


def reported_cell(row: ReportedRow, metric: str, value: Optional[float]) -> Optional[Cell]:
    """A reported value as a cell, with the marks of the row's flags that concern it (a
    missing value that is flagged shows its mark alone)."""
    mark = ''.join(flag.mark for flag in row.flagged(metric))
    if value is None and not mark:
        return None
    return Cell(math.nan if value is None else value, reported=True, mark=mark)


def _reported_matches(row: ReportedRow, seg: SegRun) -> bool:
    """A reported row stands beside our plain (not TTA) runs of the same segmenter."""
    return row.segmenter == seg[0] and not seg[1]


# ----------------------------------------------------------------------------------------
# The tables, as DataFrames of Cells
# ----------------------------------------------------------------------------------------
def table1(summary: Mapping, classes: ClassInfo,
           reported: Sequence[ReportedRow] = ()) -> pd.DataFrame:
    """Rows (class, segmenter), columns: our sources, then ``<method> (reported)``."""
    segmenters = ordered_segmenters(seg for seg, _ in summary)
    sources = ordered_sources(src for _, src in summary)
    reported_methods = list(dict.fromkeys(
        row.method for row in reported if row.iou and any(_reported_matches(row, seg)
                                                          for seg in segmenters)))
    index, data = [], []
    for metric in list(classes.names) + ['mIoU']:
        for seg in segmenters:
            index.append((classes.title(metric), seg_title(seg)))
            values = [summary.get((seg, src), {}).get(metric) for src in sources]
            for method in reported_methods:
                match = [row for row in reported if row.method == method
                         and _reported_matches(row, seg)]
                cell = None
                if match:
                    value = (match[0].miou if metric == 'mIoU'
                             else match[0].per_class().get(metric))
                    cell = reported_cell(match[0], metric, value)
                values.append(cell)
            data.append(values)
    columns = [source_title(src) for src in sources] + [f'{m} (reported)'
                                                        for m in reported_methods]
    frame = pd.DataFrame(data, index=pd.MultiIndex.from_tuples(index, names=['Class',
                                                                             'Segmenter']),
                         columns=columns)
    return frame.dropna(axis=1, how='all')


def table2(summary: Mapping, classes: ClassInfo, reported: Sequence[ReportedRow] = (),
           complexity: Optional[Mapping] = None) -> pd.DataFrame:
    """Rows (method, segmenter, kind), columns: the classes, mIoU, Params (M), GMACs.

    Our image-level rows (kind ``ours``: method = the source) come first, then our
    feature-level models (kind :data:`FEATURE_LEVEL_OURS`: method = the model, ``CMX-B2``, on
    the ``rgbt`` source), then the reported rows: those of segmenters we ran, and the
    feature-level ones of other backbones or named like one of our models (the paper's
    ``CMX-B2`` beside ours).  ``complexity`` maps ``(segmenter, source)`` to ``(params, macs)``
    of the whole pipeline (see :func:`pipeline_complexity`); missing pipelines stay blank.
    """
    complexity = complexity or {}
    segmenters = ordered_segmenters(seg for seg, _ in summary)
    sources = ordered_sources(src for _, src in summary)
    cells_of = [(src, seg) for src in sources for seg in segmenters if (seg, src) in summary]
    image_level = [(src, seg) for src, seg in cells_of if not feature_level_run(seg, src)]
    feature_level = sorted((pair for pair in cells_of if feature_level_run(pair[1], pair[0])),
                           key=lambda pair: segmenters.index(pair[1]))
    index, data = [], []

    def add(label: tuple, src: str, seg: SegRun) -> None:
        cells = summary[(seg, src)]
        index.append(label)
        params, macs = complexity.get((seg, src), (None, None))
        data.append([cells.get(m) for m in classes.names] + [cells['mIoU']] +
                    [size_cell(params, 1e6), size_cell(macs, 1e9)])

    for src, seg in image_level:
        add((source_title(src), seg_title(seg), 'ours'), src, seg)
    for src, seg in feature_level:
        method = display_name(seg[0]) + ('' if src == RGBT_SOURCE else f' ({src})')
        add((method, seg_title(seg), FEATURE_LEVEL_OURS), src, seg)
    ours = {seg[0] for seg in segmenters}
    our_models = {display_name(seg[0]) for _, seg in feature_level}
    for row in reported:
        if row.segmenter in SEGMENTERS and row.segmenter not in ours and not (
                row.kind == 'feature-level' and row.method in our_models):
            continue  # a reported row of a segmenter (or feature-level model) we did not run
        index.append((row.method, display_name(row.segmenter), 'reported'))
        per_class = row.per_class()
        data.append([reported_cell(row, c, per_class.get(c)) for c in classes.names] +
                    [reported_cell(row, 'mIoU', row.miou), None, None])
    columns = list(classes.titles) + ['mIoU', 'Params (M)', 'GMACs']
    return pd.DataFrame(data, index=pd.MultiIndex.from_tuples(
        index, names=['Method', 'Segmenter', 'Kind']), columns=columns)


def table5(summary: Mapping, classes: ClassInfo, fusion_source: str,
           head_metrics: Optional[Mapping] = None,
           reported: Sequence[ReportedRow] = ()) -> pd.DataFrame:
    """The fusion network's semantic head (``head_metrics``, from
    :func:`~psfusion.metrics.segmentation.evaluate_label_pairs`) against each segmenter on its
    fused images, plus the paper's Table 5 when given."""
    index, data = [], []
    if head_metrics is not None:
        index.append((f'{fusion_source}: direct segmentation (semantic head)', 'ours'))
        data.append([Cell(head_metrics[f'IoU.{c}']) for c in classes.names] +
                    [Cell(head_metrics['mIoU'])])
    for seg in ordered_segmenters(seg for seg, src in summary if src == fusion_source):
        cells = summary[(seg, fusion_source)]
        index.append((f'{fusion_source} + {seg_title(seg)}', 'ours'))
        data.append([cells.get(c) for c in classes.names] + [cells['mIoU']])
    for row in reported:
        name = ('PSFusion: direct segmentation (semantic head)' if row.kind == 'semantic head'
                else f'{row.method} + {display_name(row.segmenter)}')
        index.append((name, 'reported'))
        per_class = row.per_class()
        data.append([reported_cell(row, c, per_class.get(c)) for c in classes.names] +
                    [reported_cell(row, 'mIoU', row.miou)])
    columns = list(classes.titles) + ['mIoU']
    return pd.DataFrame(data, index=pd.MultiIndex.from_tuples(index, names=['Method', 'Kind']),
                        columns=columns)


def read_manifest_complexity(folder: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """``(params, macs)`` of a fusion method from ``folder/manifest.json`` (None if absent).

    ``macs`` counts multiply-adds (as for the segmenters).  Manifests written before it existed
    may carry ``flops`` in the same convention; it is read as a fallback.
    """
    if not folder:
        return None, None
    path = os.path.join(folder, 'manifest.json')
    if not os.path.isfile(path):
        return None, None
    with open(path, encoding='utf-8') as handle:
        manifest = json.load(handle)

    def number(key):
        value = manifest.get(key)
        return int(value) if isinstance(value, (int, float)) and not isinstance(
            value, bool) else None

    macs = number('macs')
    return number('params'), macs if macs is not None else number('flops')


def segmenter_complexity_entry(complexity: Mapping, segmenter: str,
                               input_hw: Optional[Sequence[int]] = None) -> Optional[dict]:
    """The ``complexity.json`` entry of a segmenter (keys ``<segmenter>@<H>x<W>``).

    With ``input_hw``, only the entry of that size; without, the entry of the largest input
    (the benchmark counts at the test image size; a smoke run at a smaller size must not stand
    in for the real one).  Entries written before ``macs`` existed call it ``flops``.
    """
    best, best_area = None, -1
    for key, value in complexity.items():
        name, _, size = key.partition('@')
        if name != segmenter:
            continue
        try:
            h, w = (int(v) for v in size.split('x'))
        except ValueError:
            continue
        if input_hw is not None and (h, w) != tuple(int(v) for v in input_hw):
            continue
        if h * w > best_area:
            best, best_area = value, h * w
    return None if best is None else upgrade_complexity(best)


def row_complexity(cells: Mapping) -> tuple[Optional[int], Optional[int]]:
    """``(params, macs)`` that a summary cell's results rows carry (the segmenter alone, as the
    benchmark counted it on the run's input: 4 channels for ``rgbt``), or Nones."""
    values = []
    for metric in ('params', 'macs'):
        cell = cells.get(metric)
        ok = isinstance(cell, Cell) and cell.mean is not None and not math.isnan(cell.mean)
        values.append(int(round(cell.mean)) if ok else None)
    return values[0], values[1]


def measured_complexity(summary: Mapping, feature_level: Optional[bool] = None) -> dict:
    """``{segmenter: (params, macs)}`` from the results rows' ``params`` / ``macs`` columns (the
    first cell of each segmenter that has both); ``feature_level``: only the feature-level
    (True) or image-level (False) models."""
    out = {}
    for (seg, src), cells in summary.items():
        if seg[0] in out or (feature_level is not None and
                             feature_level_run(seg, src) != feature_level):
            continue
        params, macs = row_complexity(cells)
        if params is not None and macs is not None:
            out[seg[0]] = (params, macs)
    return out


def pipeline_complexity(summary: Mapping, complexity: Mapping,
                        fusion: Mapping[str, tuple],
                        input_hw: Optional[Sequence[int]] = None) -> dict:
    """``{((segmenter, tta), source): (params, macs)}`` of segmenter plus fusion method.

    ``complexity`` is the work folder's ``complexity.json`` (where a segmenter has no entry:
    the ``params`` / ``macs`` its results rows carry); ``fusion`` maps a fused source to the
    ``(params, macs)`` of its method; a fused source whose method is unknown (not in
    ``fusion``, or Nones) stays blank.  Infrared, visible and ``rgbt`` (a feature-level model,
    the whole network) have no fusion method.  Test-time augmentation's extra passes are not
    counted.  ``input_hw``: the test images' size (only that entry counts; None: the largest).
    """
    out = {}
    for (seg, src), cells in summary.items():
        info = segmenter_complexity_entry(complexity, seg[0], input_hw)
        params, macs = (info['params'], info['macs']) if info else row_complexity(cells)
        if params is None or macs is None:
            continue
        if src not in SOURCE_TITLES:  # a fused source: add its method, if known
            f_params, f_macs = fusion.get(src, (None, None))
            if f_params is None or f_macs is None:
                continue
            params, macs = params + f_params, macs + f_macs
        out[(seg, src)] = (params, macs)
    return out


def _hw_text(info: Optional[Mapping], input_hw: Optional[Sequence[int]]) -> str:
    hw = (info or {}).get('input_hw') or input_hw
    return f'{hw[0]}x{hw[1]}' if hw else '?'


def complexity_table(complexity: Mapping, fusion: Mapping[str, tuple],
                     segmenters: Sequence[SegRun],
                     input_hw: Optional[Sequence[int]] = None,
                     feature_level: Optional[Mapping[str, tuple]] = None,
                     image_level: Optional[Mapping[str, tuple]] = None) -> pd.DataFrame:
    """Parameters, multiply-adds and FLOPs (``2 x MACs``) of each pipeline.

    Per image-level segmenter (``complexity.json``'s entry; without one, its ``(params, macs)``
    in ``image_level``, the results rows' counts at ``input_hw``): alone and behind each fusion
    method (``fusion``: ``{source: (params, macs)}``; unknown: blank).  Then each feature-level
    model of ``segmenters`` with its measured ``(params, macs)`` in ``feature_level``
    (:func:`measured_complexity` of the results rows, counted on the 4-channel R, G, B, T
    input; both streams and the fusion modules included); a feature-level segmenter without
    numbers is left out, never estimated.
    """
    feature_level, image_level = feature_level or {}, image_level or {}
    index, data = [], []

    def add(label: str, hw: str, params, macs) -> None:
        index.append((label, hw))
        data.append([size_cell(params, 1e6), size_cell(macs, 1e9),
                     size_cell(None if macs is None else 2 * macs, 1e9)])

    keys = list(dict.fromkeys(seg[0] for seg in ordered_segmenters(segmenters)))
    for key in keys:
        if is_feature_level(key) or key in feature_level:
            continue
        info = segmenter_complexity_entry(complexity, key, input_hw)
        if info is None and key in image_level:
            info = dict(params=image_level[key][0], macs=image_level[key][1])
        if info is None:
            continue
        hw, name = _hw_text(info, input_hw), display_name(key)
        add(f'{name} alone', hw, info['params'], info['macs'])
        for source, (f_params, f_macs) in fusion.items():
            known = f_params is not None and f_macs is not None
            add(f'{source} + {name} (image-level fusion)', hw,
                info['params'] + f_params if known else None,
                info['macs'] + f_macs if known else None)
    for key in keys:
        if key in feature_level:
            params, macs = feature_level[key]
            info = segmenter_complexity_entry(complexity, key, input_hw)
            add(f'{display_name(key)} (feature-level fusion, measured)',
                _hw_text(info, input_hw), params, macs)
    return pd.DataFrame(data, index=pd.MultiIndex.from_tuples(
        index, names=['Pipeline', 'Input (HxW)']), columns=['Params (M)', 'GMACs',
                                                            'GFLOPs (2 x MACs)'])


# ----------------------------------------------------------------------------------------
# Highlighting and rendering
# ----------------------------------------------------------------------------------------
def rank_marks(frame: pd.DataFrame, axis: str, columns: Optional[Sequence[str]] = None
               ) -> pd.DataFrame:
    """``'best'``/``'second'`` marks for our cells, per row (``axis='row'``) or per column.

    Ties are not ranked: the highest value is best only when one cell holds it, and the next
    value second only when one cell holds it too (two cells at 0.00 are not "second best";
    below a tie for best nothing is second).  No second best among two values.  Values are
    compared as printed (two decimals).  ``columns`` limits which columns take part (e.g. not
    complexity).
    """
    marks = pd.DataFrame('', index=frame.index, columns=frame.columns)
    columns = list(columns) if columns is not None else list(frame.columns)

    def mark(labels: list) -> None:
        values = {}
        for label in labels:
            cell = frame.at[label]
            if isinstance(cell, Cell) and not cell.reported and not math.isnan(cell.mean):
                values[label] = round(cell.mean, 2)  # as printed
        distinct = sorted(set(values.values()), reverse=True)
        if len(distinct) < 2:  # nothing to tell apart (e.g. every value 0)
            return
        counts = {value: list(values.values()).count(value) for value in distinct}
        if counts[distinct[0]] > 1:  # tied for best: no best, and nothing is second
            return
        marks.at[next(lab for lab, v in values.items() if v == distinct[0])] = 'best'
        if len(values) > 2 and counts[distinct[1]] == 1:
            marks.at[next(lab for lab, v in values.items() if v == distinct[1])] = 'second'

    if axis == 'row':
        for row in frame.index:
            mark([(row, column) for column in columns])
    else:
        for column in columns:
            mark([(row, column) for row in frame.index])
    return marks


_MARKUP = {
    'md': {'best': '**{}**', 'second': '_{}_', '': '{}'},
    'tex': {'best': r'\textbf{{{}}}', 'second': r'\underline{{{}}}', '': '{}'},
    'csv': {'best': '{}', 'second': '{}', '': '{}'},
}


def cell_texts(frame: pd.DataFrame, marks: Optional[pd.DataFrame], fmt: str) -> pd.DataFrame:
    """Text of every cell in a format, with highlights; blank for missing values."""
    def text(row, column):
        cell = frame.at[row, column]
        if not isinstance(cell, Cell):
            return ''
        value = cell.text()
        if fmt == 'tex':
            value = _tex_symbols(value)
        mark = marks.at[row, column] if marks is not None else ''
        return _MARKUP[fmt][mark].format(value) if value != '-' else value

    return pd.DataFrame([[text(r, c) for c in frame.columns] for r in frame.index],
                        index=frame.index, columns=frame.columns)


def _tex_symbols(text: str) -> str:
    return (text.replace('±', r'$\pm$').replace('\u2020', r'$^\dagger$')
            .replace('\u2021', r'$^\ddagger$'))


def _escape_tex(text: str) -> str:
    return _tex_symbols(text.replace('_', r'\_').replace('&', r'\&').replace('%', r'\%')
                        .replace('#', r'\#'))


def render(frame: pd.DataFrame, marks: Optional[pd.DataFrame], fmt: str,
           caption: str = '', label: str = '', note: str = '') -> str:
    """Render a table (index levels become the first columns) as md, csv or tex.

    LaTeX (``booktabs`` rules, scaled to the text width with ``graphicx``'s ``\\resizebox``)
    takes ``label`` (``\\label``) and ``note`` (a footnote below the table); Markdown shows
    ``note`` below the table."""
    if fmt not in FORMATS:
        raise ValueError(f'unknown format {fmt!r}; valid: {", ".join(FORMATS)}')
    texts = cell_texts(frame, marks, fmt)
    names = [str(n) for n in frame.index.names]
    header = names + [str(c) for c in frame.columns]
    rows = [[str(v) for v in (label if isinstance(label, tuple) else (label, ))] +
            list(texts.loc[label]) for label in frame.index]
    if fmt == 'csv':
        return pd.DataFrame(rows, columns=header).to_csv(index=False)
    if fmt == 'md':
        lines = ([f'*{caption}*', ''] if caption else [])
        lines.append('| ' + ' | '.join(header) + ' |')
        lines.append('|' + '|'.join(['---'] * len(names) + ['--:'] * len(frame.columns)) + '|')
        lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
        if note:
            lines += ['', note]
        return '\n'.join(lines) + '\n'
    spec = 'l' * len(names) + 'r' * len(frame.columns)
    lines = [r'\begin{table}[t]', r'\centering']
    if caption:
        lines.append(r'\caption{' + _escape_tex(caption) + '}')
    if label:
        lines.append(r'\label{' + label + '}')
    lines += [r'\resizebox{\textwidth}{!}{%', r'\begin{tabular}{' + spec + '}', r'\toprule',
              ' & '.join(_escape_tex(h) for h in header) + r' \\', r'\midrule']
    for row in rows:
        cells = [_escape_tex(v) for v in row[:len(names)]] + row[len(names):]
        lines.append(' & '.join(cells) + r' \\')
    lines += [r'\bottomrule', r'\end{tabular}}']
    if note:
        lines.append(r'\par\smallskip{\footnotesize ' + _escape_tex(note) + '}')
    lines.append(r'\end{table}')
    return '\n'.join(lines) + '\n'
