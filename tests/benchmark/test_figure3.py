"""The paper's Figure 3 (mIoU against parameters and GFLOPs): its points and the file."""
from __future__ import annotations

import json

import pytest

from psfusion.benchmark.figures import ComplexityPoint, complexity_figure
from psfusion.benchmark.report import TableOptions, build_tables, figure3_points
from psfusion.benchmark.reported import reported_rows
from psfusion.benchmark.results import RunKey, append_result, read_results, row_from_metrics
from psfusion.benchmark.tables import summarize
from psfusion.data.layouts import MSRS_CLASSES as CLASSES

SEGFORMER = dict(params=24_725_449, macs=30_402_604_800)  # tools/model_info.py at 480 x 640
CMX = dict(params=66_567_057, macs=78_367_166_976)
PSFUSION = (1_000_000, 2 * 10**9)  # a fusion network's manifest
COMPLEXITY = {'segformer_b2@480x640': dict(SEGFORMER, backbone_params=1, backbone_macs=1,
                                           input_hw=[480, 640])}
# (segmenter, source, tta) -> mIoU
RUNS = {('segformer_b2', 'ir', False): 50.0, ('segformer_b2', 'vi', False): 52.0,
        ('segformer_b2', 'psfusion', False): 56.0, ('segformer_b2', 'seafusion', False): 55.0,
        ('segformer_b2', 'psfusion', True): 57.0, ('cmx_b2', 'rgbt', False): 58.0}


def _metrics(miou: float) -> dict:
    metrics = {'mIoU': miou, 'mAcc': miou + 10}
    metrics.update({f'IoU.{name}': miou for name in CLASSES})
    return metrics


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / 'work' / 'results.csv'
    for (segmenter, source, tta), miou in RUNS.items():
        counts = CMX if segmenter == 'cmx_b2' else SEGFORMER
        append_result(str(path), row_from_metrics(
            RunKey('msrs', segmenter, source, 0, tta), _metrics(miou), CLASSES,
            params=counts['params'], macs=counts['macs'], seconds=1.0, config_hash='h'),
            CLASSES)
    fused = tmp_path / 'psfusion'
    fused.mkdir()
    (fused / 'manifest.json').write_text(json.dumps(dict(params=PSFUSION[0],
                                                         macs=PSFUSION[1])))
    (path.parent / 'sources.json').write_text(json.dumps(dict(
        dataset='msrs', data_root=str(tmp_path / 'no-data'), test_hw=[480, 640], sources={
            'ir': dict(kind='ir'), 'vi': dict(kind='vi'), 'rgbt': dict(kind='rgbt'),
            'psfusion': dict(kind='fused', folder=str(fused)),
            'seafusion': dict(kind='fused', folder=str(tmp_path / 'no-manifest'))})))
    (path.parent / 'complexity.json').write_text(json.dumps(COMPLEXITY))
    return path


def test_points_measured_and_reported(store):
    summary = summarize(read_results(str(store)), 'msrs')
    fusion = {'psfusion': PSFUSION, 'seafusion': (None, None)}
    points, notes = figure3_points(summary, COMPLEXITY, fusion, reported_rows('mfnet', 'table2'),
                                   (480, 640))
    with_fusion = (SEGFORMER['params'] + PSFUSION[0], SEGFORMER['macs'] + PSFUSION[1])
    assert points == [
        ComplexityPoint('psfusion + SegFormer-B2', 'image-level', True, 56.0, *with_fusion),
        ComplexityPoint('seafusion + SegFormer-B2 *', 'image-level', True, 55.0,
                        SEGFORMER['params'], SEGFORMER['macs']),  # segmenter only, starred
        ComplexityPoint('CMX-B2', 'feature-level', True, 58.0, CMX['params'], CMX['macs']),
        # the paper's mIoU at the counts measured here for the same architecture
        ComplexityPoint('CMX-B2 (reported)', 'feature-level', False, 58.31, CMX['params'],
                        CMX['macs']),
        ComplexityPoint('PSFusion + SegFormer-B2 (reported)', 'image-level', False, 56.02,
                        *with_fusion)]
    assert points[2].flops == 2 * CMX['macs']
    text = ' '.join(notes)
    assert '* fusion network not counted' in text and 'for seafusion.' in text
    # no counts for these in the repository: named, not plotted (nor segmenters we did not run)
    assert 'not plotted): MFNet, GMNet, MDRNet, RTFNet, FEANet, EGFNet, LASNet, CMX-B4, ' \
        'SeAFusion + SegFormer-B2.' in text
    assert 'Test-time-augmented runs are not plotted.' in text
    assert 'No feature-level model was measured' not in text


def test_without_feature_level_runs_the_note_says_so(store):
    summary = {key: cells for key, cells in summarize(read_results(str(store)), 'msrs').items()
               if key[1] != 'rgbt'}
    points, notes = figure3_points(summary, COMPLEXITY, {'psfusion': PSFUSION},
                                   reported_rows('mfnet', 'table2'), (480, 640))
    assert [p.kind for p in points] == ['image-level', 'image-level', 'image-level']
    assert 'No feature-level model was measured in these results.' in notes
    missing = next(note for note in notes if note.startswith('Reported without'))
    assert 'LASNet, CMX-B2, CMX-B4' in missing  # now without counts: named, not plotted


def test_figure_file_is_written_with_its_points(tmp_path):
    points = [ComplexityPoint('a + SegFormer-B2', 'image-level', True, 56.0, 25_000_000,
                              32 * 10**9),
              ComplexityPoint('CMX-B2 (reported)', 'feature-level', False, 58.31, 66_567_057,
                              78 * 10**9)]
    out = tmp_path / 'fig' / 'figure3_mfnet.png'
    assert complexity_figure(str(out), points, 'title', 'note') == points
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert [p.name for p in out.parent.iterdir()] == ['figure3_mfnet.png']  # no temporary file


def test_make_tables_draws_figure3_and_lists_its_points(store, tmp_path):
    out = tmp_path / 'out'
    written = build_tables(str(store), 'msrs', str(out), TableOptions(stats=False))
    assert written['figure3'] == str(out / 'figure3_msrs.png')
    assert (out / 'figure3_msrs.png').read_bytes()[:4] == b'\x89PNG'
    document = (out / 'table.md').read_text()
    section = document.split('## Figure 3 points (figure3_msrs.png)')[1]
    assert '| CMX-B2 | feature-level | measured | 58.00 | 66.57 | 156.73 |' in section
    assert '| psfusion + SegFormer-B2 | image-level | measured | 56.00 | 25.73 | 64.81 |' in \
        section
    # Table 1's PSFusion + SegFormer (MSRS, 79.63) at our pipeline's counts
    assert '| PSFusion + SegFormer-B2 (reported) | image-level | reported | 79.63 | 25.73 |' \
        in section
    assert 'Test-time-augmented runs are not plotted.' in section
