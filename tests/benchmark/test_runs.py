"""Building the config of a run: schedules, smoke overrides, pretrained weights, hashing."""
from __future__ import annotations

import copy
import functools

import pytest
import torch
from mmengine.config import Config

from psfusion.benchmark.catalog import config_path, display_name, parse_segmenters
from psfusion.benchmark.checkpoints import trust_checkpoints_under
from psfusion.benchmark.pretrained import PretrainedUnavailable, resolve_pretrained
from psfusion.benchmark.results import RunKey
from psfusion.benchmark.run_config import (RunSpec, apply_image_size, apply_max_iters,
                                           apply_schedule, config_hash,
                                           legacy_config_hash, load_config)
from psfusion.benchmark.run_paths import RunFolder
from psfusion.benchmark.runner import PlainTextConfig, runner_config
from psfusion.benchmark.sources import Source

from ._data import cached_mmseg_metainfo


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


@functools.lru_cache(maxsize=None)
def _parse(segmenter: str, dataset: str) -> Config:
    return Config.fromfile(str(config_path(segmenter, dataset)))


def _cfg(segmenter='segnext_b', dataset='msrs') -> Config:
    return copy.deepcopy(_parse(segmenter, dataset))


def test_segmenter_names():
    assert parse_segmenters('all') == ['segformer_b2', 'segformer_b4', 'segnext_b', 'segnext_l']
    assert parse_segmenters('segnext_l, segformer_mini') == ['segnext_l', 'segformer_mini']
    with pytest.raises(ValueError, match=r'unknown segmenter\(s\): segnext_xl; valid names: '
                       r'banet, segformer_b2, segformer_b4, segnext_b, segnext_l, segformer_mini'):
        parse_segmenters('segnext_xl')
    assert display_name('segnext_l', tta=True) == 'SegNeXt-Large + TTA'


def test_quick_schedule_and_max_iters_scale_the_milestones():
    cfg = _cfg()
    apply_schedule(cfg, 'quick')
    assert cfg.train_cfg.max_iters == 300 and cfg.optim_wrapper.optimizer.lr == 1.2e-3
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['head'].lr_mult == 10.0
    assert cfg.default_hooks.checkpoint.interval == 100
    apply_max_iters(cfg, 100)
    warmup, poly = cfg.param_scheduler
    assert (warmup.begin, warmup.end, poly.begin, poly.end) == (0, 10, 10, 100)
    assert cfg.train_cfg.max_iters == 100 and cfg.default_hooks.checkpoint.interval == 100
    apply_schedule(cfg, '160k')
    assert cfg.train_cfg.max_iters == 160000 and cfg.param_scheduler[0].end == 1500
    with pytest.raises(ValueError, match='unknown schedule'):
        apply_schedule(cfg, '80k')


def test_schedule_replaces_the_four_keys_wholesale(tmp_path):
    cfg = _cfg()
    cfg.optim_wrapper.clip_grad = dict(max_norm=1.0)
    cfg.default_hooks.extra = dict(type='EmptyCacheHook')
    cfg.train_cfg.dynamic_intervals = [(10, 5)]
    apply_schedule(cfg, 'quick')
    assert 'clip_grad' not in cfg.optim_wrapper and 'extra' not in cfg.default_hooks
    assert 'dynamic_intervals' not in cfg.train_cfg
    assert cfg.default_hooks.checkpoint.save_last is True  # the schedule's own hooks remain
    assert '_delete_' not in str(cfg.optim_wrapper.to_dict())
    schedules = tmp_path / '_base_' / 'schedules'
    schedules.mkdir(parents=True)
    (schedules / 'quick.py').write_text('train_cfg = dict(max_iters=5)\n')
    with pytest.raises(ValueError, match=r'quick.py: a schedule defines .*missing: optim_wrapper, '
                       r'param_scheduler, default_hooks'):
        apply_schedule(cfg, 'quick', str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'schedule_160k.py: schedule .160k. not found'):
        apply_schedule(cfg, '160k', str(tmp_path))


def test_loaded_configs_are_independent_copies():
    path = str(config_path('segformer_mini', 'synthetic'))
    first = load_config(path)
    first.model.backbone.embed_dims = 1
    assert load_config(path).model.backbone.embed_dims != 1


def test_image_size_override_reaches_every_step():
    cfg = _cfg('segformer_b2', 'mfnet')
    apply_image_size(cfg, (64, 96))
    steps = {s.type: s for s in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandomCrop'].crop_size == (64, 96) and steps['RandomResize'].scale == (96, 64)
    assert cfg.test_dataloader.dataset.pipeline[1].scale == (96, 64)
    assert cfg.model.data_preprocessor.size == (64, 96)


def test_pretrained_decisions(tmp_path):
    cfg = _cfg()
    off = copy.deepcopy(cfg)
    assert resolve_pretrained(off, 'off') == 'off' and off.model.backbone.init_cfg is None
    local = copy.deepcopy(cfg)
    local.model.backbone.init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    messages = []
    assert resolve_pretrained(local, 'auto', messages.append) == 'off (unreachable)'
    assert 'missing.pth cannot be reached' in messages[0]
    local.model.backbone.init_cfg = dict(type='Pretrained',
                                         checkpoint=str(tmp_path / 'missing.pth'))
    with pytest.raises(PretrainedUnavailable, match='missing.pth cannot be reached') as info:
        resolve_pretrained(local, 'on')  # the default: stop before training
    assert '--pretrained off' in str(info.value) and 'missing.pth' in str(info.value)
    assert local.model.backbone.init_cfg.checkpoint.endswith('missing.pth')  # untouched
    torch.save({'w': torch.zeros(1)}, tmp_path / 'present.pth')  # (an empty one is corrupt)
    local.model.backbone.init_cfg = dict(type='Pretrained',
                                         checkpoint=str(tmp_path / 'present.pth'))
    assert resolve_pretrained(local, 'auto') == f'on: {tmp_path / "present.pth"}'
    assert resolve_pretrained(local, 'on') == f'on: {tmp_path / "present.pth"}'
    assert resolve_pretrained(_cfg('segformer_mini', 'synthetic'), 'auto').startswith('none')
    with pytest.raises(ValueError, match='unknown --pretrained'):
        resolve_pretrained(cfg, 'maybe')


def test_config_hash_ignores_paths_but_not_the_recipe():
    cfg = _cfg()
    base = config_hash(cfg)
    moved = copy.deepcopy(cfg)
    moved.train_dataloader.dataset.data_root = '/elsewhere'
    moved.work_dir = '/tmp/x'
    assert config_hash(moved) == base
    seeded = copy.deepcopy(cfg)
    seeded.randomness = dict(seed=1)
    assert config_hash(seeded) != base
    other = copy.deepcopy(cfg)
    other.model.data_preprocessor.mean = [1.0, 2.0, 3.0]
    assert config_hash(other) != base


def test_config_hash_is_the_one_finished_runs_were_stored_with():
    """Pinned values: the recipe hash, and the hash stores written before it used (still
    recognised by the runner, so finished runs keep being skipped)."""
    model = dict(type='EncoderDecoder', data_preprocessor=dict(mean=[1.0, 2.0, 3.0]))
    dataset = dict(type='X', data_root='/a', fused_root='/b')
    cfg = Config(dict(model=model, train_dataloader=dict(dataset=dataset),
                      randomness=dict(seed=0), work_dir='/w', pretrained_decision='off'))
    assert legacy_config_hash(cfg) == '6f7cbbc38da8dafc'
    assert config_hash(cfg) == '6f7cbbc38da8dafc'  # nothing runtime-only in it: the same
    cfg.train_dataloader.num_workers = 4
    assert config_hash(cfg) == '6f7cbbc38da8dafc'
    assert legacy_config_hash(cfg) != '6f7cbbc38da8dafc'


def _quick_run_config(**changes) -> Config:
    cfg = _cfg('segformer_mini', 'synthetic')
    for key, value in changes.items():
        cfg.merge_from_dict({key: value})
    return cfg


def test_config_hash_ignores_what_does_not_change_the_trained_model():
    """Workers, logging and checkpoint intervals, validation settings and an explicit
    ``--schedule`` equal to the config's own keep the hash; lr, batch, iterations, crop,
    mean/std, seed and the pretrained file change it."""
    base = config_hash(_cfg('segnext_b', 'msrs'))
    explicit = _cfg('segnext_b', 'msrs')
    apply_schedule(explicit, '160k')  # the config's own schedule, now by name
    assert config_hash(explicit) == base
    same = [
        {'train_dataloader.num_workers': 7, 'test_dataloader.num_workers': 0,
         'train_dataloader.persistent_workers': False},
        {'default_hooks.logger.interval': 7},
        {'default_hooks.checkpoint.interval': 3},
        {'train_cfg.val_interval': 5},
        {'log_processor.window_size': 3},
        {'env_cfg.cudnn_benchmark': True},
    ]
    for changes in same:
        cfg = _cfg('segnext_b', 'msrs')
        cfg.merge_from_dict(changes)
        assert config_hash(cfg) == base, changes
    different = [
        {'optim_wrapper.optimizer.lr': 1e-4},
        {'train_dataloader.batch_size': 16},
        {'train_cfg.max_iters': 80000},
        {'model.data_preprocessor.std': [1.0, 1.0, 1.0]},
        {'randomness.seed': 5},
        {'model.backbone.init_cfg.checkpoint': 'other_mscan_b.pth'},
    ]
    for changes in different:
        cfg = _cfg('segnext_b', 'msrs')
        cfg.merge_from_dict(changes)
        assert config_hash(cfg) != base, changes


def test_pretrained_checkpoint_counts_by_name_and_size_not_place(tmp_path):
    first, second = tmp_path / 'a', tmp_path / 'b'
    first.mkdir(), second.mkdir()
    (first / 'mscan_b.pth').write_bytes(b'x' * 10)
    (second / 'mscan_b.pth').write_bytes(b'x' * 10)
    hashes = []
    for folder in (first, second):
        cfg = _cfg('segnext_b', 'msrs')
        cfg.model.backbone.init_cfg.checkpoint = str(folder / 'mscan_b.pth')
        hashes.append(config_hash(cfg))
    assert hashes[0] == hashes[1]
    (second / 'mscan_b.pth').write_bytes(b'x' * 11)  # another file of the same name
    cfg = _cfg('segnext_b', 'msrs')
    cfg.model.backbone.init_cfg.checkpoint = str(second / 'mscan_b.pth')
    assert config_hash(cfg) != hashes[0]


def test_runner_config_keeps_only_what_a_runner_reads(tmp_path):
    cfg = _cfg('segformer_mini', 'synthetic')
    cfg.pretrained_decision = 'off'
    cfg.some_layer_variable = dict(a=1)
    spec = RunSpec.of('synthetic', 'segformer_mini', Source('vi', 'vi'), seed=3)
    folder = RunFolder(str(tmp_path / 'run'))
    train = runner_config(cfg, spec, folder, 'train')
    assert train.work_dir == folder.path and train.experiment_name.startswith(
        'segformer_mini_vi_seed3_train_')
    for key in ('pretrained_decision', 'some_layer_variable', 'crop_size', 'tta_pipeline'):
        assert key not in train, key
    for key in ('model', 'train_dataloader', 'optim_wrapper', 'default_hooks', 'default_scope'):
        assert key in train, key
    assert train.test_evaluator.pred_dir == folder.predictions(False)
    assert train.model.type == 'EncoderDecoder'
    tta = runner_config(cfg, RunSpec.of('synthetic', 'segformer_mini', Source('vi', 'vi'),
                                        tta=True), folder, 'test')
    assert tta.model.type == 'SegTTAModel' and tta.model.module.type == 'EncoderDecoder'
    assert tta.test_dataloader.dataset.pipeline == cfg.tta_pipeline
    assert tta.test_evaluator.pred_dir.endswith('preds_tta')
    # the config a Runner gets is a loadable Python config
    tta.dump(str(tmp_path / 'dumped.py'))
    assert Config.fromfile(str(tmp_path / 'dumped.py')).model.type == 'SegTTAModel'


def test_run_spec_key_names_its_source():
    spec = RunSpec.of('fmb', 'segformer_b2', Source('avg', 'fused', '/x'), seed=1, tta=True)
    assert spec.key == RunKey('fmb', 'segformer_b2', 'avg', 1, True)
    with pytest.raises(ValueError, match="names source 'ir' but the source is 'vi'"):
        RunSpec(RunKey('fmb', 'segformer_b2', 'ir'), Source('vi', 'vi'))


def test_plain_text_config_is_loadable(tmp_path):
    cfg = PlainTextConfig(dict(model=dict(type='X', sizes=(1, 2)), name='a'))
    path = tmp_path / 'dumped.py'
    cfg.dump(str(path))
    assert Config.fromfile(str(path)).model.sizes == (1, 2)


def test_trusted_loading_only_inside_the_folder(tmp_path):
    import torch
    from mmengine.logging import HistoryBuffer

    inside, outside = tmp_path / 'run', tmp_path / 'other'
    inside.mkdir()
    outside.mkdir()
    for folder in (inside, outside):
        torch.save({'buffer': HistoryBuffer()}, folder / 'ckpt.pth')
    with trust_checkpoints_under(str(inside)):
        assert isinstance(torch.load(inside / 'ckpt.pth')['buffer'], HistoryBuffer)
        with pytest.raises(Exception, match='weights_only|Unsupported global'):
            torch.load(outside / 'ckpt.pth')
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(inside / 'ckpt.pth')


def test_a_named_schedule_takes_the_segmenters_own_version():
    """SegFormer-B2's 160k schedule runs at the authors' lr 1e-4: ``--schedule 160k`` keeps
    it (and the hash); the schedule's name is recorded."""
    from psfusion.benchmark.run_config import schedule_name

    cfg = _cfg('segformer_b2', 'msrs')
    base = config_hash(cfg)
    assert cfg.optim_wrapper.optimizer.lr == 1e-4 and schedule_name(cfg) == '160k'
    apply_schedule(cfg, '160k', segmenter='segformer_b2')
    assert cfg.optim_wrapper.optimizer.lr == 1e-4 and config_hash(cfg) == base
    apply_schedule(cfg, 'quick', segmenter='segformer_b2')
    assert schedule_name(cfg) == 'quick' and cfg.train_cfg.max_iters == 300
    assert schedule_name(_cfg('banet', 'msrs')) == '80k'


def test_benchmark_runs_train_on_the_whole_training_split(tmp_path):
    """The configs hold validation pairs out of train/; the harness trains on all of it."""
    from psfusion.benchmark.run_config import RunOptions, build_run_config, training_items
    from psfusion.data.synthetic import write_synthetic_dataset

    write_synthetic_dataset(str(tmp_path / 'data'), num_train=10, num_test=2, num_val=0,
                            height=32, width=40)
    spec = RunSpec.of('synthetic', 'segformer_mini', Source('vi', 'vi'))
    cfg = build_run_config(spec, RunOptions(data_root=str(tmp_path / 'data'),
                                            work_dir=str(tmp_path / 'w'), pretrained='off'),
                           log=lambda message: None)
    assert 'holdout' not in cfg.train_dataloader.dataset and cfg.val_dataloader is None
    assert len(training_items(cfg)) == 10
    assert 'holdout' in _cfg('segformer_mini', 'synthetic').train_dataloader.dataset
