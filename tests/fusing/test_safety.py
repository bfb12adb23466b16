"""Inputs are never overwritten, no split is lost, killed runs leave nothing behind, and bad
files or options stop with one precise line."""
from __future__ import annotations

import json
import multiprocessing
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psfusion.data.io import DataError
from psfusion.fusing import FusingError, fuse_dataset
from psfusion.fusing.manifest import LOCK, Manifest, locked
from psfusion.fusing.stale import RUN_LOCK, STALE_SECONDS, RunLock, is_temporary

from ..fusing_helpers import write_source

ROOT = Path(__file__).resolve().parents[2]
TOOL = str(ROOT / 'tools' / 'fuse.py')


def folders_source(root: Path, sizes=(('a', 20, 24), ('b', 20, 24))) -> Path:
    rng = np.random.default_rng(0)
    for sub in ('ir', 'vi', 'labels'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for stem, h, w in sizes:
        Image.fromarray(rng.integers(0, 255, (h, w), np.uint8)).save(root / 'ir' / f'{stem}.png')
        Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(root / 'vi' / f'{stem}.png')
        Image.fromarray(rng.integers(0, 9, (h, w), np.uint8)).save(root / 'labels' / f'{stem}.png')
    return root


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


class Done:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run_tool(monkeypatch, capsys):
    """Run tools/fuse.py as a script in this process (its own exit status and output)."""

    def run(*args) -> Done:
        monkeypatch.setattr(sys, 'argv', ['fuse.py', *map(str, args)])
        capsys.readouterr()
        try:
            runpy.run_path(TOOL, run_name='__main__')
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code or 0
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


# ------------------------------------------------------------------ never overwrite an input
@pytest.mark.parametrize('where, options, relation', [
    ('.', {}, 'is the source root'),
    ('vi', {}, 'is the visible folder'),
    ('labels', dict(label_dir='labels'), 'is the label folder'),
    ('vi/fused', {}, 'lies inside the visible folder {src}/vi'),
    ('out', {}, 'lies inside the source root {src}'),
    ('..', {}, 'contains the source root {src}'),
])
def test_output_folder_in_or_around_an_input_is_refused(tmp_path, where, options, relation):
    src = folders_source(tmp_path / 'data' / 'src')
    before = snapshot(tmp_path)
    out = os.path.normpath(src / where)
    with pytest.raises(FusingError) as info:
        fuse_dataset('average', str(src), 'folders', out, progress=False,
                     layout_options=options)
    assert str(info.value) == (
        f'--out {out} {relation.format(src=src)}: fusing there would overwrite or mix with the '
        f'source files. Choose an output folder outside the source dataset.')
    assert snapshot(tmp_path) == before and not (src / 'out').exists()


def test_a_link_to_an_input_is_refused(tmp_path):
    src = folders_source(tmp_path / 'src')
    (tmp_path / 'link').symlink_to(src / 'ir')
    with pytest.raises(FusingError, match='is the infrared folder: fusing there'):
        fuse_dataset('average', str(src), 'folders', str(tmp_path / 'link'), progress=False)


def test_tool_vi_dir_inside_out_is_refused_and_nothing_written(tmp_path, run_tool):
    """The issue's case: ``--vi-dir fused --out SRC`` overwrote every visible image."""
    src = folders_source(tmp_path / 'src')
    (src / 'vi').rename(src / 'fused')
    before = snapshot(src)
    done = run_tool('--method', 'average', '--src', src, '--layout', 'folders', '--vi-dir',
                    'fused', '--out', src)
    assert done.returncode == 2 and done.stdout == ''
    assert done.stderr.splitlines()[-1] == (
        f'error: --out {src} is the source root: fusing there would overwrite or mix with the '
        f'source files. Choose an output folder outside the source dataset.')
    assert snapshot(src) == before


# ------------------------------------------------------------------ never lose a split
def test_manifests_of_two_runs_merge(tmp_path):
    """Two runs' in-memory manifests saved in turn: both splits and all files survive."""
    out = tmp_path / 'out'
    out.mkdir()
    header = dict(format='f', layout='msrs', source='s', method='average', identity={})
    first, second = Manifest.open(str(out), dict(header)), Manifest.open(str(out), dict(header))
    for manifest, split in ((first, 'train'), (second, 'test')):
        (out / f'{split}.png').write_bytes(split.encode())
        manifest.record(str(out), f'{split}.png')
        manifest.mark_split(split, 1, complete=False)
        manifest.save()
    first.mark_split('train', 1, complete=True)
    first.save()
    second.mark_split('test', 1, complete=True)
    second.save()
    saved = json.loads((out / 'manifest.json').read_text())
    assert saved['splits'] == {'train': dict(pairs=1, complete=True),
                               'test': dict(pairs=1, complete=True)}
    assert sorted(saved['files']) == ['test.png', 'train.png'] and saved['complete']
    assert (out / LOCK).exists()


#: Forked children (no second import of torch) for what runs no torch operation: a forked
#: child of a process whose torch thread pool has run may hang in its first parallel operation.
FORK = multiprocessing.get_context('fork')

CHILD = '''
import sys
from psfusion.fusing import fuse_dataset
fuse_dataset('average', sys.argv[1], 'msrs', sys.argv[2], split=sys.argv[3], progress=False)
'''


def test_two_concurrent_fuses_of_different_splits_keep_both(tmp_path):
    """Two processes (as two tools/fuse.py runs) fuse train and test into one folder."""
    src = write_source(tmp_path / 'src', num_train=24, num_test=24, num_val=0)
    out = tmp_path / 'out'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    children = [subprocess.Popen([sys.executable, '-c', CHILD, src, str(out), split],
                                 cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
                for split in ('train', 'test')]
    try:
        for child in children:
            assert child.wait(timeout=120) == 0, child.stderr.read()
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['splits'] == {'train': dict(pairs=24, complete=True),
                                  'test': dict(pairs=24, complete=True)}
    assert manifest['complete']
    fused = [rel for rel in manifest['files'] if '/fused/' in rel]
    assert len(fused) == 48
    assert not [p for p in out.rglob('*') if is_temporary(p.name)]


def save_one(out: str, saved) -> None:
    manifest = Manifest.open(out, dict(method='average', splits={}))
    manifest.mark_split('x', 1, True)
    manifest.save()
    saved.value = time.time()


def test_the_lock_serialises_saves(tmp_path):
    """While the lock is held, another process's save waits for it."""
    out = tmp_path / 'out'
    out.mkdir()
    saved = FORK.Value('d', 0.0)
    with locked(str(out / 'manifest.json')):
        child = FORK.Process(target=save_one, args=(str(out), saved))
        child.start()
        time.sleep(1.0)  # the child waits at the lock
        assert not (out / 'manifest.json').exists() and saved.value == 0.0
        released = time.time()
    child.join(timeout=60)
    assert child.exitcode == 0 and saved.value >= released
    assert json.loads((out / 'manifest.json').read_text())['splits']['x']['complete']


# ------------------------------------------------------------------ killed runs' leftovers
def test_stale_temporary_files_are_removed_on_start(tmp_path):
    src = write_source(tmp_path / 'src')
    out = tmp_path / 'out'
    fuse_dataset('average', src, 'msrs', str(out), split='test', progress=False)
    stale = [out / 'test' / 'fused' / '.x.png.k2j_x9aa.tmp', out / '.manifest.json.abcd1234.tmp']
    kept = [out / 'test' / 'fused' / 'notes.tmp', out / '.hidden.tmp', out / 'test' / 'a.tmp']
    for path in stale + kept:
        path.write_bytes(b'partial')
    summary = fuse_dataset('average', src, 'msrs', str(out), split='test', progress=False)
    assert summary.removed_temporaries == 2 and summary.skipped == 2
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)


def test_a_live_runs_fresh_temporary_file_is_kept(tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    fresh, old = out / '.a.png.aaaaaaaa.tmp', out / '.b.png.bbbbbbbb.tmp'
    past = time.time() - STALE_SECONDS - 60

    def leave_files():
        fresh.write_bytes(b'being written')
        old.write_bytes(b'left by a killed run')
        os.utime(old, (past, past))

    leave_files()
    with RunLock(str(out)) as live:  # alone: every temporary file is stale
        assert sorted(live.acquire()) == sorted([str(old), str(fresh)])
        leave_files()
        with RunLock(str(out)) as second:  # another run is live: only the old file goes
            assert second.acquire() == [str(old)]
        assert fresh.exists() and (out / RUN_LOCK).exists()
    with RunLock(str(out)) as later:  # the live run has ended
        assert later.acquire() == [str(fresh)]


# ------------------------------------------------------------------ corrupt files, bad options
@pytest.mark.parametrize('content, message', [
    ('{"format": "psfusion', 'corrupt manifest, not valid JSON (Unterminated string starting '
     'at: line 1 column 12 (char 11)). Delete it to fuse this folder again from scratch, or use '
     'another --out.'),
    ('', 'corrupt manifest, not valid JSON (Expecting value: line 1 column 1 (char 0)). Delete '
     'it to fuse this folder again from scratch, or use another --out.'),
    ('[1, 2]', 'not a fused-dataset manifest (a JSON object with "files" expected). Delete it '
     'to fuse this folder again from scratch, or use another --out.'),
])
def test_corrupt_manifest_names_its_path_and_the_error(tmp_path, content, message):
    src = write_source(tmp_path / 'src')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'manifest.json').write_text(content)
    with pytest.raises(FusingError) as info:
        fuse_dataset('average', src, 'msrs', str(out), split='test', progress=False)
    assert str(info.value) == f'{out}/manifest.json: {message}'
    assert not (out / 'test').exists()


def test_tool_corrupt_manifest_is_one_line_and_debug_shows_the_traceback(tmp_path, run_tool):
    src = folders_source(tmp_path / 'src')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'manifest.json').write_text('{')
    args = ('--method', 'average', '--src', src, '--layout', 'folders', '--out', out)
    done = run_tool(*args)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f'error: {out}/manifest.json: corrupt manifest, not valid JSON (Expecting property '
        f'name enclosed in double quotes: line 1 column 2 (char 1)). Delete it to fuse this '
        f'folder again from scratch, or use another --out.')
    assert 'Traceback' not in done.stderr
    with pytest.raises(FusingError, match='corrupt manifest'):  # --debug: the exception itself
        run_tool(*args, '--debug')


@pytest.mark.parametrize('layout, options, message', [
    ('folders', ['--label-dir', 'nope'], '{src}/nope: label folder not found (label_dir / '
     "--label-dir 'nope', relative to the dataset root). Check the path, or leave it out to "
     'fuse without labels.'),
    ('msrs', ['--label-dir', 'nope'], "{src}/test/nope: label folder not found (label_dir / "
     "--label-dir 'nope', a folder name inside ROOT/test). Check the name, or leave it out to "
     'use the default (Segmentation_labels, Label, labels).'),
])
def test_tool_missing_label_dir(tmp_path, run_tool, layout, options, message):
    src = (folders_source(tmp_path / 'src') if layout == 'folders'
           else Path(write_source(tmp_path / 'src')))
    done = run_tool('--method', 'average', '--src', src, '--layout', layout, '--out',
                    tmp_path / 'out', *options)
    assert done.returncode == 2
    assert done.stderr == f'error: {message.format(src=src)}\n'
    assert not (tmp_path / 'out').exists()


def test_missing_label_dir_is_a_data_error(tmp_path):
    src = folders_source(tmp_path / 'src')
    with pytest.raises(DataError, match='label folder not found'):
        fuse_dataset('average', str(src), 'folders', str(tmp_path / 'out'),
                     layout_options=dict(label_dir='lbl'), progress=False)


@pytest.mark.parametrize('value, message', [
    ('0', 'argument --max-pixels: must be at least 1, got 0'),
    ('lots', "argument --max-pixels: expected a positive integer or 'auto', got 'lots'"),
])
def test_tool_bad_max_pixels(tmp_path, run_tool, value, message):
    done = run_tool('--method', 'average', '--src', tmp_path, '--layout', 'folders', '--out',
                    tmp_path / 'out', '--max-pixels', value)
    assert (done.returncode, done.stderr) == (2, f'error: {message}\n')


def test_tool_max_pixels_tiles_and_records(tmp_path, run_tool):
    src = folders_source(tmp_path / 'src', sizes=(('a', 300, 500), ))
    out = tmp_path / 'out'
    done = run_tool('--method', 'average', '--src', src, '--layout', 'folders', '--out', out,
                    '--max-pixels', '40000')
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.split('manifest:')[0])
    assert (summary['tiled'], summary['max_pixels']) == (1, 40000)
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['files']['fused/a.png']['tiles'] == [1, 4]  # 300 x 125: per pixel, no overlap
    ir = np.asarray(Image.open(src / 'ir' / 'a.png')).astype(int)[..., None]
    vi = np.asarray(Image.open(src / 'vi' / 'a.png')).astype(int)
    assert np.array_equal(np.asarray(Image.open(out / 'fused' / 'a.png')), (ir + vi + 1) // 2)
