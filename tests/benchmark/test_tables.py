"""Tables from a results store with known values."""
from __future__ import annotations

import json
import math

import pytest

from psfusion.benchmark.report import TableOptions, build_tables, segmenter_summary
from psfusion.benchmark.reported import reported_rows
from psfusion.benchmark.results import RunKey, append_result, read_results, row_from_metrics
from psfusion.benchmark.tables import (Cell, ClassInfo, complexity_table, pipeline_complexity,
                                       rank_marks, render, segmenter_complexity_entry,
                                       select_reported, summarize, table1, table2, table5)
from psfusion.data.layouts import FMB_CLASSES, MSRS_CLASSES

CLASSES = MSRS_CLASSES
MSRS = ClassInfo.of_dataset('msrs')
B2, NEXT_B = ('segformer_b2', False), ('segnext_b', False)

# (segmenter, source, seed) -> mIoU; every class IoU = mIoU + class index
RUNS = {
    ('segformer_b2', 'ir', 0): 60.0, ('segformer_b2', 'vi', 0): 62.0,
    ('segformer_b2', 'psfusion', 0): 66.0, ('segformer_b2', 'psfusion', 1): 68.0,
    ('segnext_b', 'ir', 0): 61.0, ('segnext_b', 'vi', 0): 64.0,
    ('segnext_b', 'psfusion', 0): 63.0,
}
COMPLEXITY = {
    'segformer_b2@480x640': dict(params=24_700_000, macs=60_000_000_000,
                                 backbone_params=24_000_000, backbone_macs=40_000_000_000,
                                 input_hw=[480, 640]),
    'segnext_b@480x640': dict(params=27_600_000, macs=70_000_000_000,
                              backbone_params=26_000_000, backbone_macs=50_000_000_000,
                              input_hw=[480, 640]),
}


def _metrics(miou: float, classes=CLASSES) -> dict:
    metrics = {'mIoU': miou, 'mAcc': miou + 10}
    for i, name in enumerate(classes):
        metrics[f'IoU.{name}'] = miou + i
    return metrics


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / 'work' / 'results.csv'
    for (seg, src, seed), miou in RUNS.items():
        key = RunKey('msrs', seg, src, seed)
        append_result(str(path), row_from_metrics(
            key, _metrics(miou), CLASSES, params=COMPLEXITY[f'{seg}@480x640']['params'],
            macs=COMPLEXITY[f'{seg}@480x640']['macs'], seconds=1.0, config_hash='h'), CLASSES)
    fused = tmp_path / 'fused'
    fused.mkdir()
    (fused / 'manifest.json').write_text(json.dumps(dict(params=1_000_000, macs=2 * 10**9)))
    (path.parent / 'sources.json').write_text(json.dumps(dict(
        dataset='msrs', data_root=str(tmp_path / 'no-data'), sources={
            'ir': dict(kind='ir', folder=None), 'vi': dict(kind='vi', folder=None),
            'psfusion': dict(kind='fused', folder=str(fused))})))
    (path.parent / 'complexity.json').write_text(json.dumps(COMPLEXITY))
    return path


def test_summary_mean_and_std_over_seeds(store):
    summary = summarize(read_results(str(store)), 'msrs')
    cell = summary[(B2, 'psfusion')]['mIoU']
    assert (cell.mean, cell.n) == (67.0, 2) and cell.std == pytest.approx(math.sqrt(2))
    assert cell.text() == '67.00 ± 1.41'
    assert summary[(NEXT_B, 'vi')]['car'].text() == '65.00'
    assert summarize(read_results(str(store)), 'mfnet') == {}


def test_table1_layout_highlights_and_reported_columns(store):
    summary = summarize(read_results(str(store)), 'msrs')
    frame = table1(summary, MSRS, select_reported('msrs'))
    assert list(frame.columns[:3]) == ['Infrared', 'Visible', 'psfusion']
    assert 'PSFusion (reported)' in frame.columns and 'SeAFusion (reported)' in frame.columns
    assert frame.at[('mIoU', 'SegFormer-B2'), 'PSFusion (reported)'].mean == 79.63
    assert frame.at[('Person', 'SegNeXt-Base'), 'Infrared'].mean == 63.0  # 61 + class 2
    marks = rank_marks(frame, 'row', [c for c in frame.columns if 'reported' not in c])
    assert marks.at[('mIoU', 'SegNeXt-Base'), 'Visible'] == 'best'
    assert marks.at[('mIoU', 'SegNeXt-Base'), 'psfusion'] == 'second'
    assert marks.at[('mIoU', 'SegNeXt-Base'), 'PSFusion (reported)'] == ''
    md = render(frame, marks, 'md')
    assert '| mIoU | SegFormer-B2 | 60.00 | _62.00_ | **67.00 ± 1.41** | ' in md


def test_table2_layout_with_pipeline_complexity_and_reported_rows(store):
    summary = summarize(read_results(str(store)), 'msrs')
    fusion = {'psfusion': (1_000_000, 2 * 10**9)}
    frame = table2(summary, MSRS, select_reported('msrs'),
                   pipeline_complexity(summary, COMPLEXITY, fusion))
    ours = frame.xs('ours', level='Kind')
    assert list(ours.index)[:2] == [('Infrared', 'SegFormer-B2'), ('Infrared', 'SegNeXt-Base')]
    assert ours.at[('psfusion', 'SegFormer-B2'), 'Params (M)'].mean == pytest.approx(25.7)
    assert ours.at[('psfusion', 'SegFormer-B2'), 'GMACs'].mean == pytest.approx(62.0)
    assert ours.at[('Infrared', 'SegNeXt-Base'), 'GMACs'].mean == pytest.approx(70.0)
    reported = frame.xs('reported', level='Kind')
    assert reported.at[('PSFusion', 'SegNeXt-Base'), 'mIoU'].mean == 80.38
    marks = rank_marks(frame, 'column', list(frame.columns[:-2]))
    assert marks.at[('psfusion', 'SegFormer-B2', 'ours'), 'Bump'] == 'best'
    assert marks.at[('PSFusion', 'SegNeXt-Base', 'reported'), 'mIoU'] == ''
    csv = render(frame, marks, 'csv')
    assert csv.splitlines()[0].startswith('Method,Segmenter,Kind,Background,Car,')
    tex = render(frame, marks, 'tex', caption='Table 2')
    assert r'\textbf{75.00 $\pm$ 1.41}' in tex and r'\caption{Table 2}' in tex


def test_table5_and_complexity_table(store):
    summary = summarize(read_results(str(store)), 'msrs')
    head = _metrics(50.0)
    frame = table5(summary, MSRS, 'psfusion', head, reported_rows('msrs', 'table5'))
    assert frame.index[0] == ('psfusion: direct segmentation (semantic head)', 'ours')
    assert frame.iloc[0]['mIoU'].mean == 50.0
    assert frame.loc[('psfusion + SegFormer-B2', 'ours'), 'mIoU'].mean == 67.0
    assert frame.loc[('PSFusion + SegNeXt-Base', 'reported'), 'mIoU'].mean == 80.38
    table = complexity_table(COMPLEXITY, {'psfusion': (1_000_000, 2 * 10**9),
                                          'seafusion': (None, None)}, [NEXT_B])
    rows = {label: (p.mean if isinstance(p, Cell) else None)
            for (label, _), p in table['Params (M)'].items()}
    assert rows['SegNeXt-Base alone'] == pytest.approx(27.6)
    assert rows['psfusion + SegNeXt-Base (image-level fusion)'] == pytest.approx(28.6)
    assert rows['seafusion + SegNeXt-Base (image-level fusion)'] is None
    assert not any('lower bound' in label for label in rows)  # no estimate: measured only
    flops = table.loc[('psfusion + SegNeXt-Base (image-level fusion)', '480x640'),
                      'GFLOPs (2 x MACs)']
    assert flops.mean == pytest.approx(2 * 72.0)  # 2 x (70 + 2) GMACs


def test_build_tables_writes_every_format(store, tmp_path):
    out = tmp_path / 'tables'
    written = build_tables(str(store), 'msrs', str(out),
                           TableOptions(formats=['md', 'csv', 'tex'], figure=False))
    assert {p.name for p in out.iterdir()} == {
        f'{n}.{f}' for n in ('table1', 'table2', 'table5', 'complexity')
        for f in ('md', 'csv', 'tex')} | {'table.md', 'stats.md'}
    assert 'no per-image results' in (out / 'stats.md').read_text()  # rows written by hand
    tex = (out / 'table2.tex').read_text()
    for part in (r'\toprule', r'\midrule', r'\bottomrule', r'\label{tab:table2}',
                 r'\resizebox{\textwidth}{!}'):
        assert part in tex, part
    document = (out / 'table.md').read_text()
    assert '## Table 1 layout' in document and '## Complexity' in document
    assert 'PSFusion (reported)' in document
    assert written['table.md'] == str(out / 'table.md')
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        build_tables(str(store), 'msrs', str(out), TableOptions(formats=['pdf']))


def test_segmenter_summary(store):
    text = segmenter_summary(str(store), 'msrs', 'segnext_b')
    assert text.startswith('SegNeXt-Base on MSRS')
    assert '| Visible | SegNeXt-Base | ours | 64.00 |' in text.replace('**', '')
    assert 'no results' in segmenter_summary(str(store), 'msrs', 'segnext_l')


def test_no_highlight_without_differences_and_small_sizes_keep_digits():
    import pandas as pd

    from psfusion.benchmark.tables import size_cell
    frame = pd.DataFrame([[Cell(0.0), Cell(0.0), Cell(0.0)], [Cell(1.0), Cell(2.0), Cell(2.0)],
                          [Cell(5.0), Cell(0.0), Cell(0.0)], [Cell(3.0), Cell(2.0), Cell(1.0)],
                          [Cell(2.001), Cell(1.999), Cell(1.0)]],
                         index=['zeros', 'ties', 'zero ties', 'ranked', 'same as printed'],
                         columns=['a', 'b', 'c'])
    marks = rank_marks(frame, 'row')
    assert list(marks.loc['zeros']) == ['', '', '']
    assert list(marks.loc['ties']) == ['', '', '']  # tied for best: nothing ranked
    assert list(marks.loc['zero ties']) == ['best', '', '']  # 0.00 twice is not second
    assert list(marks.loc['ranked']) == ['best', 'second', '']
    assert list(marks.loc['same as printed']) == ['', '', '']  # 2.00 and 2.00
    assert size_cell(75_520_000, 1e9).text() == '0.076'
    assert size_cell(24_725_449, 1e6).text() == '24.73'
    assert size_cell(None, 1e6) is None


def test_manifest_complexity_prefers_multiply_adds(tmp_path):
    from psfusion.benchmark.tables import read_manifest_complexity
    assert read_manifest_complexity(str(tmp_path)) == (None, None)
    (tmp_path / 'manifest.json').write_text(json.dumps(dict(params=5, flops=40, macs=20)))
    assert read_manifest_complexity(str(tmp_path)) == (5, 20)
    (tmp_path / 'manifest.json').write_text(json.dumps(dict(params=5, flops=40)))
    assert read_manifest_complexity(str(tmp_path)) == (5, 40)
    (tmp_path / 'manifest.json').write_text(json.dumps(dict(model={})))
    assert read_manifest_complexity(str(tmp_path)) == (None, None)


def test_complexity_entry_of_the_largest_size_not_a_smoke_run():
    """A smoke run at 64x80 must not stand in for the test-size count; old entries call
    multiply-adds 'flops'."""
    complexity = {'segnext_b@64x80': dict(params=1, macs=2, backbone_params=1, backbone_macs=1),
                  'segnext_b@480x640': dict(params=3, flops=4, backbone_params=1,
                                            backbone_flops=2)}
    entry = segmenter_complexity_entry(complexity, 'segnext_b')
    assert (entry['params'], entry['macs'], entry['backbone_macs']) == (3, 4, 2)
    assert segmenter_complexity_entry(complexity, 'segnext_b', (64, 80))['macs'] == 2
    assert segmenter_complexity_entry(complexity, 'segnext_l') is None


def test_tta_rows_are_their_own_segmenter(store):
    append_result(str(store), row_from_metrics(
        RunKey('msrs', 'segnext_b', 'vi', 0, tta=True), _metrics(70.0), CLASSES, params=1,
        macs=1, seconds=1.0, config_hash='h'), CLASSES)
    summary = summarize(read_results(str(store)), 'msrs')
    assert summary[(NEXT_B, 'vi')]['mIoU'].mean == 64.0
    assert summary[(('segnext_b', True), 'vi')]['mIoU'].mean == 70.0
    frame = table1(summary, MSRS)
    assert frame.at[('mIoU', 'SegNeXt-Base + TTA'), 'Visible'].mean == 70.0
    assert 'SegNeXt-Base + TTA on MSRS' in segmenter_summary(str(store), 'msrs', 'segnext_b',
                                                             tta=True)


def test_fmb_tables_use_fmb_classes(tmp_path):
    """A store of FMB runs: fifteen class columns, FMB's names in every table."""
    path = tmp_path / 'results.csv'
    for src, miou in (('ir', 30.0), ('vi', 40.0)):
        append_result(str(path), row_from_metrics(
            RunKey('fmb', 'segformer_mini', src, 0), _metrics(miou, FMB_CLASSES), FMB_CLASSES,
            params=1, macs=1, seconds=1.0, config_hash='h'), FMB_CLASSES)
    frame = read_results(str(path))
    assert list(frame.columns[7:22]) == list(FMB_CLASSES)
    out = tmp_path / 'tables'
    build_tables(str(path), 'fmb', str(out), TableOptions(formats=['csv'], figure=False))
    table2_csv = (out / 'table2.csv').read_text().splitlines()
    assert table2_csv[0].startswith('Method,Segmenter,Kind,Background,Road,Sidewalk,Building,'
                                    'Lamp,Sign,Vegetation,Sky,Person,Car,Truck,Bus,Motorcycle,'
                                    'Bicycle,Pole,mIoU')
    assert table2_csv[2].startswith('Visible,SegFormer-mini,ours,40.00,41.00')
    document = (out / 'table.md').read_text()
    assert '# Downstream segmentation on FMB' in document and '| Motorcycle |' in document
    assert 'reported' not in (out / 'table1.csv').read_text()  # the paper has no FMB numbers
    msrs_row = row_from_metrics(RunKey('msrs', 'segformer_mini', 'x', 0), _metrics(1.0),
                                CLASSES, params=1, macs=1, seconds=1.0, config_hash='h')
    with pytest.raises(ValueError, match='a store holds one dataset'):
        append_result(str(path), msrs_row, CLASSES)


def _provenance_row(seg, src, seed, miou, schedule, iters):
    from psfusion.benchmark.results import Provenance

    return row_from_metrics(RunKey('msrs', seg, src, seed), _metrics(miou), CLASSES, params=1,
                            macs=1, seconds=1.0, config_hash=f'{schedule}{iters}',
                            provenance=Provenance(schedule, iters, 8, 'none'))


def test_runs_of_two_recipes_are_refused_in_one_table_unless_allowed(tmp_path, capsys):
    import os
    import sys

    from psfusion.benchmark.tables import MixedRecipesError

    path = tmp_path / 'work' / 'results.csv'
    append_result(str(path), _provenance_row('segnext_b', 'vi', 0, 40.0, 'quick', 300),
                  CLASSES)
    append_result(str(path), _provenance_row('segnext_b', 'vi', 0, 60.0, '160k', 160000),
                  CLASSES)  # the same key, another recipe
    with pytest.raises(MixedRecipesError) as info:
        build_tables(str(path), 'msrs', str(tmp_path / 'out'), TableOptions(figure=False))
    message = str(info.value)
    assert 'schedule quick, 300 iterations, batch 8, pretrained none: segnext_b/vi/seed 0' in \
        message
    assert 'schedule 160k, 160000 iterations, batch 8, pretrained none' in message
    assert '--allow-mixed' in message
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
    import make_tables
    argv = ['--dataset', 'msrs', '--results', str(path), '--out', str(tmp_path / 'out'),
            '--no-figure']
    assert make_tables.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: the results hold runs of 2 different recipes')
    assert make_tables.main(argv + ['--allow-mixed']) == 0
    document = (tmp_path / 'out' / 'table.md').read_text()
    assert '**Mixed recipes (--allow-mixed)**: schedule quick, 300 iterations' in document
    assert '60.00' in document and '40.00' not in document  # the latest row of the key


def test_tables_state_recipe_seeds_and_tta(store, tmp_path):
    build_tables(str(store), 'msrs', str(tmp_path / 'out'), TableOptions(figure=False))
    document = (tmp_path / 'out' / 'table.md').read_text()
    # rows written without provenance: the recipe is unknown, and says so
    assert 'Recipe: schedule ?, ? iterations, batch ?, pretrained ?.' in document
    assert 'Cells stand on different numbers of seeds: each shows its (n=k).' in document
    assert '67.00 ± 1.41 (n=2)' in document and '62.00 (n=1)' in document
    assert 'multi-scale + flip test-time augmentation' in document


def test_reported_rows_only_beside_our_runs_of_their_segmenter(store):
    summary = summarize(read_results(str(store)), 'msrs')
    frame = table2(summary, MSRS, select_reported('msrs', methods=None))
    segmenters = {label[1] for label in frame.index if label[2] == 'reported'}
    assert 'BANet' not in segmenters and 'SegNeXt-Large' not in segmenters
    assert 'SegNeXt-Base' in segmenters or 'SegFormer-B2' in segmenters


def test_complexity_uses_the_test_size_entry(store, tmp_path):
    complexity = dict(COMPLEXITY)
    complexity['segnext_b@960x1280'] = dict(COMPLEXITY['segnext_b@480x640'], params=1,
                                            macs=1, input_hw=[960, 1280])
    summary = summarize(read_results(str(store)), 'msrs')
    at_test = pipeline_complexity(summary, complexity, {}, (480, 640))
    assert at_test[(NEXT_B, 'vi')] == (27_600_000, 70_000_000_000)
    assert pipeline_complexity(summary, complexity, {})[(NEXT_B, 'vi')] == (1, 1)  # largest


def test_flagged_reported_values_carry_their_mark_and_footnote(tmp_path):
    """Table 1's SegNeXt person cell (11 values for 12 columns) is marked and footnoted."""
    path = tmp_path / 'work' / 'results.csv'
    append_result(str(path), _provenance_row('segnext_b', 'vi', 0, 50.0, '160k', 160000),
                  CLASSES)
    build_tables(str(path), 'msrs', str(tmp_path / 'out'),
                 TableOptions(formats=['md', 'tex'], figure=False, reported=None))
    document = (tmp_path / 'out' / 'table.md').read_text()
    person = [line for line in document.splitlines()
              if line.startswith('| Person | SegNeXt-Base |')][0]
    assert '75.33\u2020' in person and '| -\u2020 |' in person  # U2Fusion's, SwinFusion's
    assert '\u2020 Table 1 of the paper prints 11 Person values' in document
    assert r'75.33$^\dagger$' in (tmp_path / 'out' / 'table1.tex').read_text()


# ----------------------------------------------------------------------------------------
# Feature-level models (a feature-level segmenter on the rgbt source) beside image-level ones
# ----------------------------------------------------------------------------------------
CMX_B2 = dict(params=66_567_057, macs=78_367_166_976)  # tools/model_info.py, 4 x 480 x 640


def _add_rgbt_rows(path, seeds=(0, 1), mious=(58.0, 60.0), segmenter='cmx_b2', provenance=None):
    for seed, miou in zip(seeds, mious):
        append_result(str(path), row_from_metrics(
            RunKey('msrs', segmenter, 'rgbt', seed), _metrics(miou), CLASSES,
            params=CMX_B2['params'], macs=CMX_B2['macs'], seconds=1.0, config_hash='h',
            provenance=provenance), CLASSES)


def test_table2_labels_our_feature_level_rows_and_sets_the_reported_ones_beside(store):
    from psfusion.benchmark.tables import FEATURE_LEVEL_OURS
    _add_rgbt_rows(store, mious=(70.0, 72.0))
    summary = summarize(read_results(str(store)), 'msrs')
    # MFNet's reported rows (CMX-B2's among them) on an MSRS-class store: the same nine classes
    reported = select_reported('mfnet')
    frame = table2(summary, MSRS, reported, pipeline_complexity(summary, COMPLEXITY, {}))
    labels = list(frame.index)
    ours = [label for label in labels if label[2] == FEATURE_LEVEL_OURS]
    assert ours == [('CMX-B2', 'CMX-B2', FEATURE_LEVEL_OURS)]
    assert not any(label[0] == 'rgbt' for label in labels)
    # after every image-level row of ours, before the reported rows
    kinds = [label[2] for label in labels]
    assert kinds.index(FEATURE_LEVEL_OURS) == kinds.count('ours')
    row = frame.loc[ours[0]]
    assert row['mIoU'].mean == 71.0 and row['mIoU'].n == 2
    # the whole network's counts, as the rows carry them (no complexity.json entry for cmx_b2)
    assert row['Params (M)'].mean == pytest.approx(66.567057)
    assert row['GMACs'].mean == pytest.approx(78.367166976)
    # the paper's CMX-B2 beside ours (its backbone, SegFormer-B2, is ours too here), CMX-B4 not
    assert frame.loc[('CMX-B2', 'SegFormer-B2', 'reported'), 'mIoU'].mean == 58.31
    assert not any(label[0] == 'CMX-B4' for label in labels)
    marks = rank_marks(frame, 'column', list(frame.columns[:-2]))
    assert marks.at[ours[0], 'mIoU'] == 'best'  # ranked with our image-level rows (67.00)
    assert marks.at[('psfusion', 'SegFormer-B2', 'ours'), 'mIoU'] == 'second'


def test_reported_cmx_row_shows_beside_our_cmx_without_our_segformer(tmp_path):
    path = tmp_path / 'results.csv'
    _add_rgbt_rows(path, seeds=(0, ), mious=(50.0, ))
    summary = summarize(read_results(str(path)), 'msrs')
    frame = table2(summary, MSRS, select_reported('mfnet'))
    assert ('CMX-B2', 'SegFormer-B2', 'reported') in frame.index
    assert ('PSFusion', 'SegFormer-B2', 'reported') not in frame.index  # no segformer_b2 run


def test_complexity_table_lists_measured_feature_level_models(store, tmp_path):
    import csv

    _add_rgbt_rows(store)
    sources = json.loads((store.parent / 'sources.json').read_text())
    (store.parent / 'sources.json').write_text(json.dumps(dict(sources, test_hw=[480, 640])))
    out = tmp_path / 'out'
    build_tables(str(store), 'msrs', str(out), TableOptions(formats=['csv'], figure=False))
    with open(out / 'complexity.csv', encoding='utf-8') as handle:
        lines = [tuple(row) for row in csv.reader(handle)]
    assert lines == [
        ('Pipeline', 'Input (HxW)', 'Params (M)', 'GMACs', 'GFLOPs (2 x MACs)'),
        ('SegFormer-B2 alone', '480x640', '24.70', '60.00', '120.00'),
        ('psfusion + SegFormer-B2 (image-level fusion)', '480x640', '25.70', '62.00', '124.00'),
        ('SegNeXt-Base alone', '480x640', '27.60', '70.00', '140.00'),
        ('psfusion + SegNeXt-Base (image-level fusion)', '480x640', '28.60', '72.00', '144.00'),
        ('CMX-B2 (feature-level fusion, measured)', '480x640', '66.57', '78.37', '156.73')]
    document = (out / 'table.md').read_text()
    assert 'Feature-level rows: the models measured in these results' in document
    assert 'No feature-level model was measured' not in document
    table2_csv = (out / 'table2.csv').read_text()
    assert 'CMX-B2,CMX-B2,feature-level (ours),59.00 ± 1.41 (n=2),' in table2_csv
    assert ',rgbt,' not in table2_csv and 'rgbt' not in table2_csv.split('\n')[0]


def test_complexity_note_says_when_no_feature_level_model_was_measured(store, tmp_path):
    build_tables(str(store), 'msrs', str(tmp_path / 'out'), TableOptions(figure=False))
    document = (tmp_path / 'out' / 'table.md').read_text()
    complexity = document.split('## Complexity')[1].split('## ')[0]
    assert 'No feature-level model was measured in these results' in complexity
    table = complexity.split('\n\n')[1]
    assert table.startswith('| Pipeline |') and 'SegNeXt-Base alone' in table
    assert 'feature-level' not in table and 'lower bound' not in table


def test_feature_level_rows_of_another_recipe_are_refused(tmp_path):
    from psfusion.benchmark.results import Provenance
    from psfusion.benchmark.tables import MixedRecipesError

    path = tmp_path / 'work' / 'results.csv'
    append_result(str(path), _provenance_row('segformer_b2', 'vi', 0, 50.0, 'quick', 300),
                  CLASSES)
    _add_rgbt_rows(path, seeds=(0, ), mious=(55.0, ),
                   provenance=Provenance('cmx', 49500, 8, 'none'))
    with pytest.raises(MixedRecipesError, match='cmx_b2/rgbt/seed 0'):
        build_tables(str(path), 'msrs', str(tmp_path / 'out'), TableOptions(figure=False))
    build_tables(str(path), 'msrs', str(tmp_path / 'out'),
                 TableOptions(figure=False, allow_mixed=True))
    document = (tmp_path / 'out' / 'table.md').read_text()
    assert '**Mixed recipes (--allow-mixed)**' in document and 'cmx_b2/rgbt' in document
