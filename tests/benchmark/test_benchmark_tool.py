"""tools/benchmark_downstream.py and tools/make_tables.py on a tiny synthetic run.

One module-scoped run (SegFormer-mini, 2 iterations at 64x80, sources ir, vi and the
per-pixel average of both) feeds the checks: results store, skip on rerun, tables equal to
the metric's values, the figure, resuming, precise errors.  A second one runs on a synthetic
dataset in FMB's layout, with FMB's 15 classes.
"""
from __future__ import annotations

import json
import os
import sys

import pandas as pd
import pytest
from mmengine.config import Config

from psfusion.benchmark.catalog import config_path
from psfusion.benchmark.results import columns_for, read_results
from psfusion.benchmark.run_config import RunOptions, RunSpec, build_run_config
from psfusion.benchmark.run_paths import RunFolder, prediction_dir
from psfusion.benchmark.runner import train_if_needed
from psfusion.benchmark.sources import parse_source
from psfusion.data.io import read_label
from psfusion.data.layouts import FMB_CLASSES, MSRS_CLASSES as CLASSES
from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.metrics.segmentation import (evaluate_label_pairs, load_per_image,
                                           summarize_areas)

from ._data import cached_mmseg_metainfo, make_average_fused, make_synthetic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools'))
import benchmark_downstream  # noqa: E402
import make_tables  # noqa: E402

SMOKE = ['--max-iters', '2', '--image-size', '64x80', '--pretrained', 'off', '--workers', '0',
         '--batch-size', '2']


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp('bench')
    data = make_synthetic(root / 'data', num_train=4, num_test=2, size=(64, 80))
    fused = make_average_fused(data, root / 'average')
    work = root / 'work'
    argv = ['--seg', 'segformer_mini', '--dataset', 'synthetic', '--data-root', str(data),
            '--sources', f'ir,vi,average={fused}', '--schedule', 'quick', '--work-dir',
            str(work)] + SMOKE
    assert benchmark_downstream.main(argv) == 0
    return dict(root=root, data=data, fused=fused, work=work, argv=argv)


def test_results_store_has_one_row_per_run(run):
    frame = read_results(str(run['work'] / 'results.csv'))
    assert list(frame.columns) == list(columns_for(CLASSES))
    assert list(frame['source']) == ['ir', 'vi', 'average']
    assert set(frame['segmenter']) == {'segformer_mini'} and set(frame['seed']) == {0}
    assert frame['tta'].tolist() == [False, False, False]
    assert (frame['params'] == 879_609).all()  # SegFormer-mini with 9 classes
    assert (frame['macs'] > 0).all() and (frame['seconds'] > 0).all()
    complexity = json.loads((run['work'] / 'complexity.json').read_text())
    assert list(complexity) == ['segformer_mini@64x80']  # the test images' size
    assert complexity['segformer_mini@64x80']['macs'] == frame['macs'].iloc[0]
    assert 0 < complexity['segformer_mini@64x80']['backbone_macs'] < frame['macs'].iloc[0]
    assert frame['config_hash'].nunique() == 3  # per-source mean/std differ
    # provenance: the schedule named, its length as run, the batch, no pretrained file
    assert frame['schedule'].tolist() == ['quick'] * 3 and (frame['iters'] == 2).all()
    assert (frame['batch_size'] == 2).all() and (frame['pretrained'] == 'none').all()
    assert frame['fusion_checkpoint'].tolist()[:2] == ['', '']  # ir, vi
    assert frame['fusion_checkpoint'].tolist()[2].startswith('average rule=')  # manifest
    assert ((frame['aAcc'] > 0) & (frame['aAcc'] <= 100)).all()
    for column in ('mIoU', 'mAcc') + tuple(CLASSES):
        values = frame[column].dropna()
        assert ((values >= 0) & (values <= 100)).all()


def test_store_values_equal_the_saved_predictions_scored_again(run):
    """The per-class numbers equal those of the test predictions the run wrote."""
    frame = read_results(str(run['work'] / 'results.csv'))
    labels = {p.stem: read_label(str(p))
              for p in (run['data'] / 'test' / 'Segmentation_labels').glob('*.png')}
    for row in frame.to_dict('records'):
        folder = prediction_dir(str(run['work']), row)
        pairs = [(read_label(os.path.join(folder, f'{stem}.png')), label)
                 for stem, label in sorted(labels.items())]
        metrics = evaluate_label_pairs(pairs, CLASSES)
        assert row['mIoU'] == pytest.approx(metrics['mIoU'], abs=1e-9)
        # the per-image histograms beside the predictions add up to the same numbers
        per_image = load_per_image(os.path.join(os.path.dirname(folder), 'per_image.npz'))
        assert sorted(per_image['names'].tolist()) == sorted(labels)
        again = summarize_areas(per_image['intersect'].sum(0), per_image['union'].sum(0),
                                per_image['label'].sum(0), CLASSES)
        assert again['mIoU'] == pytest.approx(row['mIoU'], abs=1e-9)
        assert again['aAcc'] == pytest.approx(row['aAcc'], abs=1e-9)
        for name in CLASSES:
            expected = metrics[f'IoU.{name}']
            assert (pd.isna(row[name]) and pd.isna(expected)) or \
                row[name] == pytest.approx(expected, abs=1e-9)


def test_rerun_skips_finished_runs(run, capsys):
    assert benchmark_downstream.main(run['argv']) == 0
    out = capsys.readouterr().out
    assert out.count('skip segformer_mini') == 3
    assert len(read_results(str(run['work'] / 'results.csv'))) == 3
    assert 'SegFormer-mini on synthetic, IoU (%)' in out


@pytest.mark.slow  # 12 forward passes per image at 6 scales
def test_tta_reuses_the_trained_weights(run, capsys):
    argv = list(run['argv'])
    argv[argv.index('--sources') + 1] = 'vi'
    assert benchmark_downstream.main(argv + ['--tta']) == 0
    out = capsys.readouterr().out
    assert 'trained already' in out and 'SegFormer-mini + TTA on synthetic' in out
    frame = read_results(str(run['work'] / 'results.csv'))
    tta = frame[frame['tta']]
    plain = frame[~frame['tta'] & (frame['source'] == 'vi')]
    assert list(tta['segmenter']) == ['segformer_mini'] and list(tta['source']) == ['vi']
    assert len(tta) == 1 and tta.iloc[0]['config_hash'] == plain.iloc[0]['config_hash']
    assert os.path.isdir(prediction_dir(str(run['work']), tta.iloc[0].to_dict()))
    assert prediction_dir(str(run['work']), tta.iloc[0].to_dict()).endswith('preds_tta')


def test_tables_show_the_metric_values_and_the_figure(run, capsys):
    out = run['root'] / 'tables'
    assert make_tables.main(['--dataset', 'synthetic', '--results',
                             str(run['work'] / 'results.csv'), '--out', str(out),
                             '--format', 'md,csv', '--figure-images', '2']) == 0
    document = (out / 'table.md').read_text()
    frame = read_results(str(run['work'] / 'results.csv'))
    table2 = pd.read_csv(out / 'table2.csv', dtype=str, keep_default_na=False)
    for row in frame[(frame['segmenter'] == 'segformer_mini') & ~frame['tta']].to_dict('records'):
        method = {'ir': 'Infrared', 'vi': 'Visible'}.get(row['source'], row['source'])
        line = table2[(table2['Method'] == method) & (table2['Kind'] == 'ours') &
                      (table2['Segmenter'] == 'SegFormer-mini')].iloc[0]
        assert line['mIoU'].strip('*_') == f'{row["mIoU"]:.2f}'
        for name, title in zip(CLASSES, ('Background', 'Car', 'Person', 'Bike', 'Curve',
                                         'Car Stop', 'Guardrail', 'Color cone', 'Bump')):
            expected = '-' if pd.isna(row[name]) else f'{row[name]:.2f}'
            assert line[title] == expected
        assert f'{row["mIoU"]:.2f}' in document
    assert 'reported' not in table2['Kind'].tolist()  # nothing reported for synthetic data
    figure = out / 'figure_synthetic.png'
    assert figure.is_file() and figure.stat().st_size > 10_000
    # intervals and paired comparisons from the runs' per-image results, by day and night
    stats = (out / 'stats.md').read_text()
    assert '| Segmenter | Source | all | day | night |' in stats
    assert '| SegFormer-mini | average - Visible |' in stats or \
        '| SegFormer-mini | average - Infrared |' in stats
    assert 'Recipe: schedule quick, 2 iterations, batch 2, pretrained none.' in stats
    assert '## By condition' in document and '## Uncertainty' in document
    assert 'written:' in capsys.readouterr().out


def test_table5_scores_the_semantic_head(run, tmp_path, capsys):
    """Predictions in <fused>/test/seg_pred are scored against the original labels."""
    import numpy as np

    from ._data import save
    pred_dir = run['fused'] / 'test' / 'seg_pred'
    pairs = []
    for i, path in enumerate(sorted((run['data'] / 'test' / 'Segmentation_labels').glob('*'))):
        label = read_label(str(path))
        pred = label if i == 0 else np.zeros_like(label)  # one perfect, one all background
        save(pred_dir / path.name, pred)
        pairs.append((pred, label))
    expected = evaluate_label_pairs(pairs, CLASSES)
    argv = ['--dataset', 'synthetic', '--results', str(run['work'] / 'results.csv'), '--out',
            str(tmp_path), '--format', 'csv', '--no-figure', '--fusion-source', 'average']
    assert make_tables.main(argv) == 0
    table5 = pd.read_csv(tmp_path / 'table5.csv', dtype=str, keep_default_na=False)
    head = table5[table5['Method'] == 'average: direct segmentation (semantic head)'].iloc[0]
    assert head['mIoU'].strip('*_') == f"{expected['mIoU']:.2f}"
    assert head['Car'].strip('*_') == f"{expected['IoU.car']:.2f}"
    assert (table5['Method'] == 'average + SegFormer-mini').any()
    first = sorted(pred_dir.iterdir())[0]
    first.unlink()
    assert make_tables.main(argv) == 2
    err = capsys.readouterr().err
    assert f'prediction for {first.stem}' in err and str(pred_dir) in err
    save(first, pairs[0][0])


def test_interrupted_run_resumes(run):
    spec = RunSpec.of('synthetic', 'segformer_mini', parse_source('vi'), seed=5)
    options = RunOptions(data_root=str(run['data']), work_dir=str(run['root'] / 'resume'),
                         schedule='quick', pretrained='off', workers=0, batch_size=2,
                         max_iters=2, image_size=(64, 80))
    cfg = build_run_config(spec, options, log=lambda message: None)
    folder = RunFolder(str(run['root'] / 'resume' / 'run'))
    cfg.default_hooks.checkpoint.interval = 1
    first = Config(cfg.to_dict())
    first.train_cfg.max_iters = 1  # the "interrupted" session stops after one iteration
    messages = []
    from psfusion.benchmark.checkpoints import trust_checkpoints_under
    with trust_checkpoints_under(folder.path):
        train_if_needed(first, spec, folder, messages.append)
        assert os.path.isfile(folder.checkpoint(1))
        final, _ = train_if_needed(cfg, spec, folder, messages.append)
    assert final.endswith('iter_2.pth') and os.path.isfile(final)
    assert any(m.startswith('  resuming from') and 'iter_1.pth' in m for m in messages)
    assert folder.train_seconds() > 0  # both sessions counted
    import torch
    state = torch.load(final, map_location='cpu', weights_only=False)
    assert state['meta']['iter'] == 2


def test_precise_errors(run, capsys, tmp_path):
    argv = list(run['argv'])
    argv[argv.index('--seg') + 1] = 'segformer_b9'
    assert benchmark_downstream.main(argv) == 2
    err = capsys.readouterr().err
    assert 'unknown segmenter(s): segformer_b9' in err and 'segnext_l' in err
    (tmp_path / 'partial' / 'test' / 'fused').mkdir(parents=True)
    argv = list(run['argv'])
    argv[argv.index('--sources') + 1] = f'partial={tmp_path / "partial"}'
    argv[argv.index('--work-dir') + 1] = str(tmp_path / 'work')
    assert benchmark_downstream.main(argv) == 2
    err = capsys.readouterr().err
    assert 'no fused images for split' in err and str(tmp_path / 'partial') in err
    assert make_tables.main(['--dataset', 'msrs', '--results', str(tmp_path / 'x.csv')]) == 2
    assert 'results store not found' in capsys.readouterr().err
    argv = list(run['argv'])
    argv[argv.index('--dataset') + 1] = 'nope'
    assert benchmark_downstream.main(argv) == 2
    assert 'error: unknown dataset \'nope\'; valid names: msrs, mfnet, fmb, synthetic' in \
        capsys.readouterr().err
    argv[argv.index('--dataset') + 1] = 'msrs'  # the work folder holds synthetic results
    assert benchmark_downstream.main(argv) == 2
    assert "holds results of dataset 'synthetic'" in capsys.readouterr().err
    assert len(read_results(str(run['work'] / 'results.csv'))) >= 3  # untouched


def test_config_dir_error_is_precise(tmp_path):
    with pytest.raises(FileNotFoundError, match='config not found.*--config-dir'):
        config_path('segnext_l', 'msrs', str(tmp_path))


def test_unreachable_pretrained_backbone_stops_before_training(run, capsys, tmp_path):
    """--pretrained on (the default) checks every segmenter's checkpoint first: nothing runs."""
    argv = [a for a in run['argv']]
    i = argv.index('--pretrained')
    del argv[i:i + 2]
    argv[argv.index('--seg') + 1] = 'segformer_b2'
    argv[argv.index('--dataset') + 1] = 'msrs'  # the synthetic configs have no checkpoint
    argv[argv.index('--work-dir') + 1] = str(tmp_path / 'work')
    missing = tmp_path / 'mit_b2.pth'
    argv += ['--cfg-options', f'model.backbone.init_cfg.checkpoint={missing}']
    assert benchmark_downstream.main(argv) == 2
    err = capsys.readouterr().err
    assert f'segformer_b2: the pretrained backbone {missing} cannot be reached' in err
    assert '--pretrained off' in err
    assert not (tmp_path / 'work').exists()


def test_fmb_layout_end_to_end_with_a_builtin_source(tmp_path, capsys):
    """--dataset fmb: FMB's layout and its 15 classes, in id order, as the store's columns; the
    built-in source ``avg`` is fused on first use into WORK/fused/avg (FMB's layout, both
    splits, a manifest) and found complete afterwards."""
    data = tmp_path / 'fmb'
    write_synthetic_dataset(str(data), num_train=4, num_test=2, num_val=0, height=32, width=40,
                            layout='fmb')
    work = tmp_path / 'work'
    argv = ['--seg', 'segformer_mini', '--dataset', 'fmb', '--data-root', str(data),
            '--sources', 'ir,avg', '--schedule', 'quick', '--max-iters', '2',
            '--pretrained', 'off', '--image-size', '32x40', '--workers', '0', '--work-dir',
            str(work)]
    assert benchmark_downstream.main(argv) == 0
    out = capsys.readouterr().out
    fused = work / 'fused' / 'avg'
    assert 'built-in source avg: fused 6 pairs into' in out
    assert sorted(p.name for p in (fused / 'test' / 'fused').iterdir()) == ['00000D.png',
                                                                            '00001N.png']
    manifest = json.loads((fused / 'manifest.json').read_text())
    assert manifest['method'] == 'average' and manifest['complete'] and manifest['macs'] == 0
    assert json.loads((work / 'sources.json').read_text())['sources']['avg'] == dict(
        kind='fused', folder=str(fused))
    header = (work / 'results.csv').read_text().splitlines()[0].split(',')
    assert header[header.index('mAcc') + 1:header.index('aAcc')] == list(FMB_CLASSES)
    frame = pd.read_csv(work / 'results.csv')
    assert frame['dataset'].tolist() == ['fmb', 'fmb']
    assert frame['source'].tolist() == ['ir', 'avg'] and frame['tta'].tolist() == [False, False]
    assert (frame['params'] > 879_609).all()  # a 15-class head is larger than the 9-class one
    assert json.loads((work / 'sources.json').read_text())['dataset'] == 'fmb'
    labels = {p.stem: read_label(str(p), num_classes=15)
              for p in (data / 'test' / 'Label').glob('*.png')}
    for row in read_results(str(work / 'results.csv')).to_dict('records'):
        folder = prediction_dir(str(work), row)
        metrics = evaluate_label_pairs([(read_label(os.path.join(folder, f'{stem}.png'),
                                                    num_classes=15), label)
                                        for stem, label in sorted(labels.items())], FMB_CLASSES)
        assert row['mIoU'] == pytest.approx(metrics['mIoU'], abs=1e-9)
        assert row['road'] == pytest.approx(metrics['IoU.road'], abs=1e-9, nan_ok=True)
    assert 'SegFormer-mini on FMB, IoU (%)' in out
    assert benchmark_downstream.main(argv) == 0  # everything done: nothing fused or trained
    again = capsys.readouterr().out
    assert f'built-in source avg: {fused} complete (6 pairs)' in again
    assert again.count('skip segformer_mini') == 2
