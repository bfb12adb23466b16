"""The ``rgbt`` source of feature-level (two-stream RGB-T) segmenters: both modalities as one
R, G, B, T sample through the image-level configs' pipelines, its statistics, the segmenters'
input check, the feature-level configs, CMX's schedule, and a short benchmark run.

Known-value data: every pixel's infrared and visible values are a fixed function of its class
(:func:`infrared_of`, :func:`visible_of`), so after any geometric step the four channels and the
label must still agree pixel by pixel wherever the label is locally constant (at class borders
bilinear image resizing mixes values that nearest-neighbour label resizing does not).
"""
from __future__ import annotations

import ast
import copy
import json
import os
import random
import re
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmseg.datasets.transforms import PhotoMetricDistortion
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from numpy.lib.stride_tricks import sliding_window_view

from psfusion.benchmark.catalog import (FEATURE_LEVEL, IMAGE_LEVEL, PAPER_SEGMENTERS,
                                        SEGMENTERS, check_input, config_path, display_name,
                                        parse_segmenters)
from psfusion.benchmark.results import read_results
from psfusion.benchmark.run_paths import WorkDir
from psfusion.benchmark.run_config import (RECIPE_KEYS, SCHEDULE_DATA_KEYS, RunOptions,
                                           RunSpec, apply_image_size, apply_schedule,
                                           build_run_config, change_pipeline_steps,
                                           config_hash, load_config, schedule_file)
from psfusion.benchmark.sources import Source, parse_source
from psfusion.benchmark.stats import source_statistics
from psfusion.benchmark.transforms import (LoadSourceImage, VisiblePhotoMetricDistortion,
                                           read_rgbt, read_source_rgb, rgbt_pipeline)
from psfusion.data.io import DataError
from psfusion.errors import ConfigError

from ._data import cached_mmseg_metainfo, make_mfnet_from_msrs, make_synthetic, save

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools'))
import benchmark_downstream  # noqa: E402

FEATURE_SEGMENTERS = ('cmx_b2', 'cmx_b4', 'cmx_mini', 'early_b2', 'early_mini')
#: The image-level segmenter whose recipe each feature-level one shares.
COUNTERPART = {'cmx_b2': 'segformer_b2', 'cmx_b4': 'segformer_b4',
               'cmx_mini': 'segformer_mini', 'early_b2': 'segformer_b2',
               'early_mini': 'segformer_mini'}
DATASET_NAMES = ('msrs', 'mfnet', 'fmb', 'synthetic')


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


# ----------------------------------------------------------------------------------------
# Known-value data
# ----------------------------------------------------------------------------------------
def infrared_of(label: np.ndarray) -> np.ndarray:
    return (20 * label.astype(np.int32) + 15).astype(np.uint8)


def visible_of(label: np.ndarray) -> np.ndarray:
    """R, G, B: three different functions of the class (so a channel swap shows)."""
    label = label.astype(np.int32)
    return np.stack([25 * label + 5, 200 - 20 * label, 7 * label + 3], axis=-1).astype(np.uint8)


def blocky_label(rng, size, block: int = 16, num_classes: int = 9) -> np.ndarray:
    h, w = size
    coarse = rng.integers(0, num_classes, (h // block, w // block)).astype(np.uint8)
    return np.kron(coarse, np.ones((block, block), np.uint8))


def make_coded(root, layout: str = 'msrs', size=(64, 80), seed: int = 0,
               splits=(('train', 3), ('test', 2))):
    """An MSRS- or FMB-layout dataset of known-value samples (see the module docstring)."""
    folders = dict(msrs=('ir', 'vi', 'Segmentation_labels'),
                   fmb=('Infrared', 'Visible', 'Label'))[layout]
    rng = np.random.default_rng(seed)
    for split, count in splits:
        for index in range(count):
            stem = f'{index:05d}{"DN"[index % 2]}'
            label = blocky_label(rng, size)
            for folder, image in zip(folders, (infrared_of(label), visible_of(label), label)):
                save(root / split / folder / f'{stem}.png', image)
    return root


@pytest.fixture(scope='module')
def coded(tmp_path_factory):
    root = tmp_path_factory.mktemp('coded')
    msrs = make_coded(root / 'msrs')
    return dict(msrs=msrs, synthetic=msrs, mfnet=make_mfnet_from_msrs(msrs, root / 'mfnet'),
                fmb=make_coded(root / 'fmb', 'fmb'))


DATASET_TYPES = dict(msrs='psfusion.MSRSSegDataset', synthetic='psfusion.SyntheticSegDataset',
                     mfnet='psfusion.MFNetSegDataset', fmb='psfusion.FMBSegDataset')


def _build(dataset_cfg):
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(dataset_cfg)


def _train_dataset(segmenter: str, dataset: str, root, size=(48, 64), schedule=None):
    """The training dataset of a leaf config on ``root`` (whole split), at ``size``."""
    cfg = load_config(str(config_path(segmenter, dataset)))
    if schedule:
        apply_schedule(cfg, schedule)
    apply_image_size(cfg, size)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(root)
    dataset_cfg.pop('holdout', None)
    return _build(dataset_cfg)


def _uniform(label: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels whose ``(2 radius + 1)^2`` neighbourhood holds one class and lies inside the
    image (at a crop's edge the image was resized with pixels the crop cut off)."""
    padded = np.pad(label, radius, constant_values=255)
    windows = sliding_window_view(padded, (2 * radius + 1, ) * 2)
    return (windows.min(axis=(-1, -2)) == windows.max(axis=(-1, -2))) & (label != 255)


def _sample_arrays(sample) -> tuple[np.ndarray, np.ndarray]:
    """``(H x W x 4 image, H x W label)`` of a packed sample."""
    image = sample['inputs'].numpy().transpose(1, 2, 0)
    label = sample['data_samples'].gt_sem_seg.data.numpy()[0]
    return image, label


def _seed(value: int) -> None:
    np.random.seed(value)
    random.seed(value)


# ----------------------------------------------------------------------------------------
# The sample: R, G, B, T, aligned with the label
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('dataset', DATASET_NAMES)
def test_every_layout_loads_r_g_b_t(dataset, coded):
    """MSRS, synthetic (separate files), MFNet (one 4-channel file) and FMB: the visible RGB
    then the infrared channel, as the files hold them."""
    data = _build(dict(type=DATASET_TYPES[dataset], data_root=str(coded[dataset]),
                       split='train', source='rgbt', serialize_data=False,
                       pipeline=[dict(type='psfusion.LoadSourceImage'),
                                 dict(type='psfusion.LoadClassIdLabel')]))
    item = data.get_data_info(0)
    assert item['img_modality'] == 'rgbt' and 'ir_path' in item
    if dataset == 'mfnet':
        assert item['img_path'] == item['ir_path']
        assert (item['img_channels'], item['ir_channels']) == ([0, 1, 2], [3])
    results = data[0]
    image, label = results['img'], results['gt_seg_map']
    assert image.shape == (64, 80, 4) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., :3], visible_of(label))
    np.testing.assert_array_equal(image[..., 3], infrared_of(label))


def test_train_pipeline_keeps_both_modalities_and_the_label_aligned(coded):
    """The MSRS configs' training pipeline (random 0.5-2x rescaling, crop, flip, photometric
    distortion) on rgbt samples: T is still the infrared function of the label, the visible
    channels one colour per class (the distortion maps colours, not places; OpenCV's HSV
    conversion rounds pixels in its vectorised and its scalar loop differently by a level or
    two, so one colour within 2 levels)."""
    data = _train_dataset('cmx_mini', 'msrs', coded['msrs'])
    assert [type(t).__name__ for t in data.pipeline.transforms] == [
        'LoadSourceImage', 'LoadClassIdLabel', 'RandomResize', 'RandomCrop', 'RandomFlip',
        'VisiblePhotoMetricDistortion', 'PackSegInputs']
    shapes, flipped = set(), 0
    for seed in range(8):
        _seed(seed)
        results = data.prepare_data(seed % len(data))
        image, label = _sample_arrays(results)
        shapes.add(image.shape)
        flipped += bool(results['data_samples'].metainfo.get('flip'))
        assert image.shape[2] == 4 and image.shape[:2] == label.shape
        inside = _uniform(label)
        assert inside.mean() > 0.2, seed
        np.testing.assert_array_equal(image[..., 3][inside], infrared_of(label[inside]))
        for value in np.unique(label[inside]):  # one colour per class (OpenCV's colour
            colours = image[..., :3][inside & (label == value)].astype(int)  # conversion
            assert (colours.max(0) - colours.min(0)).max() <= 2, (seed, value)  # rounds +-1)
    assert len(shapes) > 1 and 0 < flipped < 8  # it did rescale, crop and flip


def test_geometry_moves_visible_channels_with_the_label(coded):
    """Without photometric distortion (CMX's recipe: a scale from {0.5 ... 1.75}, crop, flip)
    the visible channels equal their function of the label too, and so does T."""
    data = _train_dataset('cmx_mini', 'mfnet', coded['mfnet'], schedule='cmx')
    assert 'RandomChoice' in [type(t).__name__ for t in data.pipeline.transforms]
    for seed in range(6):
        _seed(seed)
        image, label = _sample_arrays(data.prepare_data(seed % len(data)))
        inside = _uniform(label)
        assert inside.mean() > 0.2
        np.testing.assert_array_equal(image[..., :3][inside], visible_of(label[inside]))
        np.testing.assert_array_equal(image[..., 3][inside], infrared_of(label[inside]))


def test_test_pipeline_reads_whole_rgbt_images(coded):
    cfg = load_config(str(config_path('early_mini', 'fmb')))
    apply_image_size(cfg, (64, 80))
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset_cfg.data_root = str(coded['fmb'])
    image, label = _sample_arrays(_build(dataset_cfg)[0])
    np.testing.assert_array_equal(image[..., :3], visible_of(label))
    np.testing.assert_array_equal(image[..., 3], infrared_of(label))


def test_photometric_distortion_changes_only_the_visible_channels():
    """mmseg's distortion, with the same random draws, on the visible channels given as BGR;
    T untouched."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (16, 20, 4), np.uint8)
    step = TRANSFORMS.build(dict(type='psfusion.VisiblePhotoMetricDistortion'))
    assert isinstance(step, VisiblePhotoMetricDistortion)
    changed = 0
    for seed in range(6):
        np.random.seed(seed)
        out = step.transform(dict(img=image.copy()))['img']
        np.random.seed(seed)
        expected_bgr = PhotoMetricDistortion().transform(
            dict(img=np.ascontiguousarray(image[..., 2::-1])))['img']
        np.testing.assert_array_equal(out[..., 3], image[..., 3])
        np.testing.assert_array_equal(out[..., :3], expected_bgr[..., ::-1])
        changed += not np.array_equal(out[..., :3], image[..., :3])
    assert changed >= 3
    with pytest.raises(ConfigError, match='expects an R, G, B, T sample'):
        step.transform(dict(img=image[..., :3].copy()))


def test_channel_order_after_packing_and_the_preprocessor(tmp_path):
    """R, G, B, T from the loader to the model: each channel normalised with its own
    mean/std, whatever the preprocessor's bgr_to_rgb (it converts 3-channel inputs only); a
    3-channel source stays BGR until the preprocessor turns it to RGB."""
    label = np.zeros((8, 12), np.uint8)
    root = tmp_path / 'data'
    save(root / 'train' / 'vi' / 'a.png', np.dstack([np.full_like(label, v) for v in (10, 20, 30)]))
    save(root / 'train' / 'ir' / 'a.png', np.full_like(label, 40))
    save(root / 'train' / 'Segmentation_labels' / 'a.png', label)
    pipeline = [dict(type='psfusion.LoadSourceImage'), dict(type='psfusion.LoadClassIdLabel'),
                dict(type='PackSegInputs')]
    packed = {source: _build(dict(type='psfusion.MSRSSegDataset', data_root=str(root),
                                  split='train', source=source, pipeline=pipeline))[0]
              for source in ('rgbt', 'vi')}
    assert packed['rgbt']['inputs'][:, 0, 0].tolist() == [10, 20, 30, 40]
    assert packed['vi']['inputs'][:, 0, 0].tolist() == [30, 20, 10]  # BGR
    cfg = load_config(str(config_path('cmx_mini', 'msrs')))
    for bgr_to_rgb in (False, True):
        preprocessor = MODELS.build(dict(cfg.model.data_preprocessor, mean=[1, 2, 3, 4],
                                         std=[1, 2, 3, 4], bgr_to_rgb=bgr_to_rgb, size=None))
        out = preprocessor(pseudo_collate([packed['rgbt']]), False)['inputs']
        assert out.shape == (1, 4, 8, 12)
        assert out[0, :, 0, 0].tolist() == [9.0, 9.0, 9.0, 9.0]  # (v - mean) / std per channel
    preprocessor = MODELS.build(dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1],
                                     bgr_to_rgb=True))
    assert preprocessor(pseudo_collate([packed['vi']]), False)['inputs'][0, :, 0, 0].tolist() \
        == [10.0, 20.0, 30.0]


def test_read_rgbt_refuses_pairs_of_different_sizes(tmp_path):
    vi = save(tmp_path / 'vi.png', np.zeros((8, 12, 3), np.uint8))
    ir = save(tmp_path / 'ir.png', np.zeros((8, 10), np.uint8))
    with pytest.raises(DataError, match=r'size mismatch: infrared .*ir.png is 10x8 but visible'):
        read_rgbt(str(vi), str(ir))
    with pytest.raises(ValueError, match='no ir_path'):
        LoadSourceImage().transform(dict(img_path=str(vi), img_modality='rgbt'))
    with pytest.raises(ValueError, match='read_rgbt'):
        read_source_rgb(str(vi), 'rgbt')


def test_rgbt_pipeline_replaces_only_the_photometric_distortion():
    cfg = load_config(str(config_path('segformer_b2', 'msrs')))
    train = cfg.train_dataloader.dataset.pipeline
    before = copy.deepcopy(train)
    rewritten = rgbt_pipeline(train)
    assert train == before  # copied, not changed in place
    kinds = [step['type'] for step in rewritten]
    assert kinds == [step['type'] for step in train][:5] + [
        'psfusion.VisiblePhotoMetricDistortion', 'PackSegInputs']
    distortion = dict(type='PhotoMetricDistortion', hue_delta=9)
    wrapped = rgbt_pipeline([dict(type='RandomChoice', transforms=[[distortion], []])])
    assert wrapped[0]['transforms'][0][0] == dict(
        type='psfusion.VisiblePhotoMetricDistortion', hue_delta=9)
    assert rgbt_pipeline(cfg.tta_pipeline) == cfg.tta_pipeline  # no distortion in it
    with pytest.raises(ConfigError, match='built instance'):
        rgbt_pipeline([PhotoMetricDistortion()])


# ----------------------------------------------------------------------------------------
# Sources, segmenters, statistics
# ----------------------------------------------------------------------------------------
def test_rgbt_is_a_source_of_four_channels(tmp_path):
    assert parse_source('rgbt') == Source('rgbt', 'rgbt') and parse_source('rgbt').channels == 4
    assert parse_source('vi').channels == 3
    with pytest.raises(ValueError, match="'rgbt' is reserved"):
        parse_source(f'rgbt={tmp_path}')


def test_segmenter_catalog():
    assert parse_segmenters('all') == list(PAPER_SEGMENTERS)  # still the paper's four
    for key in FEATURE_SEGMENTERS:
        assert SEGMENTERS[key].input == FEATURE_LEVEL and SEGMENTERS[key].feature_level
    assert all(SEGMENTERS[key].input == IMAGE_LEVEL for key in SEGMENTERS
               if key not in FEATURE_SEGMENTERS)
    assert [display_name(key) for key in FEATURE_SEGMENTERS] == [
        'CMX-B2', 'CMX-B4', 'CMX-mini', 'Early-B2', 'Early-mini']


def test_each_segmenter_takes_only_its_input(tmp_path):
    check_input('cmx_mini', parse_source('rgbt'))
    check_input('segformer_mini', parse_source('ir'))
    with pytest.raises(ConfigError, match=r'^cmx_mini is a feature-level \(RGB-T\) segmenter: '
                       r'it takes only the rgbt source \(visible \+ infrared\), not avg\.'):
        check_input('cmx_mini', parse_source('avg'))
    with pytest.raises(ConfigError, match=r'^segformer_b2 is an image-level segmenter: .* not '
                       r'rgbt .*feature-level segmenters \(cmx_b2, cmx_b4, cmx_mini, early_b2, '
                       r'early_mini\)'):
        check_input('segformer_b2', parse_source('rgbt'))
    options = RunOptions(data_root=str(tmp_path), work_dir=str(tmp_path / 'work'))
    with pytest.raises(ConfigError, match='early_b2 is a feature-level'):  # the API checks too
        build_run_config(RunSpec.of('msrs', 'early_b2', parse_source('vi')), options)


def test_one_call_pairs_each_segmenter_with_the_sources_it_takes():
    from psfusion.benchmark.catalog import check_inputs

    sources = [parse_source(name) for name in ('ir', 'vi', 'avg', 'rgbt')]
    pairs = check_inputs(['segformer_mini', 'early_mini'], sources)
    assert [(seg, src.name) for seg, src in pairs] == [
        ('segformer_mini', 'ir'), ('segformer_mini', 'vi'), ('segformer_mini', 'avg'),
        ('early_mini', 'rgbt')]


@pytest.mark.parametrize('seg, sources, message', [
    ('cmx_mini', 'ir', 'error: cmx_mini is a feature-level (RGB-T) segmenter: it takes only the '
     'rgbt source (visible + infrared), not ir.'),
    ('early_mini', 'rgbt,vi', 'error: early_mini is a feature-level (RGB-T) segmenter: it '
     'takes only the rgbt source (visible + infrared), not vi.'),
    ('segformer_mini,cmx_mini', 'rgbt', 'error: segformer_mini is an image-level segmenter: it '
     'takes one 3-channel image (ir, vi or a fused source), not rgbt'),
])
def test_the_tool_refuses_before_anything_runs(seg, sources, message, tmp_path, capsys):
    work = tmp_path / 'work'
    argv = ['--seg', seg, '--dataset', 'synthetic', '--data-root', str(tmp_path / 'none'),
            '--sources', sources, '--work-dir', str(work), '--pretrained', 'off']
    assert benchmark_downstream.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and len(err.splitlines()) == 1
    assert not work.exists()


def test_rgbt_statistics_are_the_visible_then_the_infrared_sources(tmp_path):
    """Four values: the vi source's three, then the ir source's one (its three are equal), from
    the same training images and the same cache."""
    data = make_synthetic(tmp_path / 'data', num_train=3, num_test=1, size=(32, 40))
    options = RunOptions(data_root=str(data), work_dir=str(tmp_path / 'work'),
                         pretrained='off')
    mean_std = {}
    for segmenter, source in (('segformer_mini', 'vi'), ('segformer_mini', 'ir'),
                              ('cmx_mini', 'rgbt')):
        cfg = build_run_config(RunSpec.of('synthetic', segmenter, parse_source(source)), options,
                               log=lambda message: None)
        preprocessor = cfg.model.data_preprocessor
        mean_std[source] = (list(preprocessor.mean), list(preprocessor.std))
    vi, ir, rgbt = mean_std['vi'], mean_std['ir'], mean_std['rgbt']
    assert ir[0][0] == ir[0][1] == ir[0][2] and vi[0][0] != vi[0][2]
    assert rgbt == (vi[0] + ir[0][:1], vi[1] + ir[1][:1])
    assert len(os.listdir(WorkDir(options.work_dir).stats_cache)) == 2  # vi's and ir's files
    items = [dict(img_path=str(data / 'train' / 'vi' / name), img_modality='rgbt',
                  img_channels=None, ir_path=str(data / 'train' / 'ir' / name),
                  ir_channels=None)
             for name in sorted(os.listdir(data / 'train' / 'vi'))]
    stats = source_statistics(items)
    assert stats['mean'] == rgbt[0] and stats['images'] == 3
    with pytest.raises(ValueError, match='rgbt items only'):
        source_statistics(items + [dict(img_path=items[0]['img_path'], img_modality='vi')])


# ----------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------
def _leaf(path) -> dict:
    """The top-level assignments of a leaf config file, as Python values (``_base_.x``
    references kept as text)."""
    values = {}
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign):
            values[node.targets[0].id] = ast.unparse(node.value)
    return values


@pytest.mark.parametrize('segmenter', FEATURE_SEGMENTERS)
def test_feature_level_leaves_are_their_counterparts_with_another_model(segmenter):
    """Each ``<segmenter>_<dataset>.py`` is its image-level counterpart's leaf with the model
    base swapped and the loaders reading rgbt: the same dataset and schedule bases, batch and
    model changes (read from the files: cheap for all 20)."""
    other = COUNTERPART[segmenter]
    for dataset in DATASET_NAMES:
        mine = _leaf(config_path(segmenter, dataset))
        theirs = _leaf(config_path(other, dataset))
        assert mine.pop('_base_') == theirs.pop('_base_').replace(
            f'/models/{other}.py', f'/models/{segmenter}.py')
        batch = theirs.pop('train_dataloader', None)
        expected = f"dict({batch[len('dict('):-1]}, dataset=dict(source='rgbt'))" if batch \
            else "dict(dataset=dict(source='rgbt'))"
        assert mine.pop('train_dataloader') == expected
        for loader in ('val_dataloader', 'test_dataloader'):
            assert mine.pop(loader) == "dict(dataset=dict(source='rgbt'))"
        assert mine == theirs  # the model changes: crop size, classes, (no) pretrained weights


@pytest.mark.parametrize('segmenter, dataset', [('cmx_b4', 'fmb'), ('early_b2', 'mfnet'),
                                                ('cmx_mini', 'synthetic')])
def test_feature_level_configs_share_the_image_level_recipe(segmenter, dataset):
    """Resolved: everything but the model and the source is the image-level counterpart's
    (schedule, batch, pipelines, crop, evaluation, test-time augmentation); every loader
    reads rgbt; the model takes 4 channels at the counterpart's size."""
    cfg = load_config(str(config_path(segmenter, dataset)))
    other = load_config(str(config_path(COUNTERPART[segmenter], dataset)))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.source == 'rgbt' and other[loader].dataset.source == 'vi'
        cfg[loader].dataset.source = 'vi'
    for key in set(RECIPE_KEYS) - {'model'} | {'val_dataloader', 'val_evaluator', 'crop_size',
                                               'num_classes', 'schedule_name'}:
        assert cfg.get(key) == other.get(key), key
    model = cfg.model
    assert model.decode_head.num_classes == other.model.decode_head.num_classes
    assert tuple(model.data_preprocessor.size) == tuple(other.model.data_preprocessor.size)
    assert len(model.data_preprocessor.mean) == len(model.data_preprocessor.std) == 4
    assert (model.backbone.get('init_cfg') is None) == \
        (other.model.backbone.get('init_cfg') is None)  # pretrained where the counterpart is


def test_image_level_config_hashes_are_unchanged():
    """The recipes (and so the hashes) of image-level runs are what they were before rgbt
    existed: feature-level support changes nothing of theirs."""
    pinned = {('segformer_b2', 'msrs'): '66e1189266b2ee9f',  # computed before rgbt existed
              ('segformer_mini', 'synthetic'): 'c5a8d48592314269',
              ('segformer_b4', 'fmb'): '992777146cd63335'}
    for (segmenter, dataset), value in pinned.items():
        assert config_hash(load_config(str(config_path(segmenter, dataset)))) == value


# ----------------------------------------------------------------------------------------
# --schedule cmx
# ----------------------------------------------------------------------------------------
def _cmx_lr(it: int, base: float = 6e-5, warmup: int = 990, total: int = 49500) -> float:
    """CMX's ``WarmUpPolyLR`` (utils/lr_policy.py)."""
    return base * it / warmup if it < warmup else base * (1 - it / total) ** 0.9


def test_cmx_schedule_values():
    cfg = load_config(str(config_path('cmx_b4', 'mfnet')))
    apply_schedule(cfg, 'cmx', segmenter='cmx_b4')
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, tuple(optimizer.betas), optimizer.weight_decay) == (
        'AdamW', 6e-5, (0.9, 0.999), 0.01)
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.0, bias_decay_mult=0.0)
    assert cfg.train_cfg.max_iters == 49500 == 500 * (784 // 8 + 1)
    assert cfg.train_dataloader.batch_size == 8  # CMX's, not SegFormer-B4's 4
    assert cfg.schedule_name == 'cmx'
    assert all(key in load_config(schedule_file('cmx')) for key in SCHEDULE_DATA_KEYS)
    steps = cfg.train_dataloader.dataset.pipeline
    kinds = [step.type for step in steps]
    assert 'PhotoMetricDistortion' not in kinds and 'RandomResize' not in kinds
    choice = steps[kinds.index('RandomChoice')]
    assert [t[0].scale_factor for t in choice.transforms] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    crop = steps[kinds.index('RandomCrop')]
    assert crop.cat_max_ratio == 1.0 and tuple(crop.crop_size) == (480, 640)
    test_steps = {step.type: step for step in cfg.test_dataloader.dataset.pipeline}
    assert tuple(test_steps['Resize'].scale) == (640, 480)  # single scale, whole image


def test_cmx_schedule_learning_rates_and_decay_groups():
    """mmengine's schedulers built from the schedule give CMX's lr from iteration 990 on, and
    within 1.8 % below it during the warm-up; biases and norm parameters have no decay."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS

    cfg = load_config(str(config_path('cmx_mini', 'mfnet')))
    apply_schedule(cfg, 'cmx')
    model = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 1), torch.nn.BatchNorm2d(4),
                                torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    with DefaultScope.overwrite_default_scope('mmseg'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper))
                      for s in cfg.param_scheduler]
    decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups
             for p in g['params']}
    for name, parameter in model.named_parameters():
        expected = 0.01 if name in ('0.weight', '2.weight') else 0.0
        assert decay[id(parameter)] == expected, name
    checks = {}
    for it in range(2001):
        lrs = {group['lr'] for group in wrapper.optimizer.param_groups}
        assert len(lrs) == 1  # the same lr for every group: no 10x head
        checks[it] = lrs.pop()
        wrapper.optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    assert checks[0] == pytest.approx(6e-5 * 1e-6)  # CMX: 0
    for it in (990, 991, 1500, 2000):
        assert checks[it] == pytest.approx(_cmx_lr(it), rel=1e-9), it
    for it in (1, 495, 989):
        assert 0.98 * _cmx_lr(it) < checks[it] <= _cmx_lr(it) + 6e-5 * 1.001e-6, it
    assert checks[495] == pytest.approx(_cmx_lr(495) * (1 - 495 / 49500) ** 0.9, rel=1e-6)


def test_pipeline_step_changes():
    pipeline = [dict(type='A', x=1), dict(type='B', y=2), dict(type='C')]
    changed = change_pipeline_steps(pipeline, {'A': dict(x=5), 'B': None,
                                               'C': dict(type='D', z=3), 'E': None})
    assert changed == [dict(type='A', x=5), dict(type='D', z=3)]
    assert pipeline[0] == dict(type='A', x=1)  # unchanged
    with pytest.raises(ConfigError, match=r"sched.py: train_pipeline_steps\['A'\] must be"):
        change_pipeline_steps(pipeline, {'A': 'drop'}, 'sched.py')
    # the synthetic configs (flips only) keep their pipeline; the optimiser is CMX's
    cfg = load_config(str(config_path('cmx_mini', 'synthetic')))
    before = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    apply_schedule(cfg, 'cmx')
    assert cfg.train_dataloader.dataset.pipeline == before and cfg.train_cfg.max_iters == 49500


# ----------------------------------------------------------------------------------------
# End to end
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('segmenters', ['cmx_mini', pytest.param(
    'cmx_mini,early_mini', marks=pytest.mark.slow)])  # (both: 30 s on 2 cores)
def test_benchmark_trains_feature_level_segmenters_on_rgbt(segmenters, tmp_path, capsys):
    """tools/benchmark_downstream.py --sources rgbt: rows with source rgbt, parameters and
    MACs counted on 4-channel input, the 4-value mean/std in the log."""
    data = make_synthetic(tmp_path / 'data', num_train=2, num_test=1, size=(32, 40))
    work = tmp_path / 'work'
    argv = ['--seg', segmenters, '--dataset', 'synthetic', '--data-root', str(data),
            '--sources', 'rgbt', '--schedule', 'quick', '--max-iters', '2', '--pretrained',
            'off', '--work-dir', str(work), '--workers', '0', '--batch-size', '2']
    assert benchmark_downstream.main(argv) == 0
    out = capsys.readouterr().out
    frame = read_results(str(work / 'results.csv'))
    assert frame['segmenter'].tolist() == segmenters.split(',')
    assert set(frame['source']) == {'rgbt'} and (frame['iters'] == 2).all()
    complexity = json.loads((work / 'complexity.json').read_text())
    for row in frame.to_dict('records'):
        cfg = Config.fromfile(str(config_path(row['segmenter'], 'synthetic')))
        with DefaultScope.overwrite_default_scope('mmseg'):
            model = MODELS.build(cfg.model)
        assert row['params'] == sum(p.numel() for p in model.parameters())  # counted on 4 ch
        entry = complexity[f'{row["segmenter"]}@32x40']
        assert row['macs'] == entry['macs'] > entry['backbone_macs'] > 0
        assert 0 <= row['mIoU'] <= 100
    for segmenter in segmenters.split(','):
        assert f'{display_name(segmenter)} on synthetic, IoU (%)' in out
    means = re.findall(r'; mean \[([^\]]*)\]', out)
    assert len(means) == len(frame) and all(len(m.split(',')) == 4 for m in means)  # R,G,B,T
