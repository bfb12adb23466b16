"""tools/benchmark_downstream.py's defaults, plan, status, preflight and failure recording
(issue 13), on tiny synthetic data: nothing here trains more than two iterations."""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from psfusion.benchmark import runner
from psfusion.benchmark.defaults import (DATA_ROOT_ENV, default_data_root,
                                         registered_fused_sources)
from psfusion.benchmark.plan import plan_runs
from psfusion.benchmark.results import RunKey, append_result, read_results, row_from_metrics
from psfusion.benchmark.run_config import RunOptions, RunSpec, build_run_config, config_hash
from psfusion.benchmark.run_paths import WorkDir
from psfusion.benchmark.sources import parse_source
from psfusion.data.layouts import MSRS_CLASSES

from ._data import cached_mmseg_metainfo, make_average_fused, make_synthetic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools'))
import benchmark_downstream  # noqa: E402
import train_fusion  # noqa: E402

SMALL = dict(num_train=2, num_test=1, size=(32, 40))
FAST = ['--schedule', 'quick', '--pretrained', 'off', '--workers', '0', '--image-size', '32x40']


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


def fast_options(data, work, max_iters):
    """The RunOptions the tool builds from FAST and ``--max-iters``."""
    return RunOptions(data_root=str(data), work_dir=str(work), schedule='quick',
                      pretrained='off', workers=0, max_iters=max_iters, image_size=(32, 40))


def line_of(out: str, key: str) -> str:
    lines = [line for line in out.splitlines() if line.strip().startswith(key + ' ')]
    assert len(lines) == 1, (key, out)
    return lines[0]


# ----------------------------------------------------------------------------- defaults
def test_without_data_one_line_names_the_root_and_where_to_get_msrs(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert benchmark_downstream.main(['--seg', 'segnext_l']) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith('error: data/MSRS: MSRS data root not found (the default of '
                          '--dataset msrs; pass --data-root DIR, or set PSFUSION_DATA_ROOT')
    assert 'https://github.com/Linfeng-Tang/MSRS' in err
    assert os.listdir(tmp_path) == []  # nothing written
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / 'datasets'))
    assert benchmark_downstream.main(['--seg', 'segnext_l', '--dataset', 'fmb']) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {tmp_path / "datasets" / "FMB"}: FMB data root not found')
    assert 'https://github.com/JinyuanLiu-CV/SegMiF' in err and len(err.splitlines()) == 1


def test_default_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert [default_data_root(d) for d in ('msrs', 'mfnet', 'fmb')] == [
        'data/MSRS', 'data/MFNet', 'data/FMB']
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    assert default_data_root('mfnet') == str(tmp_path / 'MFNet')
    assert default_data_root('synthetic') == 'work_dirs/demo/data'  # the demo keeps its own


def test_default_sources_are_ir_vi_and_the_registered_fused_datasets(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    data = make_synthetic(tmp_path / 'work_dirs' / 'demo' / 'data', **SMALL)  # synthetic's root
    registry = tmp_path / 'work_dirs' / 'fused'
    make_average_fused(data, registry / 'synthetic' / 'avgfused')
    (registry / 'synthetic' / 'no_manifest').mkdir()  # not a fused dataset: left out
    (registry / 'msrs' / 'other').mkdir(parents=True)  # another dataset's
    (registry / 'msrs' / 'other' / 'manifest.json').write_text('{}')
    assert [s.name for s in registered_fused_sources('synthetic', str(registry))] == ['avgfused']
    argv = ['--seg', 'segformer_mini', '--dataset', 'synthetic', '--max-iters', '2',
            '--plan'] + FAST
    assert benchmark_downstream.main(argv) == 0
    out = capsys.readouterr().out
    assert 'sources: ir, vi, avgfused (work_dirs/fused/synthetic/avgfused)' in out
    for source in ('ir', 'vi', 'avgfused'):
        assert 'to run' in line_of(out, f'segformer_mini / {source} / seed 0')
    assert not (tmp_path / 'work_dirs' / 'benchmark' / 'synthetic' / 'runs').exists()


# ----------------------------------------------------------------------------- plan, status
def test_plan_and_status_show_each_runs_state_and_cost(tmp_path, capsys):
    data = make_synthetic(tmp_path / 'data', **SMALL)
    work = tmp_path / 'work'
    options = fast_options(data, work, 10)

    def recipe(segmenter, source, seed):
        spec = RunSpec.of('synthetic', segmenter, parse_source(source), seed)
        cfg = build_run_config(spec, options, log=lambda message: None)
        return spec.key, config_hash(cfg)

    key, chash = recipe('segformer_mini', 'ir', 0)  # finished: a row in the store
    metrics = dict(mIoU=42.5, mAcc=50.0, aAcc=80.0, **{f'IoU.{c}': 10.0 for c in MSRS_CLASSES})
    append_result(str(work / 'results.csv'), row_from_metrics(
        key, metrics, MSRS_CLASSES, params=1, macs=1, seconds=1.0, config_hash=chash),
        MSRS_CLASSES)
    key, chash = recipe('segformer_mini', 'vi', 1)  # interrupted at iteration 4
    folder = WorkDir(str(work)).run_folder(key, chash)
    os.makedirs(folder.path)
    torch.save({'meta': {'iter': 4}}, folder.checkpoint(4))
    with open(folder.last_checkpoint, 'w') as handle:
        handle.write(folder.checkpoint(4))
    key, chash = recipe('segformer_mini', 'ir', 1)  # failed after iteration 2
    folder = WorkDir(str(work)).run_folder(key, chash)
    os.makedirs(folder.path)
    torch.save({'meta': {'iter': 2}}, folder.checkpoint(2))
    runner.record_failure(folder, key, chash,
                          RuntimeError('CUDA out of memory.\nTried to allocate 20.00 GiB'))

    argv = ['--seg', 'segformer_b2,segformer_mini', '--dataset', 'synthetic', '--data-root',
            str(data), '--sources', 'ir,vi', '--seeds', '0,1', '--max-iters', '10',
            '--work-dir', str(work), '--gpu', 'H200', '--plan'] + FAST
    assert benchmark_downstream.main(argv) == 0
    out = capsys.readouterr().out
    assert 'done (mIoU 42.50)' in line_of(out, 'segformer_mini / ir / seed 0')
    partial = line_of(out, 'segformer_mini / vi / seed 1')
    assert 'partial at iteration 4' in partial and 'no estimate (6 it)' in partial
    failed = line_of(out, 'segformer_mini / ir / seed 1')
    assert 'failed at iteration 2: Tried to allocate 20.00 GiB' in failed
    assert 'to run' in line_of(out, 'segformer_mini / vi / seed 0')
    b2 = line_of(out, 'segformer_b2 / vi / seed 1')
    # the measured H200 s/iteration (batch 8, 480x640) scaled to batch 8 at 32x40
    assert 'to run' in b2 and f'(10 it x {0.091 * 32 * 40 / (480 * 640):g} s)' in b2
    assert 'total: 0.0 GPU hours + 3 run(s) with no estimate (segformer_mini); 8 runs: ' \
        '1 done, 1 partial, 1 failed, 5 to run' in out
    assert not (work / 'runs' / 'segformer_b2').exists()  # nothing trained

    pairs = [('segformer_b2', parse_source('ir')), ('segnext_l', parse_source('ir'))]
    planned = plan_runs('synthetic', pairs, [0], fast_options(data, work, 1000), gpu='H200')
    scale = 32 * 40 / (480 * 640)  # both at batch 8 here
    assert [run.gpu_hours for run in planned] == pytest.approx(
        [1000 * 0.091 * scale / 3600, 1000 * 0.204 * scale / 3600])
    assert plan_runs('synthetic', pairs[:1], [0], options, gpu='A100')[0].gpu_hours is None

    assert benchmark_downstream.main(['--status', '--dataset', 'synthetic', '--work-dir',
                                      str(work)]) == 0
    out = capsys.readouterr().out
    assert 'done (mIoU 42.50)' in line_of(out, 'segformer_mini / ir / seed 0')
    assert 'partial at iteration 4' in line_of(out, 'segformer_mini / vi / seed 1')
    assert 'failed at iteration 2: Tried to allocate 20.00 GiB' in \
        line_of(out, 'segformer_mini / ir / seed 1')
    assert out.strip().endswith('3 runs: 1 done, 1 partial, 1 failed')
    assert benchmark_downstream.main(['--status', '--seg', 'segformer_mini', '--sources',
                                      'ir,vi', '--seeds', '0,1', '--dataset', 'synthetic',
                                      '--work-dir', str(work)]) == 0
    out = capsys.readouterr().out
    assert 'to run' in line_of(out, 'segformer_mini / vi / seed 0')
    assert out.strip().endswith('4 runs: 1 done, 1 partial, 1 failed, 1 to run')


# ----------------------------------------------------------------------------- preflight
def test_preflight_lists_every_problem_before_training(tmp_path, capsys):
    data = make_synthetic(tmp_path / 'data', **SMALL)
    test_only = tmp_path / 'test_only'  # another method's results: the test split only
    (test_only / 'test' / 'fused').mkdir(parents=True)
    for image in (data / 'test' / 'vi').glob('*.png'):
        shutil.copy(image, test_only / 'test' / 'fused' / image.name)
    corrupt = tmp_path / 'mit_b2.pth'
    corrupt.write_bytes(b'not a checkpoint at all')
    label = sorted((data / 'train' / 'Segmentation_labels').glob('*.png'))[0]
    Image.fromarray(np.full((32, 40), 77, np.uint8)).save(label)
    work = tmp_path / 'work'
    argv = ['--seg', 'segformer_b2', '--dataset', 'msrs', '--data-root', str(data),
            '--sources', f'ir,theirs={test_only}', '--work-dir', str(work), '--max-iters', '2',
            '--workers', '0', '--image-size', '32x40',
            '--cfg-options', f'model.backbone.init_cfg.checkpoint={corrupt}']
    assert benchmark_downstream.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: preflight found 3 problems; nothing was trained:')
    assert f'segformer_b2: pretrained backbone (init_cfg.checkpoint): corrupt or incomplete ' \
        f'checkpoint {corrupt}' in err
    assert f"source theirs: {test_only}: no fused images for split 'train'" in err
    assert f'{label}: label ids 77 are outside 0-8 and 255' in err
    assert not (work / 'runs').exists() and not (work / 'results.csv').exists()


# ----------------------------------------------------------------------------- failures
def test_a_failed_run_is_recorded_and_the_others_go_on(tmp_path, capsys, monkeypatch):
    data = make_synthetic(tmp_path / 'data', **SMALL)
    work = tmp_path / 'work'
    original = runner.train_if_needed

    def train_or_fail(cfg, spec, folder, log=print):
        if spec.key.source == 'ir':
            raise RuntimeError('CUDA out of memory.\nTried to allocate 20.00 GiB')
        return original(cfg, spec, folder, log)

    monkeypatch.setattr(runner, 'train_if_needed', train_or_fail)
    argv = ['--seg', 'segformer_mini', '--dataset', 'synthetic', '--data-root', str(data),
            '--sources', 'ir,vi', '--work-dir', str(work), '--max-iters', '2',
            '--batch-size', '2'] + FAST
    assert benchmark_downstream.main(argv) == 1
    err = capsys.readouterr().err
    assert '1 of 2 runs failed: segformer_mini / ir / seed 0 (Tried to allocate 20.00 GiB)' \
        in err
    assert read_results(str(work / 'results.csv'))['source'].tolist() == ['vi']  # went on
    failed = list((work / 'runs' / 'segformer_mini' / 'ir').glob('seed0-*/failed.json'))
    assert len(failed) == 1
    record = json.loads(failed[0].read_text())
    assert record['run'] == 'segformer_mini / ir / seed 0' and record['error'] == 'RuntimeError'
    assert record['message'].endswith('Tried to allocate 20.00 GiB')
    assert 'train_or_fail' in record['traceback']  # a crash keeps its traceback
    assert benchmark_downstream.main(['--status', '--dataset', 'synthetic', '--work-dir',
                                      str(work)]) == 0
    out = capsys.readouterr().out
    assert 'failed: Tried to allocate 20.00 GiB' in line_of(out, 'segformer_mini / ir / seed 0')
    assert 'done' in line_of(out, 'segformer_mini / vi / seed 0')


# ----------------------------------------------------------------------------- train_fusion
def test_train_fusion_without_a_config_trains_the_papers(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(train_fusion, 'keep_freed_memory', lambda: None)
    monkeypatch.setattr(train_fusion, 'prepare_config',
                        lambda config, *args: seen.append(config) or 'cfg')
    monkeypatch.setattr(train_fusion, 'train', lambda cfg: seen.append(cfg))
    assert train_fusion.main([]) == 0
    assert seen[0].endswith(os.path.join('psfusion', 'configs', 'psfusion_r34_msrs.py'))
    assert os.path.isfile(seen[0]) and seen[1] == 'cfg'
    assert f"no config given: training the paper's config, {seen[0]}" in capsys.readouterr().out


def test_estimates_follow_the_recipes_batch_and_crop():
    """The rates were measured at batch 8, 480x640; SegNeXt-L's MSRS recipe trains batch 6."""
    from psfusion.benchmark.catalog import config_path
    from psfusion.benchmark.plan import scaled_to_recipe
    from psfusion.benchmark.run_config import load_config

    segnext_l = load_config(str(config_path('segnext_l', 'msrs')))
    assert scaled_to_recipe(0.204, segnext_l) == pytest.approx(0.204 * 6 / 8)
    segformer_b2 = load_config(str(config_path('segformer_b2', 'msrs')))
    assert scaled_to_recipe(0.091, segformer_b2) == pytest.approx(0.091)
    assert scaled_to_recipe(None, segformer_b2) is None
