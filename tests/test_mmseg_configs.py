"""Every segmenter config for every dataset: the config layers' contract, the settings, one
training step at a tiny size, and the configs shipped with the package."""
from __future__ import annotations

import ast
import configparser
import copy
import functools
import glob
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, MODELS

import psfusion
from psfusion.benchmark.catalog import DATASETS as DATASET_KEYS
from psfusion.benchmark.catalog import PAPER_SEGMENTERS, SEGMENTERS, config_path, \
    is_feature_level
from psfusion.benchmark.datasets import disable_validation
from psfusion.benchmark.run_config import SCHEDULE_KEYS, apply_image_size
from psfusion.data.layouts import layout_class
from psfusion.data.synthetic import write_synthetic_dataset

from .benchmark._data import cached_mmseg_metainfo, make_mfnet_from_msrs

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / 'mmseg_configs'
CONFIGS = [(s, d) for s in SEGMENTERS for d in DATASET_KEYS]
# One training step of the image-level configs; the feature-level models (rgbt source) train in
# tests/segmenters/test_feature_level.py, their leaves are checked against their image-level
# counterparts' in tests/benchmark/test_rgbt.py.
IMAGE_CONFIGS = [(s, d) for s, d in CONFIGS if not is_feature_level(s)]
CROPS = {'msrs': (480, 640), 'mfnet': (480, 640), 'fmb': (600, 800), 'synthetic': (128, 160)}
DATASET_TYPES = {'msrs': 'psfusion.MSRSSegDataset', 'mfnet': 'psfusion.MFNetSegDataset',
                 'fmb': 'psfusion.FMBSegDataset', 'synthetic': 'psfusion.SyntheticSegDataset'}
# Parameters with 9 classes: SegFormer-B2's as measured in ENVIRONMENT.md, the others agree
# with its rounded values (61.4 M, 27.6 M, 48.8 M); BANet's equal the reference network's
# (SeAFusion's BiSeNet on a torchvision resnet18, TABLE1_METHODS.md (a)).
PARAMS = {'banet': 12_894_080, 'segformer_b2': 24_725_449, 'segformer_b4': 61_371_849,
          'segnext_b': 27_563_977, 'segnext_l': 48_782_025, 'segformer_mini': 879_609}
# Parameters per class beyond 9: a 1x1 classifier (channels -> classes, with bias) per head;
# BANet has two classifiers without bias (main 128, auxiliary 64 channels).
PARAMS_PER_CLASS = {'banet': 128 + 64}
# The schedule of each segmenter's real-dataset configs (synthetic configs use 'quick'), and
# its batch size where it is not the dataset base's 8: BANet trains with its own recipe
# (SeAFusion's), SegFormer-B4 and SegNeXt with the PSFusion authors' batch, SegFormer-B2 with
# their learning rate (see the model bases' docstrings).
# The feature-level segmenters share the recipe of the SegFormer they are compared with.
SCHEDULE = {'banet': 'banet_80k', 'segformer_b2': 'segformer_b2_160k',
            'cmx_b2': 'segformer_b2_160k', 'early_b2': 'segformer_b2_160k'}
BATCH_SIZE = {'banet': 16, 'segformer_b4': 4, 'segnext_b': 4, 'segnext_l': 6, 'cmx_b4': 4}
LR = {'segformer_b2': 1e-4, 'cmx_b2': 1e-4, 'early_b2': 1e-4}
# The validation data of each dataset's configs: (split, holdout part); None: no hold-out.
VALIDATION = {'msrs': ('train', 'val'), 'fmb': ('train', 'val'), 'synthetic': ('train', 'val'),
              'mfnet': ('val', None)}


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


@functools.lru_cache(maxsize=None)
def _parse(segmenter: str, dataset: str) -> Config:
    return Config.fromfile(str(config_path(segmenter, dataset)))


def _load(segmenter: str, dataset: str) -> Config:
    return copy.deepcopy(_parse(segmenter, dataset))


@functools.lru_cache(maxsize=None)
def _schedule(name: str) -> Config:
    return Config.fromfile(str(CONFIG_DIR / '_base_' / 'schedules' / f'{name}.py'))


def _num_classes(dataset: str) -> int:
    return len(layout_class(dataset).metainfo['classes'])


# ----------------------------------------------------------------------------------------
# The layers' contract (see mmseg_configs/_base_/datasets/msrs.py)
# ----------------------------------------------------------------------------------------
def test_every_segmenter_has_a_config_for_every_dataset():
    leaves = {Path(p).stem for p in glob.glob(str(CONFIG_DIR / '*.py'))}
    assert leaves == {f'{s}_{d}' for s, d in CONFIGS}


def test_no_config_wraps_settings_for_a_leaf_to_unpack():
    files = sorted(CONFIG_DIR.rglob('*.py'))
    assert len(files) == len(CONFIGS) + 20  # 4 dataset, 11 model and 5 schedule bases
    for path in files:
        text = path.read_text()
        assert 'data_settings' not in text and 'schedule_settings' not in text, path


@pytest.mark.parametrize('segmenter, dataset', CONFIGS)
def test_a_leaf_is_its_bases_and_its_model_changes(segmenter, dataset):
    path = config_path(segmenter, dataset)
    tree = ast.parse(path.read_text())
    names = [target.id for node in tree.body if isinstance(node, ast.Assign)
             for target in node.targets]
    batch = ['train_dataloader'] if segmenter in BATCH_SIZE and dataset != 'synthetic' else []
    if is_feature_level(segmenter):  # every loader reads the rgbt source
        batch = ['train_dataloader', 'val_dataloader', 'test_dataloader']
    assert names == ['_base_'] + batch + ['model'], path
    assert _parse(segmenter, dataset)._cfg_dict.keys().isdisjoint(
        {'data_settings', 'schedule_settings'})


@pytest.mark.parametrize('segmenter, dataset', CONFIGS)
def test_the_schedule_comes_whole_from_its_schedule_file(segmenter, dataset):
    """What ``--schedule`` replaces (the four keys of a schedule file resolved on its own) is
    exactly what the leaf has: nothing of the schedule comes from elsewhere."""
    name = 'quick' if dataset == 'synthetic' else SCHEDULE.get(segmenter, 'schedule_160k')
    schedule = _schedule(name)
    cfg = _parse(segmenter, dataset)
    for key in SCHEDULE_KEYS + ('val_cfg', 'test_cfg', 'default_scope', 'tta_model'):
        assert cfg[key] == schedule[key], key


# ----------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('segmenter, dataset', CONFIGS)
def test_config_settings(segmenter, dataset):
    cfg = _load(segmenter, dataset)
    assert cfg.custom_imports.imports[0] == 'psfusion'  # before any mmseg import
    assert cfg.num_classes == cfg.model.decode_head.num_classes == _num_classes(dataset)
    assert 'SyncBN' not in json.dumps(cfg.model.to_dict(), default=str)
    crop = CROPS[dataset]
    assert tuple(cfg.crop_size) == crop and tuple(cfg.model.data_preprocessor.size) == crop
    val_split, val_part = VALIDATION[dataset]
    for loader, split, part in (('train_dataloader', 'train', val_part and 'train'),
                                ('val_dataloader', val_split, val_part),
                                ('test_dataloader', 'test', None)):
        dataset_cfg = cfg[loader].dataset
        assert dataset_cfg.type == DATASET_TYPES[dataset] and dataset_cfg.split == split
        holdout = dataset_cfg.get('holdout')
        assert (holdout and holdout.part) == part, loader  # validation never reads test
        if part:  # the fusion network's hold-out (psfusion/configs/_base_/datasets/msrs.py)
            assert (holdout.fraction, holdout.seed) == (0.1, 0)
        assert not dataset_cfg.get('reduce_zero_label', False)
        assert 'persistent_workers' in cfg[loader]
    steps = {step.type: step for step in cfg.train_dataloader.dataset.pipeline}
    if dataset == 'synthetic':  # whole images and flips only, for the quick schedule
        assert list(steps) == ['psfusion.LoadSourceImage', 'psfusion.LoadClassIdLabel', 'Resize',
                               'RandomFlip', 'PackSegInputs']
        assert tuple(steps['Resize'].scale) == crop[::-1]
    else:
        assert tuple(steps['RandomCrop'].crop_size) == crop  # (h, w), not the authors' (w, h)
        assert tuple(steps['RandomResize'].scale) == crop[::-1]  # mmcv's (w, h)
        assert steps['RandomResize'].ratio_range == (0.5, 2.0)
        assert 'PhotoMetricDistortion' in steps
        assert cfg.train_dataloader.batch_size == BATCH_SIZE.get(segmenter, 8)
    test_steps = {step.type: step for step in cfg.test_dataloader.dataset.pipeline}
    assert tuple(test_steps['Resize'].scale) == crop[::-1]
    assert cfg.test_evaluator.type == cfg.val_evaluator.type == 'psfusion.PerClassIoUMetric'
    assert cfg.tta_pipeline[1].type == 'TestTimeAug'
    optimizer = cfg.optim_wrapper.optimizer
    warmup, poly = cfg.param_scheduler
    assert cfg.default_scope == 'mmseg' and cfg.default_hooks.checkpoint.save_last
    init_cfg = cfg.model.backbone.get('init_cfg')
    if dataset != 'synthetic' and SCHEDULE.get(segmenter) == 'banet_80k':
        # SeAFusion's train.py / optimizer.py (see the schedule file)
        assert (optimizer.type, optimizer.lr, optimizer.momentum, optimizer.weight_decay) == (
            'SGD', 1e-2, 0.9, 5e-4)
        paramwise = cfg.optim_wrapper.paramwise_cfg
        assert paramwise.norm_decay_mult == paramwise.bias_decay_mult == 0.0
        assert paramwise.custom_keys['conv_seg'].lr_mult == 10.0
        assert warmup.type == 'ExponentialWarmupLR' and warmup.start_factor == 1e-3
        assert (warmup.begin, warmup.end, poly.begin, poly.end) == (0, 1001, 1000, 80001)
        assert poly.type == 'PolyLR' and poly.power == 0.9 and poly.eta_min == 0.0
        assert cfg.train_cfg.max_iters == 80000
        assert init_cfg.type == 'Pretrained'  # torchvision's ImageNet resnet18
        assert init_cfg.checkpoint == 'https://download.pytorch.org/models/resnet18-f37072fd.pth'
        return
    assert optimizer.type == 'AdamW' and optimizer.weight_decay == 0.01
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['head'].lr_mult == 10.0
    assert warmup.type == 'LinearLR' and poly.type == 'PolyLR' and poly.power == 1.0
    if dataset == 'synthetic':
        assert cfg.train_cfg.max_iters == 300 and init_cfg is None  # quick, offline
        assert optimizer.lr == 1.2e-3
    else:
        assert cfg.train_cfg.max_iters == 160000 and poly.end == 160000
        assert warmup.end == 1500 and optimizer.lr == LR.get(segmenter, 6e-5)
        if segmenter in PAPER_SEGMENTERS:
            assert init_cfg.type == 'Pretrained'
            assert init_cfg.checkpoint.startswith('https://download.openmmlab.com/')
            assert segmenter.split('_')[1] in init_cfg.checkpoint  # mit_b2, mscan_l, ...


@pytest.mark.parametrize('segmenter', list(SEGMENTERS))
def test_same_model_on_every_dataset_but_for_its_classes(segmenter):
    models = []
    for dataset in DATASET_KEYS:
        model = _load(segmenter, dataset).model.to_dict()
        model.pop('data_preprocessor')
        model['backbone'].pop('init_cfg', None)
        assert model['decode_head'].pop('num_classes') == _num_classes(dataset)
        if 'auxiliary_head' in model:
            assert model['auxiliary_head'].pop('num_classes') == _num_classes(dataset)
        models.append(model)
    assert all(model == models[0] for model in models[1:])


# ----------------------------------------------------------------------------------------
# One training step of every config
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def tiny_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp('configs')
    synthetic, fmb = root / 'synthetic', root / 'fmb'
    write_synthetic_dataset(str(synthetic), num_train=2, num_test=1, num_val=0, height=64,
                            width=64)
    write_synthetic_dataset(str(fmb), num_train=2, num_test=1, num_val=0, height=64, width=64,
                            layout='fmb')
    mfnet = make_mfnet_from_msrs(synthetic, root / 'mfnet')
    return {'msrs': synthetic, 'synthetic': synthetic, 'mfnet': mfnet, 'fmb': fmb}


@pytest.mark.parametrize('segmenter, dataset', IMAGE_CONFIGS)  # all 24 in CI
def test_one_training_step_at_a_tiny_size(segmenter, dataset, tiny_roots):
    cfg = _load(segmenter, dataset)
    apply_image_size(cfg, (32, 32))
    disable_validation(cfg)  # the whole train split, as the benchmark trains
    cfg.model.backbone.init_cfg = None  # no model zoo here
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(tiny_roots[dataset])
    with DefaultScope.overwrite_default_scope('mmseg'):
        data = DATASETS.build(dataset_cfg)
        batch = pseudo_collate([data[0], data[1]])
    assert len(data.metainfo['classes']) == cfg.model.decode_head.num_classes
    assert all(image.shape[0] == 3 and max(image.shape[1:]) <= 32 for image in batch['inputs'])
    torch.manual_seed(0)  # LightHamHead draws random bases at every forward pass
    model = MODELS.build(cfg.model)
    # the classifiers grow with the classes
    per_class = PARAMS_PER_CLASS.get(segmenter, cfg.model.decode_head.channels + 1)
    extra = (_num_classes(dataset) - 9) * per_class
    assert sum(p.numel() for p in model.parameters()) == PARAMS[segmenter] + extra
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(losses['loss']) and losses['loss'] > 0
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    assert any(n.startswith('backbone') for n in changed)
    assert any(n.startswith('decode_head') for n in changed)


@pytest.fixture(scope='module')
def holdout_roots(tmp_path_factory):
    """Ten training pairs per dataset (one is held out), two test pairs; MFNet's val.txt lists
    pairs of neither."""
    root = tmp_path_factory.mktemp('holdout')
    synthetic, fmb = root / 'synthetic', root / 'fmb'
    write_synthetic_dataset(str(synthetic), num_train=10, num_test=2, num_val=0, height=32,
                            width=32)
    write_synthetic_dataset(str(fmb), num_train=10, num_test=2, num_val=0, height=32, width=32,
                            layout='fmb')
    mfnet = make_mfnet_from_msrs(synthetic, root / 'mfnet')
    train = (mfnet / 'train.txt').read_text().split()
    (mfnet / 'train.txt').write_text('\n'.join(train[:7]) + '\n')
    (mfnet / 'val.txt').write_text('\n'.join(train[7:]) + '\n')
    return {'msrs': synthetic, 'synthetic': synthetic, 'mfnet': mfnet, 'fmb': fmb}


def _stems(cfg: Config, loader: str, data_root) -> list:
    dataset_cfg = copy.deepcopy(cfg[loader].dataset)
    dataset_cfg.update(data_root=str(data_root), pipeline=[], serialize_data=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return [item['name'] for item in DATASETS.build(dataset_cfg).data_list]


@pytest.mark.parametrize('dataset', list(DATASET_KEYS))
def test_validation_is_held_out_of_training_and_never_the_test_split(dataset, holdout_roots):
    """What mmseg's tools/train.py runs with a leaf config: it validates on pairs it does not
    train on, never on test; the benchmark (disable_validation) trains on the whole split."""
    cfg = _load('segformer_mini', dataset)  # the dataset base is the same for every segmenter
    root = holdout_roots[dataset]
    train, val, test = (_stems(cfg, loader, root)
                        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'))
    assert val and not set(val) & set(train) and not set(val) & set(test)
    whole = sorted(s['name'] for s in layout_class(dataset)(str(root)).samples('train'))
    if dataset == 'mfnet':  # its own val split
        assert val == (root / 'val.txt').read_text().split() and train == whole
    else:  # a seeded 10 % of train: one of the ten pairs
        assert len(val) == 1 and sorted(train + val) == whole
    disable_validation(cfg)
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    assert sorted(_stems(cfg, 'train_dataloader', root)) == whole


# ----------------------------------------------------------------------------------------
# Shipped with the package
# ----------------------------------------------------------------------------------------
def test_both_config_trees_are_package_data():
    """A non-editable install finds the configs: ``psfusion/.mim/mmseg_configs`` is the
    checkout's ``mmseg_configs/``, and setup.cfg's package_data patterns (setuptools globs,
    relative to the package) take in every config file of both trees, ``_base_`` included."""
    package = Path(psfusion.__file__).resolve().parent
    assert (package / '.mim' / 'mmseg_configs').resolve() == CONFIG_DIR.resolve()
    setup = configparser.ConfigParser()
    setup.read(REPO / 'setup.cfg')
    patterns = setup['options.package_data']['psfusion'].split()
    shipped = {Path(path).resolve() for pattern in patterns
               for path in glob.glob(str(package / pattern), recursive=True)}
    wanted = set(CONFIG_DIR.rglob('*.py')) | set((package / 'configs').rglob('*.py'))
    assert {path.resolve() for path in wanted} <= shipped
    assert any('_base_' in path.parts for path in wanted)
