"""The results store: schema, atomic appends, lookups, the tta column, older stores."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from psfusion.benchmark.results import (KEY_COLUMNS, Provenance, ResultsError, RunKey,
                                        append_result, class_columns, columns_for, find_result,
                                        latest_results, read_results, row_from_metrics)
from psfusion.data.layouts import FMB_CLASSES, MSRS_CLASSES


def _metrics(offset: float, classes=MSRS_CLASSES) -> dict:
    metrics = {'mIoU': 50.0 + offset, 'mAcc': 60.0 + offset, 'aAcc': 90.0}
    for i, name in enumerate(classes):
        metrics[f'IoU.{name}'] = 10.0 * i + offset
        metrics[f'Acc.{name}'] = 11.0 * i
    return metrics


def _row(seed=0, source='ir', offset=0.0, chash='abc', tta=False, dataset='msrs',
         classes=MSRS_CLASSES):
    key = RunKey(dataset, 'segnext_b', source, seed, tta)
    return row_from_metrics(key, _metrics(offset, classes), classes, params=27_600_000,
                            macs=10**9, seconds=12.345, config_hash=chash,
                            provenance=Provenance('quick', 300, 8, 'none'))


def test_schema_matches_the_specification():
    assert columns_for(MSRS_CLASSES) == (
        'dataset', 'segmenter', 'source', 'seed', 'tta', 'mIoU', 'mAcc', 'unlabelled', 'car',
        'person', 'bike', 'curve', 'car_stop', 'guardrail', 'color_cone', 'bump', 'aAcc',
        'schedule', 'iters', 'batch_size', 'pretrained', 'fusion_checkpoint', 'params',
        'macs', 'seconds', 'config_hash')
    assert KEY_COLUMNS == ('dataset', 'segmenter', 'source', 'seed', 'tta')


def test_append_read_and_find(tmp_path):
    path = str(tmp_path / 'w' / 'results.csv')
    assert read_results(path).empty
    append_result(path, _row(0), MSRS_CLASSES)
    append_result(path, _row(1, offset=2.0), MSRS_CLASSES)
    frame = read_results(path)
    assert list(frame.columns) == list(columns_for(MSRS_CLASSES)) and len(frame) == 2
    assert class_columns(frame) == list(MSRS_CLASSES)
    key = RunKey('msrs', 'segnext_b', 'ir', 1)
    row = find_result(frame, key)
    assert row['mIoU'] == 52.0 and row['person'] == 22.0 and row['seconds'] == 12.3
    assert row['macs'] == 10**9 and not row['tta']
    assert find_result(frame, key, 'other') is None
    # no temporary or half-written file is left behind
    assert sorted(os.listdir(tmp_path / 'w')) == ['results.csv', 'results.csv.lock']


def test_rows_carry_tta_as_their_own_column(tmp_path):
    path = str(tmp_path / 'results.csv')
    append_result(path, _row(0, offset=1.0), MSRS_CLASSES)
    append_result(path, _row(0, offset=3.0, tta=True), MSRS_CLASSES)
    frame = read_results(path)
    assert frame['tta'].tolist() == [False, True] and frame['tta'].dtype == bool
    assert set(frame['segmenter']) == {'segnext_b'}  # no '+tta' in the name
    plain = find_result(frame, RunKey('msrs', 'segnext_b', 'ir', 0, tta=False))
    tta = find_result(frame, RunKey('msrs', 'segnext_b', 'ir', 0, tta=True))
    assert (plain['mIoU'], tta['mIoU']) == (51.0, 53.0)
    assert len(latest_results(frame)) == 2  # different keys
    assert 'tta' in open(path).readline().split(',')
    assert RunKey.from_row(frame.iloc[1].to_dict()) == RunKey('msrs', 'segnext_b', 'ir', 0, True)


def test_rerun_with_new_config_adds_a_row_and_latest_wins(tmp_path):
    path = str(tmp_path / 'results.csv')
    append_result(path, _row(0, chash='old'), MSRS_CLASSES)
    append_result(path, _row(0, offset=5.0, chash='new'), MSRS_CLASSES)
    latest = latest_results(read_results(path))
    assert len(latest) == 1 and latest.iloc[0]['config_hash'] == 'new'


def test_classes_come_from_the_dataset(tmp_path):
    path = str(tmp_path / 'results.csv')
    append_result(path, _row(0, dataset='fmb', classes=FMB_CLASSES), FMB_CLASSES)
    frame = pd.read_csv(path)  # plain pandas reads it: one column per FMB class
    assert class_columns(frame) == list(FMB_CLASSES) and len(FMB_CLASSES) == 15
    assert frame.loc[0, 'road'] == 10.0
    with pytest.raises(ResultsError, match='a store holds one dataset'):
        append_result(path, _row(0), MSRS_CLASSES)


def test_old_store_with_tta_suffix_and_flops_column_still_reads(tmp_path):
    """Stores written before the tta column: '+tta' segmenters and MACs called 'flops'."""
    old_columns = (['dataset', 'segmenter', 'source', 'seed', 'mIoU', 'mAcc'] +
                   list(MSRS_CLASSES) + ['params', 'flops', 'seconds', 'config_hash'])
    lines = [','.join(old_columns)]
    for segmenter, miou in (('segnext_b', 40.0), ('segnext_b+tta', 42.5)):
        values = ['msrs', segmenter, 'vi', '0', str(miou), '50.0'] + \
            ['1.0'] * len(MSRS_CLASSES) + ['27600000', '123456', '9.5', '00c0ffee']
        lines.append(','.join(values))
    path = tmp_path / 'results.csv'
    path.write_text('\n'.join(lines) + '\n')
    frame = read_results(str(path))
    assert list(frame.columns) == list(columns_for(MSRS_CLASSES))
    assert frame['segmenter'].tolist() == ['segnext_b', 'segnext_b']
    assert frame['tta'].tolist() == [False, True]
    assert frame['macs'].tolist() == [123456, 123456]
    assert frame['config_hash'].tolist() == ['00c0ffee', '00c0ffee']  # a string, not a number
    tta = find_result(frame, RunKey('msrs', 'segnext_b', 'vi', 0, tta=True), '00c0ffee')
    assert tta['mIoU'] == 42.5
    # appending to an old store writes today's format
    append_result(str(path), _row(2, source='vi'), MSRS_CLASSES)
    assert open(path).readline().strip().split(',') == list(columns_for(MSRS_CLASSES))
    again = read_results(str(path))
    assert again['tta'].tolist() == [False, True, False]
    # the old rows' provenance is unknown (empty), the new row's is recorded
    assert again['schedule'].tolist() == ['', '', 'quick']
    assert again['iters'].tolist()[2] == 300 and again['aAcc'].tolist()[2] == 90.0


def test_provenance_columns_round_trip(tmp_path):
    path = str(tmp_path / 'results.csv')
    key = RunKey('msrs', 'segnext_b', 'psfusion', 0)
    provenance = Provenance('160k', 160000, 8, 'mscan_b.pth:108958464',
                            'psfusion checkpoint_sha256=0123456789ab')
    append_result(path, row_from_metrics(key, _metrics(0.0), MSRS_CLASSES, params=1, macs=2,
                                         seconds=3.0, config_hash='h',
                                         provenance=provenance), MSRS_CLASSES)
    append_result(path, _row(0, source='ir'), MSRS_CLASSES)
    frame = read_results(path)
    fused, infrared = frame.iloc[0], frame.iloc[1]
    assert (fused['schedule'], fused['iters'], fused['batch_size']) == ('160k', 160000, 8)
    assert fused['pretrained'] == 'mscan_b.pth:108958464'
    assert fused['fusion_checkpoint'] == 'psfusion checkpoint_sha256=0123456789ab'
    assert infrared['fusion_checkpoint'] == ''  # empty for a single source, not NaN
    assert fused['aAcc'] == 90.0


def test_a_metric_that_is_not_a_number_is_named(tmp_path):
    path = tmp_path / 'results.csv'
    append_result(str(path), _row(0), MSRS_CLASSES)
    append_result(str(path), _row(1), MSRS_CLASSES)
    lines = path.read_text().splitlines()
    header = lines[0].split(',')
    values = lines[2].split(',')
    values[header.index('mIoU')] = 'abc'
    lines[2] = ','.join(values)
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(ResultsError, match=r"row 3 \(segnext_b / ir / seed 1\) has "
                       r"mIoU='abc', not a number"):
        read_results(str(path))


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'results.csv')
    append_result(path, _row(0), MSRS_CLASSES)
    before = open(path).read()

    def broken(self, *args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(pd.DataFrame, 'to_csv', broken)
    with pytest.raises(OSError, match='disk full'):
        append_result(path, _row(1), MSRS_CLASSES)
    assert open(path).read() == before
    assert sorted(os.listdir(tmp_path)) == ['results.csv', 'results.csv.lock']


def test_errors(tmp_path):
    with pytest.raises(ResultsError, match='missing'):
        append_result(str(tmp_path / 'r.csv'), {'dataset': 'msrs'}, MSRS_CLASSES)
    bad = tmp_path / 'bad.csv'
    bad.write_text('a,b\n1,2\n')
    with pytest.raises(ResultsError, match='bad.csv: not a results store.*mIoU'):
        read_results(str(bad))
