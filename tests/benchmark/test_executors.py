"""tools/benchmark_downstream.py --executor local|slurm (psfusion/benchmark/executors.py) and the
results store under concurrent writers."""
from __future__ import annotations

import multiprocessing
import os
import stat
import sys

import pandas as pd
import pytest

from psfusion.benchmark import executors
from psfusion.benchmark.plan import PlannedRun
from psfusion.benchmark.results import RunKey, append_result, read_results, row_from_metrics
from psfusion.data.layouts import MSRS_CLASSES

from ._data import cached_mmseg_metainfo, make_average_fused, make_synthetic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools'))
import benchmark_downstream  # noqa: E402

QUICK = ['--seg', 'segformer_mini', '--dataset', 'synthetic', '--schedule', 'quick',
         '--max-iters', '3', '--image-size', '64x80', '--pretrained', 'off', '--workers', '0',
         '--batch-size', '2']


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('executors')
    data = make_synthetic(root / 'data', num_train=4, num_test=2, size=(64, 80))
    return dict(data=data, fused=make_average_fused(data, root / 'average'))


def test_time_limits_in_minutes_or_clock_time():
    assert executors.parse_time('90') == 90
    assert executors.parse_time('10:00:00') == 600
    assert executors.parse_time('1-02:30:00') == 1590
    assert executors.parse_time('00:00:30') == 1  # Slurm rounds seconds up to a minute
    for bad in ('ten', '0', '10:00'):
        with pytest.raises(ValueError, match='HH:MM:SS|at least'):
            executors.parse_time(bad)


def test_only_runs_not_done_are_pending():
    keys = [RunKey('synthetic', 'segformer_mini', src, 0, False) for src in ('ir', 'vi', 'avg')]
    specs = [type('Spec', (), {'key': key})() for key in keys]
    planned = [PlannedRun(keys[0], 'done'), PlannedRun(keys[1], 'partial'),
               PlannedRun(keys[2], 'failed')]
    assert [s.key.source for s in executors.pending_specs(specs, planned)] == ['vi', 'avg']


def _append_rows(path: str, writer: int, count: int) -> None:
    metrics = {'mIoU': 1.0, 'mAcc': 1.0, 'aAcc': 1.0,
               **{f'IoU.{name}': float(writer) for name in MSRS_CLASSES}}
    for i in range(count):
        key = RunKey('msrs', f'writer{writer}', 'ir', i, False)
        append_result(path, row_from_metrics(key, metrics, MSRS_CLASSES, params=1, macs=1,
                                             seconds=1.0, config_hash=f'{writer}-{i}'),
                      MSRS_CLASSES)


def test_results_store_keeps_every_row_of_concurrent_writers(tmp_path):
    path = str(tmp_path / 'results.csv')
    context = multiprocessing.get_context('fork')
    writers = [context.Process(target=_append_rows, args=(path, w, 10)) for w in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
    assert [process.exitcode for process in writers] == [0] * 4
    frame = read_results(path)
    assert len(frame) == 40
    assert sorted(frame['config_hash']) == sorted(f'{w}-{i}' for w in range(4) for i in range(10))
    assert frame.groupby('segmenter').size().to_dict() == {f'writer{w}': 10 for w in range(4)}


FAKE_SBATCH = '''#!/bin/sh
echo "$@" >> "{record}/args"
cp "$1" "{record}/script.sh"
echo "Submitted batch job 123"
'''


def test_slurm_submits_one_array_task_per_pending_run(data, tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    sbatch = bin_dir / 'sbatch'
    sbatch.write_text(FAKE_SBATCH.format(record=tmp_path))
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    srun = bin_dir / 'srun'  # submitit only checks that srun exists (it runs on the nodes)
    srun.write_text('#!/bin/sh\nexit 1\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    work = tmp_path / 'work'
    argv = QUICK + ['--data-root', str(data['data']), '--sources', f'ir,average={data["fused"]}',
                    '--seeds', '0,1', '--work-dir', str(work), '--executor', 'slurm',
                    '--max-parallel', '3', '--slurm-partition', 'gpu', '--gpus-per-run', '2',
                    '--cpus-per-run', '6', '--time', '10:30:00']
    assert benchmark_downstream.main(argv) == 0
    out = capsys.readouterr().out
    assert 'job array 123 with 4 task(s)' in out
    assert [line.split(':')[0].strip() for line in out.splitlines()
            if line.startswith('  123_')] == ['123_0', '123_1', '123_2', '123_3']
    assert (tmp_path / 'args').read_text().count('\n') == 1  # one sbatch call: one array
    script = (tmp_path / 'script.sh').read_text()
    for line in ('#SBATCH --array=0-3%3', '#SBATCH --partition=gpu',
                 '#SBATCH --gpus-per-node=2', '#SBATCH --cpus-per-task=6',
                 '#SBATCH --time=630', '#SBATCH --ntasks-per-node=1', '#SBATCH --nodes=1',
                 '#SBATCH --signal=USR2@90'):  # requeue: submitit's signal before the limit
        assert line in script.splitlines(), line
    assert f'#SBATCH --output={work}/slurm/%A_%a/%A_%a_0_log.out' in script.splitlines()
    assert '-m submitit.core._submit' in script
    assert sys.executable in script
    # the pickled jobs: one run each, requeued as the same run
    pickles = sorted((work / 'slurm').rglob('*_submitted.pkl'))
    assert len(pickles) == 4
    import submitit
    delayed = submitit.helpers.DelayedSubmission.load(pickles[0])
    assert isinstance(delayed.function, executors.BenchmarkJob)
    spec, options = delayed.args
    again = delayed.function.checkpoint(spec, options)
    assert isinstance(again.function, executors.BenchmarkJob) and again.args == (spec, options)
    runs = sorted(str(submitit.helpers.DelayedSubmission.load(p).args[0].key) for p in pickles)
    assert len(set(runs)) == 4 and all('segformer_mini' in run for run in runs)
    assert not (work / 'results.csv').exists()  # nothing ran here


def _rows(work) -> pd.DataFrame:
    frame = read_results(str(work / 'results.csv'))
    frame = frame.drop(columns=['seconds']).sort_values(['source', 'seed'])
    return frame.reset_index(drop=True)


@pytest.mark.slow  # two sequential runs + two in spawned workers
def test_local_executor_gives_the_sequential_rows(data, tmp_path, capsys):
    argv = QUICK + ['--data-root', str(data['data']), '--sources', f'ir,average={data["fused"]}',
                    '--seeds', '0']
    assert benchmark_downstream.main(argv + ['--work-dir', str(tmp_path / 'seq')]) == 0
    assert benchmark_downstream.main(argv + ['--work-dir', str(tmp_path / 'par'), '--executor',
                                             'local', '--max-parallel', '2']) == 0
    assert 'local executor: 2 run(s), 2 at once' in capsys.readouterr().out
    sequential, parallel = _rows(tmp_path / 'seq'), _rows(tmp_path / 'par')
    assert list(parallel['source']) == ['average', 'ir']
    assert list(sequential.columns) == list(parallel.columns)
    pd.testing.assert_frame_equal(sequential, parallel, check_exact=True)  # all but seconds
    # a second call finds both done: nothing is submitted
    assert benchmark_downstream.main(argv + ['--work-dir', str(tmp_path / 'par'), '--executor',
                                             'local', '--max-parallel', '2']) == 0
    assert 'every run is done' in capsys.readouterr().out
    assert len(read_results(str(tmp_path / 'par' / 'results.csv'))) == 2


def test_local_workers_each_see_their_own_gpus(monkeypatch):
    import queue

    manager = type('Manager', (), {'Queue': staticmethod(queue.Queue)})()
    slots = executors._gpu_slots(manager, ['4', '5', '6', '7'], workers=2, per_run=2)
    assert [slots.get_nowait(), slots.get_nowait()] == ['4,5', '6,7']
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0,1,2')
    settings = executors.ExecutorSettings('local', max_parallel=2, gpus_per_run=2)
    spec = type('Spec', (), {'key': 'run'})()
    with pytest.raises(executors.ConfigError, match='needs 4 GPUs, 3 visible'):
        executors.run_local([spec, spec], None, settings, log=lambda _: None)
