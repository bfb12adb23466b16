"""Every segmenter config for every dataset: settings, and one training step at a tiny size."""
from __future__ import annotations

import copy
import functools
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, MODELS

from psfusion.benchmark.catalog import DATASETS as DATASET_KEYS
from psfusion.benchmark.catalog import PAPER_SEGMENTERS, SEGMENTERS, config_path
from psfusion.benchmark.runs import apply_image_size

from .benchmark._data import cached_mmseg_metainfo, make_mfnet_from_msrs, make_synthetic

CONFIGS = [(s, d) for s in SEGMENTERS for d in DATASET_KEYS]
CROPS = {'msrs': (480, 640), 'mfnet': (480, 640), 'synthetic': (128, 160)}
DATASET_TYPES = {'msrs': 'psfusion.MSRSSegDataset', 'mfnet': 'psfusion.MFNetSegDataset',
                 'synthetic': 'psfusion.SyntheticSegDataset'}
# Parameters with 9 classes: SegFormer-B2's as measured in ENVIRONMENT.md, the others agree
# with its rounded values (61.4 M, 27.6 M, 48.8 M).
PARAMS = {'segformer_b2': 24_725_449, 'segformer_b4': 61_371_849, 'segnext_b': 27_563_977,
          'segnext_l': 48_782_025, 'segformer_mini': 879_609}


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


@functools.lru_cache(maxsize=None)
def _parse(segmenter: str, dataset: str) -> Config:
    return Config.fromfile(str(config_path(segmenter, dataset)))


def _load(segmenter: str, dataset: str) -> Config:
    return copy.deepcopy(_parse(segmenter, dataset))


@pytest.mark.parametrize('segmenter, dataset', CONFIGS)
def test_config_settings(segmenter, dataset):
    cfg = _load(segmenter, dataset)
    assert cfg.custom_imports.imports[0] == 'psfusion'  # before any mmseg import
    assert cfg.model.decode_head.num_classes == 9
    assert 'SyncBN' not in json.dumps(cfg.model.to_dict(), default=str)
    crop = CROPS[dataset]
    assert tuple(cfg.crop_size) == crop and tuple(cfg.model.data_preprocessor.size) == crop
    for loader, split in (('train_dataloader', 'train'), ('test_dataloader', 'test')):
        dataset_cfg = cfg[loader].dataset
        assert dataset_cfg.type == DATASET_TYPES[dataset] and dataset_cfg.split == split
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
    assert cfg.test_evaluator.type == 'psfusion.PerClassIoUMetric'
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.weight_decay == 0.01
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['head'].lr_mult == 10.0
    warmup, poly = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and poly.type == 'PolyLR' and poly.power == 1.0
    init_cfg = cfg.model.backbone.get('init_cfg')
    if dataset == 'synthetic':
        assert cfg.train_cfg.max_iters == 300 and init_cfg is None  # quick, offline
    else:
        assert cfg.train_cfg.max_iters == 160000 and poly.end == 160000
        assert warmup.end == 1500 and optimizer.lr == 6e-5
        if segmenter in PAPER_SEGMENTERS:
            assert init_cfg.type == 'Pretrained'
            assert init_cfg.checkpoint.startswith('https://download.openmmlab.com/')


@pytest.fixture(scope='module')
def tiny_roots(tmp_path_factory):
    root = tmp_path_factory.mktemp('configs')
    synthetic = make_synthetic(root / 'synthetic', num_train=2, num_test=1, size=(64, 64))
    mfnet = make_mfnet_from_msrs(synthetic, root / 'mfnet')
    return {'msrs': synthetic, 'synthetic': synthetic, 'mfnet': mfnet}


@pytest.mark.parametrize('segmenter', list(SEGMENTERS))
def test_same_model_on_every_dataset(segmenter):
    models = []
    for dataset in DATASET_KEYS:
        model = _load(segmenter, dataset).model.to_dict()
        model.pop('data_preprocessor')
        model['backbone'].pop('init_cfg', None)
        models.append(model)
    assert all(model == models[0] for model in models[1:])


@pytest.mark.parametrize('segmenter, dataset', CONFIGS)  # all 15 in CI: <= 4 s each
def test_one_training_step_at_a_tiny_size(segmenter, dataset, tiny_roots):
    cfg = _load(segmenter, dataset)
    apply_image_size(cfg, (32, 32))
    cfg.model.backbone.init_cfg = None  # no model zoo here
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(tiny_roots[dataset])
    with DefaultScope.overwrite_default_scope('mmseg'):
        data = DATASETS.build(dataset_cfg)
        batch = pseudo_collate([data[0], data[1]])
    assert all(image.shape[0] == 3 and max(image.shape[1:]) <= 32 for image in batch['inputs'])
    torch.manual_seed(0)  # LightHamHead draws random bases at every forward pass
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[segmenter]
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(losses['loss']) and losses['loss'] > 0
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    assert any(n.startswith('backbone') for n in changed)
    assert any(n.startswith('decode_head') for n in changed)
