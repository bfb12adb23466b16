"""Crash-safe checkpoints and an honest ``--resume`` (issue 14): a checkpoint is complete or
absent, ``last_checkpoint`` names only complete ones, and a resume after a killed write
continues from the previous complete checkpoint."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.runner import Runner

from psfusion.engine.checkpoint import (AtomicCheckpointHook, AtomicLocalBackend,
                                        find_resume_checkpoint,
                                        remove_stale_temporaries, use_atomic_checkpoints)
from psfusion.engine.resume import resolve_resume
from psfusion.engine.training import prepare_config
from psfusion.errors import CheckpointError

from ..train_helpers import DEMO_CONFIG, REPO, LossRecorder, make_tiny_dataset, tiny_options


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('synthetic'))


def _save(path, value=0.0) -> None:
    torch.save({'meta': {'iter': 1}, 'state_dict': {'w': torch.full((64,), value)}}, path)


def _truncate(path) -> None:
    data = open(path, 'rb').read()
    with open(path, 'wb') as handle:
        handle.write(data[:len(data) // 2])


def test_resume_skips_partial_files_and_leftover_temporaries(tmp_path):
    _save(tmp_path / 'iter_2.pth')
    _save(tmp_path / 'iter_4.pth')
    _truncate(tmp_path / 'iter_4.pth')  # what a killed non-atomic write leaves
    shutil.copy(tmp_path / 'iter_4.pth', tmp_path / '.iter_6.pth.k3j2.tmp')  # a killed atomic one
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    # last_checkpoint naming the partial file: the latest complete one, said so
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    messages = []
    assert find_resume_checkpoint(str(tmp_path), messages.append) == str(tmp_path / 'iter_2.pth')
    assert messages == [
        f'skipping {tmp_path / "iter_4.pth"}: incomplete (a write was interrupted)',
        f'{tmp_path / "last_checkpoint"} names {tmp_path / "iter_4.pth"}, which is missing or '
        f'incomplete: resuming from {tmp_path / "iter_2.pth"}, the latest complete checkpoint']
    assert remove_stale_temporaries(str(tmp_path)) == [str(tmp_path / '.iter_6.pth.k3j2.tmp')]
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth', 'iter_4.pth', 'last_checkpoint']


def test_resume_with_nothing_to_resume(tmp_path):
    with pytest.raises(CheckpointError) as info:
        resolve_resume(str(tmp_path), True)
    assert str(info.value) == (
        f'--resume: nothing to resume in {tmp_path} (no complete checkpoint there). Drop '
        f'--resume to start a new run, pass --resume auto to start from iteration 0 when there '
        f'is nothing to resume, or check --work-dir.')
    _save(tmp_path / 'iter_2.pth')
    _truncate(tmp_path / 'iter_2.pth')  # only a partial file: still nothing to resume
    with pytest.raises(CheckpointError, match='^--resume: nothing to resume'):
        resolve_resume(str(tmp_path), True)
    messages = []
    assert resolve_resume(str(tmp_path), 'auto', messages.append) is None
    assert messages[-1] == (f'--resume auto: no checkpoint to resume from in {tmp_path}: '
                            f'starting from iteration 0')
    assert resolve_resume(str(tmp_path), False) is None


def test_resume_file_is_checked(tmp_path):
    bad = tmp_path / 'iter_2.pth'
    _save(bad)
    _truncate(bad)
    with pytest.raises(CheckpointError) as info:
        resolve_resume(str(tmp_path / 'work'), str(bad))
    assert str(info.value).startswith(f'--resume: corrupt or incomplete checkpoint {bad} (not '
                                      f'a complete zip archive, nor a legacy torch file)')
    with pytest.raises(CheckpointError, match=f'^--resume: checkpoint {tmp_path}/gone.pth not '
                                              f'found$'):
        resolve_resume(str(tmp_path), str(tmp_path / 'gone.pth'))
    _save(tmp_path / 'good.pth')
    assert resolve_resume(str(tmp_path), str(tmp_path / 'good.pth')) == str(tmp_path / 'good.pth')


def test_atomic_put_keeps_the_old_file_when_a_write_fails(tmp_path, monkeypatch):
    target = tmp_path / 'iter_2.pth'
    target.write_bytes(b'old')
    backend = AtomicLocalBackend()

    def killed(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', killed)
    with pytest.raises(OSError, match='disk full'):
        backend.put(b'new content', str(target))
    assert target.read_bytes() == b'old' and os.listdir(tmp_path) == ['iter_2.pth']
    monkeypatch.undo()
    backend.put(b'new content', str(target))
    assert target.read_bytes() == b'new content'


def test_configs_switch_to_the_atomic_hook():
    cfg = {'default_hooks': {'checkpoint': {'type': 'CheckpointHook', 'interval': 5}}}
    use_atomic_checkpoints(cfg)
    assert cfg['default_hooks']['checkpoint']['type'] == 'psfusion.AtomicCheckpointHook'
    prepared = prepare_config(DEMO_CONFIG, '/tmp/unused')
    assert prepared.default_hooks.checkpoint.type == 'psfusion.AtomicCheckpointHook'


def test_the_hook_builds_under_an_mmseg_runners_scope():
    """The benchmark's Runners have default_scope='mmseg': the prefixed name is found."""
    import mmseg.registry  # noqa: F401
    from mmengine.registry import HOOKS, DefaultScope

    with DefaultScope.overwrite_default_scope('mmseg'):
        hook = HOOKS.build(dict(type='psfusion.AtomicCheckpointHook', interval=1,
                                by_epoch=False))
    assert isinstance(hook, AtomicCheckpointHook)
    assert hook.backend_args == {'backend': 'psfusion_atomic_local'}


def _run(cfg):
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.losses


def _options(data_root: str, max_iters: int, **kwargs) -> dict:
    options = tiny_options(data_root, max_iters, interval=2, **kwargs)
    # the loop length through the config's top-level variable (re-evaluated: issue 14)
    del options['train_cfg.max_iters']
    options['max_iters'] = max_iters
    for loader in ('val_dataloader', 'test_dataloader'):
        del options[f'{loader}.dataset.data_root']
    # no validation (only checkpoints matter here), so no best checkpoint either
    # (test_evaluator = val_evaluator in the config: re-evaluated, it follows)
    options.update({'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
                    'test_dataloader': None, 'test_cfg': None,
                    'default_hooks.checkpoint.save_best': None})
    return options


def test_kill_during_a_checkpoint_write_then_resume(data_root, tmp_path):
    """A run stopped while writing iter_4 (simulated: the partial files a kill leaves) resumes
    from iter_2, the previous complete checkpoint; the leftover temporary file is removed and
    only the newest complete checkpoint is kept (max_keep_ckpts=1).  (That the resumed losses
    equal the uninterrupted run's: tests/test_train_fusion.py.)"""
    work = tmp_path / 'work'
    cfg = prepare_config(DEMO_CONFIG, str(work), cfg_options=_options(data_root, 2,
                                                                      schedule_end=4))
    cfg.experiment_name = 'part'
    assert len(_run(cfg)) == 2
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    assert not list(work.glob('.*.tmp'))
    # the kill: a partial iter_4.pth (as written before this fix) and a partial temporary file
    shutil.copy(work / 'iter_2.pth', work / 'iter_4.pth')
    _truncate(work / 'iter_4.pth')
    shutil.copy(work / 'iter_4.pth', work / '.iter_4.pth.abc123.tmp')
    cfg = prepare_config(DEMO_CONFIG, str(work), resume=True,
                         cfg_options=_options(data_root, 4))
    assert cfg.load_from == str(work / 'iter_2.pth') and cfg.resume is True
    cfg.experiment_name = 'resumed'
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    assert len(recorder.losses) == 2 and runner.iter == 4
    assert not list(work.glob('.*.tmp'))
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_4.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_4.pth')
    assert torch.load(work / 'iter_4.pth', weights_only=True)['meta']['iter'] == 4


_KILL_DRIVER = r'''
import os, runpy, sys, time
real = os.fsync
def fsync(fd):
    name = os.path.basename(os.readlink(f'/proc/self/fd/{fd}'))
    if name.startswith('.iter_4.pth.'):
        open(os.environ['READY'], 'w').close()
        time.sleep(120)  # killed here: the temporary file is written, not yet renamed
    return real(fd)
os.fsync = fsync
sys.argv = ['tools/train_fusion.py'] + sys.argv[1:]
runpy.run_path('tools/train_fusion.py', run_name='__main__')
'''


@pytest.mark.slow
def test_real_kill_during_a_checkpoint_write(data_root, tmp_path):
    """``kill -9`` of tools/train_fusion.py while it writes iter_4.pth, then ``--resume``."""
    from mmengine.config import Config

    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_options(data_root, max_iters=6, interval=2))
    config = tmp_path / 'tiny.py'
    cfg.dump(str(config))
    work, ready = tmp_path / 'work', tmp_path / 'ready'
    env = dict(os.environ, OMP_NUM_THREADS='1', READY=str(ready))
    proc = subprocess.Popen([sys.executable, '-c', _KILL_DRIVER, str(config), '--work-dir',
                             str(work)], cwd=str(REPO), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ready.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert ready.exists(), 'the run never reached the iter_4 checkpoint write'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (work / 'iter_4.pth').exists() and list(work.glob('.iter_4.pth.*.tmp'))
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    done = subprocess.run([sys.executable, 'tools/train_fusion.py', str(config), '--work-dir',
                           str(work), '--resume'], cwd=str(REPO), env=env, capture_output=True,
                          text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert 'Resuming at iteration 2' in output
    assert (work / 'iter_6.pth').is_file() and not list(work.glob('.*.tmp'))
    assert 'an unfinished checkpoint write of an earlier, interrupted run' in output
