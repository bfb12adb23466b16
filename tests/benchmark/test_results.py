"""The results store: schema, atomic appends, lookups."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from psfusion.benchmark.results import (COLUMNS, ResultsError, append_result, find_result,
                                        latest_results, read_results, row_from_metrics)
from psfusion.data.labels import CLASSES


def _metrics(offset: float) -> dict:
    metrics = {'mIoU': 50.0 + offset, 'mAcc': 60.0 + offset, 'aAcc': 90.0}
    for i, name in enumerate(CLASSES):
        metrics[f'IoU.{name}'] = 10.0 * i + offset
        metrics[f'Acc.{name}'] = 11.0 * i
    return metrics


def _row(seed=0, source='ir', offset=0.0, chash='abc'):
    key = dict(dataset='msrs', segmenter='segnext_b', source=source, seed=seed)
    return row_from_metrics(key, _metrics(offset), params=27_600_000, flops=10**9,
                            seconds=12.345, config_hash=chash)


def test_schema_matches_the_specification():
    assert COLUMNS == ('dataset', 'segmenter', 'source', 'seed', 'mIoU', 'mAcc', 'unlabelled',
                       'car', 'person', 'bike', 'curve', 'car_stop', 'guardrail',
                       'color_cone', 'bump', 'params', 'flops', 'seconds', 'config_hash')


def test_append_read_and_find(tmp_path):
    path = str(tmp_path / 'w' / 'results.csv')
    assert read_results(path).empty
    append_result(path, _row(0))
    append_result(path, _row(1, offset=2.0))
    frame = read_results(path)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 2
    row = find_result(frame, dict(dataset='msrs', segmenter='segnext_b', source='ir', seed=1))
    assert row['mIoU'] == 52.0 and row['person'] == 22.0 and row['seconds'] == 12.3
    assert find_result(frame, dict(dataset='msrs', segmenter='segnext_b', source='ir', seed=1),
                       'other') is None
    # no temporary or half-written file is left behind
    assert sorted(os.listdir(tmp_path / 'w')) == ['results.csv', 'results.csv.lock']


def test_rerun_with_new_config_adds_a_row_and_latest_wins(tmp_path):
    path = str(tmp_path / 'results.csv')
    append_result(path, _row(0, chash='old'))
    append_result(path, _row(0, offset=5.0, chash='new'))
    latest = latest_results(read_results(path))
    assert len(latest) == 1 and latest.iloc[0]['config_hash'] == 'new'


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'results.csv')
    append_result(path, _row(0))
    before = open(path).read()

    def broken(self, *args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(pd.DataFrame, 'to_csv', broken)
    with pytest.raises(OSError, match='disk full'):
        append_result(path, _row(1))
    assert open(path).read() == before
    assert sorted(os.listdir(tmp_path)) == ['results.csv', 'results.csv.lock']


def test_errors(tmp_path):
    with pytest.raises(ResultsError, match='missing'):
        append_result(str(tmp_path / 'r.csv'), {'dataset': 'msrs'})
    bad = tmp_path / 'bad.csv'
    bad.write_text('a,b\n1,2\n')
    with pytest.raises(ResultsError, match='bad.csv: not a results store.*mIoU'):
        read_results(str(bad))
