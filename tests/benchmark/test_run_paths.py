"""The work folder's paths and files: run folders, prediction folders, the complexity cache,
sources.json, and atomic writes that concurrent processes cannot collide on."""
from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from psfusion.benchmark.results import RunKey
from psfusion.benchmark.run_paths import (COMPLEXITY_FILE, RESULTS_FILE, SOURCES_FILE, WorkDir,
                                          complexity_key, prediction_dir, read_complexity)
from psfusion.benchmark.sources import Source
from psfusion.fileio import atomic_write, write_json


def test_run_folder_layout_is_unchanged(tmp_path):
    """``WORK/runs/<segmenter>/<source>/seed<seed>-<hash8>/preds[_tta]``: existing work folders
    keep being found."""
    work = WorkDir(str(tmp_path))
    key = RunKey('msrs', 'segnext_b', 'psfusion', 2, tta=True)
    folder = work.run_folder(key, '0123456789abcdef')
    assert folder.path == str(tmp_path / 'runs' / 'segnext_b' / 'psfusion' / 'seed2-01234567')
    assert folder.checkpoint(300) == os.path.join(folder.path, 'iter_300.pth')
    assert work.run_folder(RunKey('msrs', 'segnext_b', 'psfusion', 2), 'x' * 16).path != \
        folder.path
    row = dict(key.as_dict(), config_hash='0123456789abcdef', mIoU=1.0)
    assert prediction_dir(str(tmp_path), row) == os.path.join(folder.path, 'preds_tta')
    assert prediction_dir(str(tmp_path), dict(row, tta=False)) == \
        os.path.join(folder.path, 'preds')
    assert (work.results, work.sources, work.complexity) == tuple(
        str(tmp_path / name) for name in (RESULTS_FILE, SOURCES_FILE, COMPLEXITY_FILE))


def test_train_seconds_accumulate(tmp_path):
    folder = WorkDir(str(tmp_path)).run_folder(RunKey('msrs', 's', 'ir'), 'h' * 16)
    assert folder.train_seconds() == 0.0
    folder.add_train_seconds(1.5)
    folder.add_train_seconds(2.0)
    assert folder.train_seconds() == 3.5
    assert os.listdir(folder.path) == ['train_seconds.json']


def test_complexity_cache_is_keyed_by_segmenter_and_size(tmp_path):
    work = WorkDir(str(tmp_path))
    value = dict(params=10, macs=100, backbone_params=5, backbone_macs=40, input_hw=[32, 40])
    assert work.cached_complexity('segformer_mini', (32, 40)) is None
    work.store_complexity('segformer_mini', (32, 40), value)
    work.store_complexity('segformer_mini', (64, 80), dict(value, macs=400))
    assert complexity_key('segformer_mini', (32, 40)) == 'segformer_mini@32x40'
    assert work.cached_complexity('segformer_mini', (32, 40)) == value
    assert work.cached_complexity('segformer_mini', (64, 80))['macs'] == 400
    assert work.cached_complexity('segformer_mini', (40, 32)) is None
    assert sorted(json.loads((tmp_path / COMPLEXITY_FILE).read_text())) == [
        'segformer_mini@32x40', 'segformer_mini@64x80']


def test_old_complexity_entries_read_with_todays_names(tmp_path):
    """Older caches called the multiply-adds ``flops``; they read (and rewrite) as ``macs``."""
    old = {'segnext_b@480x640': dict(params=27, flops=99, backbone_params=20,
                                     backbone_flops=70, input_hw=[480, 640])}
    (tmp_path / COMPLEXITY_FILE).write_text(json.dumps(old))
    work = WorkDir(str(tmp_path))
    entry = read_complexity(str(tmp_path))['segnext_b@480x640']
    assert (entry['macs'], entry['backbone_macs']) == (99, 70) and 'flops' not in entry
    assert work.cached_complexity('segnext_b', (480, 640))['macs'] == 99
    work.store_complexity('segformer_b2', (480, 640), dict(entry, params=1))
    stored = json.loads((tmp_path / COMPLEXITY_FILE).read_text())
    assert stored['segnext_b@480x640']['macs'] == 99 and 'flops' not in stored['segnext_b@480x640']


def test_sources_are_recorded_for_one_dataset(tmp_path):
    work = WorkDir(str(tmp_path / 'work'))
    work.record_sources('fmb', str(tmp_path / 'data'), [Source('ir', 'ir')])
    work.record_sources('fmb', str(tmp_path / 'data'),
                        [Source('avg', 'fused', str(tmp_path / 'avg'))])
    info = json.loads((tmp_path / 'work' / SOURCES_FILE).read_text())
    assert info['dataset'] == 'fmb' and info['data_root'] == str(tmp_path / 'data')
    assert info['sources'] == {'ir': dict(kind='ir', folder=None),
                               'avg': dict(kind='fused', folder=str(tmp_path / 'avg'))}
    with pytest.raises(ValueError, match="holds results of dataset 'fmb'.*another --work-dir"):
        work.record_sources('msrs', str(tmp_path / 'data'), [Source('ir', 'ir')])


def test_a_stale_fixed_temporary_name_does_not_block_writes(tmp_path):
    """The old writer used ``<file>.tmp``; a leftover (here a folder) must not matter."""
    work = WorkDir(str(tmp_path))
    (tmp_path / (COMPLEXITY_FILE + '.tmp')).mkdir()
    (tmp_path / (SOURCES_FILE + '.tmp')).mkdir()
    work.store_complexity('s', (1, 1), dict(params=1, macs=1, backbone_params=1,
                                            backbone_macs=1))
    work.record_sources('msrs', str(tmp_path), [Source('vi', 'vi')])
    assert work.cached_complexity('s', (1, 1))['macs'] == 1


def test_concurrent_writers_use_distinct_temporary_files(tmp_path):
    """A writer that starts while another is still writing the same file gets its own
    temporary file; both finish and the last one wins."""
    target = str(tmp_path / 'complexity.json')
    temporaries = []

    def outer(tmp):
        temporaries.append(tmp)
        atomic_write(target, inner)  # a second writer, mid-way through the first
        with open(tmp, 'w') as handle:
            handle.write('"outer"')

    def inner(tmp):
        temporaries.append(tmp)
        with open(tmp, 'w') as handle:
            handle.write('"inner"')

    atomic_write(target, outer)
    assert len(set(temporaries)) == 2
    assert json.loads(open(target).read()) == 'outer'
    assert os.listdir(tmp_path) == ['complexity.json']


def _hammer(path: str, worker: int) -> None:
    for i in range(100):
        write_json(path, {'seconds': float(i), 'worker': worker})


def test_two_processes_writing_one_file_never_collide(tmp_path):
    path = str(tmp_path / 'train_seconds.json')
    context = multiprocessing.get_context('fork')
    workers = [context.Process(target=_hammer, args=(path, n)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert json.loads(open(path).read())['seconds'] == 99.0
    assert os.listdir(tmp_path) == ['train_seconds.json']
