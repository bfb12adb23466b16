"""Everything ``tools/make_tables.py`` writes, from a results store and its work folder.

The work folder (the store's folder) also holds ``sources.json`` (dataset root and each source's
folder, written by the benchmark tool) and ``complexity.json`` (segmenter parameters/FLOPs).

Outputs in ``out_dir``: ``table.md`` (every table, Markdown), ``table1.<fmt>``,
``table2.<fmt>``, ``table5.<fmt>``, ``complexity.<fmt>`` for each requested format,
``stats.md`` (intervals, comparisons, day and night: :mod:`.uncertainty`),
``figure_<dataset>.png`` (the qualitative figure) and ``figure3_<dataset>.png`` (the paper's
Figure 3: mIoU against parameters and GFLOPs of image-level pipelines and feature-level models,
:func:`figure3_points`; its points are listed in ``table.md`` too).

Each table says what it is: the recipe of its runs (schedule, iterations, batch, pretrained
checkpoint), the number of seeds per cell, and that the paper's numbers were likely evaluated
with test-time augmentation.  Runs of different recipes are refused in one table unless
``allow_mixed`` (then footnoted).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Optional, Sequence

from ..data.io import DataError, read_label
from ..data.layouts import build_layout, dataset_metainfo
from ..fileio import write_text
from ..metrics.segmentation import evaluate_label_pairs
from .catalog import dataset_title, display_name
from .datasets import split_samples
from .figures import ComplexityPoint, complexity_figure, pick_stems, qualitative_figure
from .reported import footnotes, reported_rows
from .results import RunKey, check_classes, find_result, latest_results, read_results
from .run_paths import SOURCES_FILE, prediction_dir, read_complexity
from .sources import split_folder
from .tables import (DEFAULT_REPORTED, FEATURE_LEVEL_OURS, FORMATS, SOURCE_TITLES, Cell,
                     ClassInfo, complexity_table, feature_level_run, mark_seed_counts,
                     measured_complexity, ordered_segmenters, ordered_sources,
                     pipeline_complexity, rank_marks, read_manifest_complexity, recipe_text,
                     recipes_present, render, row_complexity, seed_counts,
                     segmenter_complexity_entry, select_reported, seg_title, size_cell,
                     source_title, summarize, summarize_rows, table1, table2, table5,
                     table_rows)
from .uncertainty import load_cells, uncertainty_markdown


@dataclass
class TableOptions:
    """What to build.

    Attributes:
        formats: any of ``md``, ``csv``, ``tex``.
        reported: reported methods to show (None: all; empty: none); feature-level methods
            are always shown with a non-empty selection.
        fusion_source: the fused source whose network's semantic head Table 5 evaluates.
        seg_pred: folder of the semantic head's class-id PNGs; default: where the dataset's
            layout puts them in the fused folder (``<fused folder>/test/seg_pred`` for MSRS,
            ``<fused folder>/seg_pred`` for MFNet) when it exists.
        figure: draw the figures: the qualitative one (``figure_images`` rows, predictions of
            ``figure_segmenter``, default: the first segmenter with results) and Figure 3.
        split: the evaluated split (labels for Table 5, images for the figure).
        allow_mixed: build the tables from runs of different recipes (footnoted) instead of
            stopping.
        stats: write the intervals, comparisons and day/night scores (``stats.md``).
    """
    formats: Sequence[str] = ('md', )
    reported: Optional[Sequence[str]] = DEFAULT_REPORTED
    fusion_source: str = 'psfusion'
    seg_pred: Optional[str] = None
    figure: bool = True
    figure_images: int = 4
    figure_segmenter: Optional[str] = None
    split: str = 'test'
    allow_mixed: bool = False
    stats: bool = True


#: Said under every table that quotes the paper.
TTA_NOTE = ('The paper\'s numbers were most likely evaluated with multi-scale + flip test-time '
            'augmentation (the authors\' mmseg configs); compare them with our "+ TTA" rows '
            '(`--tta`), not only with single-scale ones.')


def recipe_notes(rows, summary) -> list[str]:
    """What every table states: the recipe(s) of its runs (``rows``: every key's latest row
    of each recipe, :func:`.tables.recipes_present`) and the seeds per cell."""
    recipes = list(dict.fromkeys(rows['recipe'])) if len(rows) else []
    notes = []
    if len(recipes) == 1:
        notes.append(f'Recipe: {recipe_text(recipes[0])}.')
    elif recipes:
        parts = []
        for recipe in recipes:
            runs = rows[rows['recipe'] == recipe]
            cells = sorted({f'{r.segmenter}/{r.source}' for r in runs.itertuples()})
            parts.append(f'{recipe_text(recipe)} ({", ".join(cells)})')
        notes.append('**Mixed recipes (--allow-mixed)**: ' + '; '.join(parts) + '.')
    counts = seed_counts(summary)
    if len(counts) == 1:
        notes.append(f'Each cell: n={counts[0]} seed{"s" if counts[0] != 1 else ""}'
                     f'{" (mean ± std)" if counts[0] > 1 else ""}.')
    elif counts:
        notes.append('Cells stand on different numbers of seeds: each shows its (n=k).')
    return notes


def _read_json(path: str) -> dict:
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f'{path}: corrupt JSON ({exc}). Delete it; the benchmark tool writes '
                        f'it again.') from exc


def _fused_folder(sources_info: dict, source: str, split: str) -> Optional[str]:
    """The folder of a fused source for ``split`` (None for unknown or single sources)."""
    info = sources_info.get('sources', {}).get(source, {})
    if info.get('kind') != 'fused' or not info.get('folder'):
        return None
    return split_folder(info['folder'], split)


def _fusion_networks(sources_info: dict, sources: Sequence[str], split: str) -> dict:
    """``{fused source: (params, macs)}`` from the fused folders' manifests."""
    return {src: read_manifest_complexity(_fused_folder(sources_info, src, split))
            for src in sources
            if sources_info.get('sources', {}).get(src, {}).get('kind') == 'fused'}


def _layout_output_dir(dataset: str, sources_info: dict, split: str,
                       kind: str = 'fused') -> Optional[str]:
    """Where ``tools/fuse.py`` puts a split's fused images (or ``seg_pred``) for this dataset,
    relative to the fused folder (None when the dataset root is not available)."""
    root = sources_info.get('data_root')
    if not root or not os.path.isdir(root):
        return None
    return build_layout(dataset, root).output_dir(split, kind)


def semantic_head_metrics(dataset: str, data_root: str, pred_dir: str,
                          split: str = 'test') -> dict:
    """Per-class metrics of class-id predictions in ``pred_dir`` against the split's labels
    (the dataset's classes)."""
    meta = dataset_metainfo(dataset)
    classes = meta['classes']
    samples = split_samples(dataset, data_root, split)
    missing = [s['name'] for s in samples
               if not os.path.isfile(os.path.join(pred_dir, f"{s['name']}.png"))]
    if missing:
        shown = ', '.join(missing[:10]) + (' ...' if len(missing) > 10 else '')
        raise DataError(f'semantic-head prediction for {shown} ({len(missing)} of '
                        f'{len(samples)}) not found in {pred_dir} (expected <stem>.png class-id '
                        f'images, e.g. from tools/fuse.py --save-seg).')

    def pairs():
        for sample in samples:
            pred = read_label(os.path.join(pred_dir, f"{sample['name']}.png"), len(classes),
                              meta['ignore_index'])
            yield pred, read_label(sample['seg_map_path'], len(classes), meta['ignore_index'])

    return evaluate_label_pairs(pairs(), classes)


def _section(title: str, frame, marks, fmt: str, note: str = '') -> str:
    body = render(frame, marks, fmt, note=note)
    if fmt != 'md':
        return body
    return f'## {title}\n\n' + body + '\n'


def segmenter_summary(results_path: str, dataset: str, segmenter: str,
                      sources: Optional[Sequence[str]] = None, tta: bool = False) -> str:
    """Markdown per-class table (sources as rows) of one segmenter, ours only (the latest row
    of each run, whatever its recipe: a progress summary, not a table to publish)."""
    summary = summarize(read_results(results_path), dataset, allow_mixed=True)
    summary = {k: v for k, v in summary.items()
               if k[0] == (segmenter, tta) and (sources is None or k[1] in sources)}
    name = display_name(segmenter, tta)
    if not summary:
        return f'(no results for {name} on {dataset_title(dataset)} in {results_path})'
    frame = table2(summary, ClassInfo.of_dataset(dataset))
    frame = frame.drop(columns=['Params (M)', 'GMACs'])
    marks = rank_marks(frame, axis='column')
    return f'{name} on {dataset_title(dataset)}, IoU (%):\n\n' + render(frame, marks, 'md')


def _note(common: str, text: str, extra: Sequence[str] = ()) -> str:
    return ' '.join(part for part in [common, text] + list(extra) if part)


def _flag_notes(rows) -> list[str]:
    """Footnotes of the known problems of the reported rows shown (:data:`.reported.FLAGS`)."""
    return [f'{flag.mark} {flag.footnote}' for flag in footnotes(rows)]


def t1_reported_notes(table, reported) -> list[str]:
    """The TTA remark and the footnotes of the reported rows a Table 1 layout shows."""
    shown = {c[:-len(' (reported)')] for c in table.columns if c.endswith(' (reported)')}
    segmenters = {label[1] for label in table.index}
    rows = [row for row in reported if row.method in shown and
            display_name(row.segmenter) in segmenters]
    return ([TTA_NOTE] if shown else []) + _flag_notes(rows)


def t2_reported_notes(table, reported) -> list[str]:
    """The TTA remark and the footnotes of the reported rows a Table 2 layout shows."""
    shown = {(label[0], label[1]) for label in table.index if label[2] == 'reported'}
    rows = [row for row in reported if (row.method, display_name(row.segmenter)) in shown]
    return ([TTA_NOTE] if shown else []) + _flag_notes(rows)


#: Said under the complexity table when the results hold no feature-level model.
NO_FEATURE_LEVEL_NOTE = (
    'No feature-level model was measured in these results (no run of a feature-level '
    'segmenter on the rgbt source, e.g. `tools/benchmark_downstream.py --seg cmx_b2 --sources '
    'rgbt`), so the table has no feature-level line; the parameters and FLOPs of the paper\'s '
    'feature-level methods are not in this repository.')


def complexity_note(feature_level: dict) -> str:
    """What the complexity table counts (and, without feature-level rows, that it has none)."""
    text = ('Image-level pipelines: the segmenter (complexity.json, else its results rows; one '
            "image at the test size) plus the fusion network from its fused folder's "
            'manifest.json (blank where the manifest records none). GMACs are multiply-adds '
            "(mmengine's count, what many papers call FLOPs); GFLOPs = 2 x MACs.")
    if not feature_level:
        return text + ' ' + NO_FEATURE_LEVEL_NOTE
    return text + (' Feature-level rows: the models measured in these results, as their rows '
                   'carry them (the whole network, both modality streams and the fusion '
                   'modules, on the 4-channel R, G, B, T input).')


def figure3_points(summary: dict, complexity: dict, fusion: dict, reported=(),
                   input_hw=None) -> tuple[list, list]:
    """The points of the paper's Figure 3 (:class:`.figures.ComplexityPoint`) and the notes
    that say what was counted.

    * Measured image-level pipelines: each plain (not TTA) run on a fused source; params and
      MACs = the segmenter (``complexity.json`` at the test size, else its results rows) + the
      fusion network from the fused folder's ``manifest.json``; where the manifest records no
      complexity only the segmenter is counted, the label ends in ``*`` and a note says so.
    * Measured feature-level models: each plain run on ``rgbt``, the params and MACs its
      results rows carry (the whole network, 4-channel input).
    * Reported (hollow): the paper's mIoU of a pipeline or feature-level model whose
      architecture was measured here (same segmenter and a fused source named like the method,
      ``psfusion`` for PSFusion; or one of our feature-level models, ``CMX-B2``), placed at the
      measured params and MACs; the others (feature-level ones, and image-level ones of a
      segmenter we ran) are named in a note: the repository has no counts for them.  Single
      modalities (no fusion) are not plotted, nor TTA runs (a note says so).
    """
    segmenters = ordered_segmenters(seg for seg, _ in summary)
    sources = ordered_sources(src for _, src in summary)
    counts, measured, uncounted, tta = {}, [], [], False
    for src in sources:
        for seg in segmenters:
            cells = summary.get((seg, src))
            if cells is None:
                continue
            info = segmenter_complexity_entry(complexity, seg[0], input_hw)
            rows = row_complexity(cells)
            feature = feature_level_run(seg, src)
            params, macs = rows if feature or info is None else (info['params'], info['macs'])
            if params is None or macs is None:
                continue
            counts.setdefault(seg[0], (params, macs))
            miou = cells['mIoU'].mean
            if seg[1]:
                tta = True
                continue
            if miou is None or math.isnan(miou) or (src in SOURCE_TITLES and not feature):
                continue
            if feature:
                measured.append(ComplexityPoint(display_name(seg[0]), 'feature-level', True,
                                                miou, params, macs))
                continue
            f_params, f_macs = fusion.get(src, (None, None))
            label = f'{src} + {seg_title(seg)}'
            if f_params is None or f_macs is None:
                uncounted.append(src)
                measured.append(ComplexityPoint(label + ' *', 'image-level', True, miou, params,
                                                macs))
            else:
                measured.append(ComplexityPoint(label, 'image-level', True, miou,
                                                params + f_params, macs + f_macs))
    measured.sort(key=lambda p: p.kind == 'feature-level')  # image-level first, stable
    fused = {src.lower(): src for src in sources if src not in SOURCE_TITLES and
             None not in fusion.get(src, (None, None))}
    models = {display_name(key): key for key in counts
              if any(feature_level_run(seg, src) for seg, src in summary if seg[0] == key)}
    points, missing = list(measured), []
    for row in reported:
        if row.kind == 'image-level':
            src = fused.get(row.method.lower())
            if src and row.segmenter in counts:
                (params, macs), (f_params, f_macs) = counts[row.segmenter], fusion[src]
                points.append(ComplexityPoint(
                    f'{row.method} + {display_name(row.segmenter)} (reported)', 'image-level',
                    False, row.miou, params + f_params, macs + f_macs))
            elif row.segmenter in counts:  # our segmenter, their fusion network uncounted
                missing.append(f'{row.method} + {display_name(row.segmenter)}')
        elif row.kind == 'feature-level':
            if row.method in models:
                params, macs = counts[models[row.method]]
                points.append(ComplexityPoint(f'{row.method} (reported)', 'feature-level',
                                              False, row.miou, params, macs))
            else:
                missing.append(row.method)
    notes = ['Filled: measured here; hollow: reported (the paper\'s mIoU, placed at the '
             'parameters and FLOPs measured here for the same architecture).',
             'Image-level: fusion network (its fused folder\'s manifest.json) + segmenter '
             '(complexity.json at the test size, else the results rows). Feature-level: the '
             'whole model as its results rows carry it (4-channel R, G, B, T input). '
             'GFLOPs = 2 x multiply-adds (mmengine\'s count), one test image.']
    if uncounted:
        notes.append('* fusion network not counted (its manifest.json records no complexity): '
                     'segmenter only, for ' + ', '.join(dict.fromkeys(uncounted)) + '.')
    if not any(p.kind == 'feature-level' and p.measured for p in points):
        notes.append('No feature-level model was measured in these results.')
    if missing:
        notes.append('Reported without parameter or FLOP counts here (not plotted): ' +
                     ', '.join(dict.fromkeys(missing)) + '.')
    if tta:
        notes.append('Test-time-augmented runs are not plotted.')
    return points, notes


def figure3_frame(points):
    """The points of Figure 3 as a table (for ``table.md``)."""
    import pandas as pd

    index = [(p.label, p.kind, 'measured' if p.measured else 'reported') for p in points]
    data = [[Cell(p.miou, reported=not p.measured), size_cell(p.params, 1e6),
             size_cell(p.flops, 1e9)] for p in points]
    return pd.DataFrame(data, index=pd.MultiIndex.from_tuples(
        index, names=['Point', 'Kind', 'Value']), columns=['mIoU', 'Params (M)', 'GFLOPs'])


def build_tables(results_path: str, dataset: str, out_dir: str,
                 options: Optional[TableOptions] = None) -> dict:
    """Write every table (and the figure); returns ``{name: path}`` of what was written."""
    options = options or TableOptions()
    for fmt in options.formats:
        if fmt not in FORMATS:
            raise ValueError(f'unknown format {fmt!r}; valid: {", ".join(FORMATS)}')
    frame = read_results(results_path)
    classes = ClassInfo.of_dataset(dataset)
    check_classes(frame[frame['dataset'].astype(str) == dataset], classes.names, results_path)
    rows = table_rows(frame, dataset, options.allow_mixed)
    summary = mark_seed_counts(summarize_rows(rows))
    if not summary:
        raise DataError(f'{results_path}: no results for dataset {dataset!r}.')
    work_dir = os.path.dirname(os.path.abspath(results_path))
    sources_info = _read_json(os.path.join(work_dir, SOURCES_FILE))
    complexity = read_complexity(work_dir)
    test_hw = sources_info.get('test_hw')
    sources = ordered_sources(src for _, src in summary)
    segmenters = ordered_segmenters(seg for seg, _ in summary)
    fusion = _fusion_networks(sources_info, sources, options.split)
    reported = select_reported(dataset, options.reported)
    common = ' '.join(recipe_notes(recipes_present(frame, dataset), summary))

    tables = {}
    t1 = table1(summary, classes, reported)
    tables['table1'] = ('Table 1 layout: IoU (%) per class and segmenter, sources as columns',
                        t1, rank_marks(t1, axis='row',
                                       columns=[c for c in t1.columns if 'reported' not in c]),
                        _note(common, 'Best and second best of our runs per row in bold and '
                              'italics (ties not ranked); "(reported)" columns quote the paper.',
                              t1_reported_notes(t1, reported)))
    t2 = table2(summary, classes, reported,
                pipeline_complexity(summary, complexity, fusion, test_hw))
    tables['table2'] = ('Table 2 layout: IoU (%) per source and segmenter',
                        t2, rank_marks(t2, axis='column', columns=list(t2.columns[:-2])),
                        _note(common, 'Params/GMACs: the whole pipeline (fusion method from '
                              "the fused folder's manifest.json + segmenter, one image at the "
                              'test size; GMACs are multiply-adds, what mmengine and many papers '
                              'call FLOPs); blank where unknown. Rows of kind '
                              f'"{FEATURE_LEVEL_OURS}": feature-level models trained here on '
                              'the rgbt source (visible + infrared, 4 channels), complexity of '
                              'the whole network. Rows of kind "reported" quote the papers.',
                              t2_reported_notes(t2, reported)))
    head = None
    pred_dir = options.seg_pred
    fused_folder = _fused_folder(sources_info, options.fusion_source, options.split)
    if pred_dir is None and fused_folder:  # where tools/fuse.py --save-seg writes them
        relative = _layout_output_dir(dataset, sources_info, options.split, 'seg_pred')
        candidate = os.path.join(fused_folder, relative) if relative else None
        pred_dir = candidate if candidate and os.path.isdir(candidate) else None
    if pred_dir:
        head = semantic_head_metrics(dataset, sources_info.get('data_root', ''), pred_dir,
                                     options.split)
    t5_reported = reported_rows(dataset, 'table5') if options.reported != [] else []
    t5 = table5(summary, classes, options.fusion_source, head, t5_reported)
    if len(t5):
        tables['table5'] = ('Table 5: semantic head of the fusion network vs a segmenter on '
                            'its fused images', t5, rank_marks(t5, axis='column'),
                            _note(common, '', _flag_notes(t5_reported)))
    feature_level = measured_complexity(summary, feature_level=True)
    tc = complexity_table(complexity, fusion, segmenters, test_hw, feature_level,
                          measured_complexity(summary, feature_level=False))
    if len(tc):
        tables['complexity'] = ('Complexity: image-level vs feature-level fusion', tc, None,
                                complexity_note(feature_level))
    points, figure_notes = figure3_points(summary, complexity, fusion, reported, test_hw)

    written = {}
    os.makedirs(out_dir, exist_ok=True)
    for fmt in options.formats:
        for name, (title, table, marks, note) in tables.items():
            path = os.path.join(out_dir, f'{name}.{fmt}')
            write_text(path, render(table, marks, fmt, caption=title, label=f'tab:{name}',
                                    note=note if fmt != 'csv' else ''))
            written[f'{name}.{fmt}'] = path
    document = [f'# Downstream segmentation on {dataset_title(dataset)}\n',
                f'From `{results_path}`: {len(rows)} runs; IoU in percent, mean ± std over '
                f'seeds where several. {common}\n']
    for name, (title, table, marks, note) in tables.items():
        document.append(_section(title, table, marks, 'md', note))
    if points:
        drawn = f' (figure3_{dataset}.png)' if options.figure else ''
        document.append(_section(f'Figure 3 points{drawn}',
                                 figure3_frame(points), None, 'md', ' '.join(figure_notes)))
    if options.stats:
        cells, missing = load_cells(rows, work_dir)
        ordered = {(seg, src): cells[(seg, src)] for seg in segmenters for src in sources
                   if (seg, src) in cells}
        text = uncertainty_markdown(ordered, dataset, seg_title, source_title)
        if missing:
            text += '\n' + '\n'.join(f'- {line}' for line in missing) + '\n'
        if text:
            document.append(text)
            path = os.path.join(out_dir, 'stats.md')
            write_text(path, f'# Uncertainty of the {dataset_title(dataset)} results\n\n'
                       f'From `{results_path}`. {common}\n\n' + text)
            written['stats.md'] = path
    path = os.path.join(out_dir, 'table.md')
    write_text(path, '\n'.join(document))
    written['table.md'] = path
    if options.figure:
        figure = draw_figure(frame, dataset, work_dir, sources_info, out_dir, options,
                             segmenters, sources)
        if figure:
            written['figure'] = figure
        if points:
            path = os.path.join(out_dir, f'figure3_{dataset}.png')
            complexity_figure(path, points, f'{dataset_title(dataset)}: mIoU against '
                              'complexity, image-level vs feature-level fusion (the paper\'s '
                              'Figure 3)', ' '.join(figure_notes))
            written['figure3'] = path
    return written


def draw_figure(frame, dataset: str, work_dir: str, sources_info: dict, out_dir: str,
                options: TableOptions, segmenters: Sequence[tuple],
                sources: Sequence[str]) -> Optional[str]:
    """The qualitative figure for one segmenter (its lowest seed per source)."""
    data_root = sources_info.get('data_root')
    if not data_root or not os.path.isdir(data_root):
        return None
    segmenter, tta = segmenters[0]
    if options.figure_segmenter:
        segmenter, tta = next((seg for seg in segmenters if seg[0] == options.figure_segmenter),
                              (options.figure_segmenter, False))
    latest = latest_results(frame)
    predictions = []
    for source in sources:
        rows = latest[(latest['dataset'] == dataset) & (latest['segmenter'] == segmenter) &
                      (latest['tta'] == tta) & (latest['source'].astype(str) == source)]
        if rows.empty:
            continue
        seed = int(rows['seed'].min())
        row = find_result(rows, RunKey(dataset, segmenter, source, seed, tta))
        folder = prediction_dir(work_dir, row)
        if os.path.isdir(folder):
            predictions.append((f'{source_title(source)} → {seg_title((segmenter, tta))}',
                                folder))
    if not predictions:
        return None
    samples = split_samples(dataset, data_root, options.split)
    chosen = pick_stems([s['name'] for s in samples], options.figure_images)
    samples = [s for s in samples if s['name'] in chosen]
    known = sources_info.get('sources', {})
    fused_name = options.fusion_source if options.fusion_source in known else next(
        (name for name in sources if known.get(name, {}).get('kind') == 'fused'), None)
    fused = (fused_name, known[fused_name]['folder']) if fused_name else None  # may hold {split}
    return qualitative_figure(
        os.path.join(out_dir, f'figure_{dataset}.png'), samples, dataset_metainfo(dataset),
        predictions, fused, options.split,
        fused_layout_dir=_layout_output_dir(dataset, sources_info, options.split),
        title=f'{dataset_title(dataset)} test images: predictions of '
        f'{seg_title((segmenter, tta))} trained on each source')
