"""One error style for every tool (issue 14): a data, checkpoint or config error prints
``error: <message>`` on one line with exit status 2; ``--debug`` shows the traceback instead.
Also tools/dist_train.sh's usage and its choice of Python."""
from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys

import pytest
import torch

from psfusion.cli import run_tool
from psfusion.errors import CheckpointError, ConfigError

from .train_helpers import DEMO_CONFIG, REPO


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _error(capsys, name: str, argv: list) -> str:
    """Run a tool in-process; assert exit status 2 and one line on stderr; return it."""
    assert run_tool(_tool(name).main, argv) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: '), err
    return err.rstrip('\n')


def test_train_fusion_errors_are_one_line(capsys, tmp_path):
    assert _error(capsys, 'train_fusion', [str(tmp_path / 'nope.py')]) == \
        f'error: config {tmp_path / "nope.py"} not found'
    err = _error(capsys, 'train_fusion', [DEMO_CONFIG, '--cfg-options', 'max_iter=3'])
    assert err.startswith(f'error: --cfg-options: max_iter not in the config {DEMO_CONFIG}; '
                          f'valid top-level keys: crop_size, ')
    err = _error(capsys, 'train_fusion', [DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'),
                                          '--resume'])
    assert err == (f'error: --resume: nothing to resume in {tmp_path / "w"} (no complete '
                   f'checkpoint there). Drop --resume to start a new run, pass --resume auto '
                   f'to start from iteration 0 when there is nothing to resume, or check '
                   f'--work-dir.')
    bad = tmp_path / 'iter_2.pth'
    bad.write_bytes(b'PK\x03\x04 cut short')
    err = _error(capsys, 'train_fusion', [DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'),
                                          '--resume', str(bad)])
    assert err.startswith(f'error: --resume: corrupt or incomplete checkpoint {bad} (not a '
                          f'complete zip archive, nor a legacy torch file)')
    err = _error(capsys, 'train_fusion', [DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'),
                                          '--test', str(bad)])
    assert err.startswith(f'error: corrupt or incomplete checkpoint {bad} (')
    with pytest.raises(ConfigError):  # --debug: the traceback
        run_tool(_tool('train_fusion').main, [DEMO_CONFIG, '--cfg-options', 'max_iter=3',
                                              '--debug'])
    with pytest.raises(CheckpointError):
        run_tool(_tool('train_fusion').main, [DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'),
                                              '--resume', '--debug'])


def test_a_shortened_run_needs_a_shorter_warm_up(capsys):
    # the demo config shortens its warm-up with max_iters; an explicit longer one is refused
    err = _error(capsys, 'train_fusion', [DEMO_CONFIG, '--cfg-options', 'max_iters=3',
                                          'warmup_iters=30'])
    assert err == (
        'error: param_scheduler[1] (PolyLR) would run from iteration 30 to 3: it must end after '
        'it begins. After shortening the run (max_iters), shorten the warm-up too, e.g. '
        '--cfg-options max_iters=N warmup_iters=M with M < N.')


def test_corrupt_pretrained_trunk_is_named_before_training(capsys, tmp_path):
    trunk = tmp_path / 'resnet34.pth'
    torch.save({'w': torch.zeros(100)}, trunk)
    trunk.write_bytes(trunk.read_bytes()[:200])
    err = _error(capsys, 'train_fusion', [DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'),
                                          '--cfg-options', f'model.backbone_pretrained={trunk}'])
    assert err.startswith(f'error: pretrained trunk (model.backbone_pretrained): corrupt or '
                          f'incomplete checkpoint {trunk} (not a complete zip archive, nor a '
                          f'legacy torch file): the file was probably cut short by a killed or '
                          f'failed write, copy or download. Delete it. Download an ImageNet')
    assert not (tmp_path / 'w').exists()  # stopped before the Runner was built


def test_other_tools_errors_are_one_line(capsys, tmp_path):
    assert _error(capsys, 'make_synthetic', ['--out', str(tmp_path / 'd'), '--layout', 'fmb',
                                             '--num-val', '2']) == \
        'error: the fmb layout has no validation split; drop --num-val'
    assert _error(capsys, 'model_info', [str(tmp_path / 'nope.py')]) == \
        f'error: config {tmp_path / "nope.py"} not found'
    err = _error(capsys, 'eval_fusion', ['--ir', str(tmp_path / 'ir'), '--vi',
                                         str(tmp_path / 'vi'), '--fused', f'A={tmp_path}'])
    assert str(tmp_path / 'ir') in err
    # every tool's parser accepts --debug
    assert _tool('make_tables').parse_args(['--dataset', 'msrs', '--debug']).debug
    assert _tool('benchmark_downstream').parse_args(
        ['--seg', 'x', '--dataset', 'y', '--data-root', 'z', '--sources', 'ir',
         '--debug']).debug
    assert _tool('train_fusion').parse_args(['c.py', '--debug']).debug


def test_a_tool_process_prints_one_line_and_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, 'tools/make_synthetic.py', '--out',
                           str(tmp_path / 'd'), '--layout', 'fmb', '--num-val', '2'],
                          cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == 'error: the fmb layout has no validation split; drop --num-val\n'
    proc = subprocess.run([sys.executable, 'tools/make_synthetic.py', '--out',
                           str(tmp_path / 'd'), '--layout', 'fmb', '--num-val', '2', '--debug'],
                          cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and 'Traceback' in proc.stderr
    assert proc.stderr.rstrip().endswith('psfusion.errors.ConfigError: the fmb layout has no '
                                         'validation split; drop --num-val')


# ------------------------------------------------------------------ tools/dist_train.sh
def _script_in(root) -> str:
    (root / 'tools').mkdir(parents=True)
    for name in ('dist_train.sh', 'dist_run.sh'):  # dist_run.sh: the part shared with the benchmark
        (root / 'tools' / name).write_text((REPO / 'tools' / name).read_text())
    return str(root / 'tools' / 'dist_train.sh')


def _stub(path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('#!/usr/bin/env bash\n' + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_dist_train_usage():
    script = str(REPO / 'tools' / 'dist_train.sh')
    proc = subprocess.run(['bash', script, '--help'], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ''
    assert proc.stdout.startswith('Multi-process PSFusion training through torchrun')
    assert 'tools/dist_train.sh CONFIG NPROC [train_fusion.py options]' in proc.stdout
    proc = subprocess.run(['bash', script], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith('error: tools/dist_train.sh needs CONFIG and NPROC (got 0 '
                                  'argument(s))\n')
    proc = subprocess.run(['bash', script, 'c.py', 'four'], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "error: NPROC must be a positive integer, got 'four'\n"


def test_dist_train_runs_the_projects_python(tmp_path):
    echo = 'echo "$0 $*"\n'
    with_venv = tmp_path / 'with_venv'
    script = _script_in(with_venv)
    _stub(with_venv / '.venv' / 'bin' / 'python', echo)
    env = dict(os.environ)
    env.pop('PYTHON', None)
    proc = subprocess.run(['bash', script, 'c.py', '4', '--work-dir', 'w'], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f'{with_venv}/.venv/bin/python -m torch.distributed.run '
                           f'--nproc_per_node=4 --master_port=29511 tools/train_fusion.py c.py '
                           f'--launcher pytorch --work-dir w\n')
    # PYTHON wins
    proc = subprocess.run(['bash', script, 'c.py', '2'], capture_output=True, text=True,
                          env=dict(env, PYTHON=str(with_venv / '.venv' / 'bin' / 'python'),
                                   PORT='29600'))
    assert '--nproc_per_node=2 --master_port=29600' in proc.stdout
    # no .venv: the python on PATH that imports psfusion and torch (python3 cannot here)
    bare = tmp_path / 'bare'
    script = _script_in(bare)
    bin_dir = tmp_path / 'bin'
    _stub(bin_dir / 'python3', 'exit 1\n')
    _stub(bin_dir / 'python', 'if [ "$1" = -c ]; then exit 0; fi\n' + echo)
    proc = subprocess.run(['bash', script, 'c.py', '4'], capture_output=True, text=True,
                          env=dict(env, PATH=f'{bin_dir}:/usr/bin:/bin'))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f'{bin_dir}/python -m torch.distributed.run '
                                  f'--nproc_per_node=4')
    _stub(bin_dir / 'python', 'exit 1\n')
    proc = subprocess.run(['bash', script, 'c.py', '4'], capture_output=True, text=True,
                          env=dict(env, PATH=f'{bin_dir}:/usr/bin:/bin'))
    assert proc.returncode == 2
    assert proc.stderr.startswith('error: no Python with psfusion and torch found')


def test_train_fusion_data_error_is_one_line(capsys, tmp_path):
    """A DataError raised while the Runner builds the datasets (issue 14: the last line of a
    20-40 line traceback) ends the tool with one line."""
    argv = [DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
            f'train_dataloader.dataset.data_root={tmp_path / "none"}',
            f'val_dataloader.dataset.data_root={tmp_path / "none"}']
    assert run_tool(_tool('train_fusion').main, argv) == 2
    err = capsys.readouterr().err
    assert err == (f'error: {tmp_path / "none"}: dataset root not found. Check the path '
                   f'(--data-root, or data_root in the config). MSRS: '
                   f'https://github.com/Linfeng-Tang/MSRS (train/, test/ with ir/, vi/, '
                   f'Segmentation_labels/).\n')
