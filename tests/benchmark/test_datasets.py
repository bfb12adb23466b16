"""Segmentation datasets with a selectable source, their loading steps and source statistics."""
from __future__ import annotations

import json

import numpy as np
import pytest
from mmseg.registry import DATASETS

from psfusion.benchmark.datasets import (FMBSegDataset, MFNetSegDataset, MSRSSegDataset,
                                         dataset_classes, held_out_stems, split_samples)
from psfusion.benchmark.stats import compute_mean_std, fingerprint, source_statistics
from psfusion.benchmark.transforms import LoadClassIdLabel, LoadSourceImage
from psfusion.data.io import DataError, read_infrared, read_label, read_visible
from psfusion.data.layouts import FMB_CLASSES
from psfusion.data.synthetic import write_synthetic_dataset
from psfusion.engine import write_validation_split
from psfusion.errors import ConfigError

from ._data import make_mfnet_from_msrs, make_random_msrs, save

STEMS = {'train': ['00001D', '00002N'], 'test': ['00003D']}


@pytest.fixture()
def msrs(tmp_path):
    return make_random_msrs(tmp_path / 'msrs', STEMS)


def _load(item: dict) -> dict:
    return LoadClassIdLabel()(LoadSourceImage()(dict(item)))


@pytest.mark.parametrize('source', ['ir', 'vi'])
def test_single_sources_read_bgr_three_channels(msrs, source):
    dataset = MSRSSegDataset(data_root=str(msrs), split='train', source=source, pipeline=[])
    assert len(dataset) == 2 and dataset.metainfo['classes'][1] == 'car'
    item = dataset.get_data_info(1)
    assert item['name'] == '00002N' and item['reduce_zero_label'] is False
    out = _load(item)
    path = msrs / 'train' / source / '00002N.png'
    if source == 'ir':
        expected = np.repeat(read_infrared(str(path)), 3, axis=2)
    else:
        expected = read_visible(str(path))[..., ::-1]  # BGR, as mmseg's loader gives
    np.testing.assert_array_equal(out['img'], expected)
    np.testing.assert_array_equal(
        out['gt_seg_map'],
        read_label(str(msrs / 'train' / 'Segmentation_labels' / '00002N.png')))
    assert out['seg_fields'] == ['gt_seg_map'] and out['ori_shape'] == (8, 12)


def test_fused_source_reads_fused_images_and_original_labels(msrs, tmp_path):
    fused = tmp_path / 'SeAFusion'  # a flat results folder, grey images
    grey = np.arange(96, dtype=np.uint8).reshape(8, 12)
    for stem in STEMS['test']:
        save(fused / f'{stem}.png', grey)
        # a label-like decoy in the fused folder must not be used
        save(fused / 'Segmentation_labels' / f'{stem}.png', np.full((8, 12), 3, np.uint8))
    dataset = MSRSSegDataset(data_root=str(msrs), split='test', source='fused',
                             fused_root=str(fused), pipeline=[])
    item = dataset.get_data_info(0)
    assert item['img_path'] == str(fused / '00003D.png') and item['img_modality'] == 'fused'
    assert item['img_channels'] is None
    assert item['seg_map_path'].startswith(str(msrs))
    out = _load(item)
    np.testing.assert_array_equal(out['img'], np.repeat(grey[..., None], 3, axis=2))


def test_missing_fused_image_is_reported(msrs, tmp_path):
    (tmp_path / 'empty').mkdir()
    save(tmp_path / 'partial' / '00001D.png', np.zeros((8, 12), np.uint8))
    with pytest.raises(DataError, match=r'00002N .*partial'):
        MSRSSegDataset(data_root=str(msrs), split='train', source='fused',
                       fused_root=str(tmp_path / 'partial'), pipeline=[])


def test_argument_errors(msrs, tmp_path):
    with pytest.raises(ValueError, match="unknown source 'rgb'"):
        MSRSSegDataset(data_root=str(msrs), source='rgb', pipeline=[])
    with pytest.raises(ValueError, match='fused_root'):
        MSRSSegDataset(data_root=str(msrs), source='fused', pipeline=[])
    with pytest.raises(DataError, match='dataset root not found'):
        MSRSSegDataset(data_root=str(tmp_path / 'nope'), pipeline=[])
    with pytest.raises(ValueError, match='reduce_zero_label'):
        MSRSSegDataset(data_root=str(msrs), reduce_zero_label=True, pipeline=[])


def test_label_size_mismatch_names_both_files(msrs):
    save(msrs / 'train' / 'Segmentation_labels' / '00001D.png', np.zeros((4, 4), np.uint8))
    dataset = MSRSSegDataset(data_root=str(msrs), split='train', source='vi', pipeline=[])
    with pytest.raises(DataError, match='size mismatch.*00001D.*00001D'):
        _load(dataset.get_data_info(0))


def test_mfnet_sources_split_the_four_channels(msrs, tmp_path):
    mfnet = make_mfnet_from_msrs(msrs, tmp_path / 'mfnet')
    ir = MFNetSegDataset(data_root=str(mfnet), split='test', source='ir', pipeline=[])
    vi = MFNetSegDataset(data_root=str(mfnet), split='test', source='vi', pipeline=[])
    ir_img = _load(ir.get_data_info(0))['img']
    vi_img = _load(vi.get_data_info(0))['img']
    np.testing.assert_array_equal(ir_img[..., 0], read_infrared(
        str(msrs / 'test' / 'ir' / '00003D.png'))[..., 0])
    np.testing.assert_array_equal(vi_img[..., ::-1], read_visible(
        str(msrs / 'test' / 'vi' / '00003D.png')))
    item = ir.get_data_info(0)
    assert (item['img_modality'], item['img_channels']) == ('ir', [3])
    assert vi.get_data_info(0)['img_channels'] == [0, 1, 2]
    samples = split_samples('mfnet', str(mfnet), 'test')
    assert [s['name'] for s in samples] == ['00003D']
    assert (samples[0]['ir_channels'], samples[0]['vi_channels']) == ([3], [0, 1, 2])
    assert samples[0]['ir_path'] == samples[0]['vi_path'] == str(mfnet / 'images' / '00003D.png')


def test_fmb_dataset_has_fmb_classes(tmp_path):
    root = tmp_path / 'fmb'
    write_synthetic_dataset(str(root), num_train=2, num_test=1, num_val=0, height=32, width=40,
                            layout='fmb')
    dataset = FMBSegDataset(data_root=str(root), split='train', source='ir', pipeline=[])
    assert dataset.metainfo['classes'] == FMB_CLASSES == dataset_classes('fmb')
    assert len(FMB_CLASSES) == 15 and FMB_CLASSES[0] == 'unlabelled'
    item = dataset.get_data_info(0)
    assert item['img_path'].startswith(str(root / 'train' / 'Infrared'))
    assert item['num_classes'] == 15 and item['img_modality'] == 'ir'
    out = _load(item)
    assert out['img'].shape == (32, 40, 3) and out['gt_seg_map'].max() < 15


def test_registered_for_mmseg_scope(msrs):
    dataset = DATASETS.build(dict(type='psfusion.SyntheticSegDataset', data_root=str(msrs),
                                  split='test', source='ir', pipeline=[]))
    assert len(dataset) == 1


def test_statistics_known_values_train_only_and_cached(tmp_path):
    save(tmp_path / 'a.png', np.full((2, 2, 3), (10, 20, 30), np.uint8))
    save(tmp_path / 'b.png', np.full((2, 2, 3), (30, 20, 10), np.uint8))
    items = [dict(img_path=str(tmp_path / n), img_modality='vi', img_channels=None)
             for n in ('a.png', 'b.png')]
    mean, std = compute_mean_std(items)
    assert mean == [20.0, 20.0, 20.0]
    assert std[0] == pytest.approx(10.0) and std[2] == pytest.approx(10.0)
    assert std[1] == pytest.approx(1e-3)  # a constant channel does not divide by zero
    cache = tmp_path / 'cache'
    first = source_statistics(items, str(cache))
    assert first['mean'] == mean and first['images'] == 2
    cached = next(cache.glob('stats-*.json'))
    data = json.loads(cached.read_text())
    data['mean'] = [1, 2, 3]  # a cache hit returns the stored values
    cached.write_text(json.dumps(data))
    assert source_statistics(items, str(cache))['mean'] == [1, 2, 3]
    save(tmp_path / 'b.png', np.full((2, 2, 3), (50, 20, 10), np.uint8))  # content changed
    assert source_statistics(items, str(cache))['mean'][0] == pytest.approx(30.0)


def test_statistics_fingerprint_includes_modality_and_channels(tmp_path):
    """One file read as other channels, or as another modality, is another source."""
    planes = [np.full((2, 2), value, np.uint8) for value in (10, 20, 30, 200)]
    save(tmp_path / 'rgbt.png', np.dstack(planes))
    path = str(tmp_path / 'rgbt.png')
    vi = [dict(img_path=path, img_modality='vi', img_channels=[0, 1, 2])]
    ir = [dict(img_path=path, img_modality='ir', img_channels=[3])]
    prints = {fingerprint(vi), fingerprint(ir),
              fingerprint([dict(vi[0], img_channels=None)]),
              fingerprint([dict(ir[0], img_channels=[0])])}
    assert len(prints) == 4
    cache = str(tmp_path / 'cache')
    assert source_statistics(vi, cache)['mean'] == [10.0, 20.0, 30.0]
    assert source_statistics(ir, cache)['mean'] == [200.0, 200.0, 200.0]


@pytest.mark.parametrize('layout', ['msrs', 'fmb'])
def test_holdout_parts_are_the_fusion_networks_hold_out(tmp_path, layout):
    """``holdout`` needs no file: the parts are computed from the stems, and they are exactly
    the files the fusion network's hold-out writes for the same fraction and seed."""
    root = tmp_path / 'data'
    write_synthetic_dataset(str(root), num_train=20, num_test=1, num_val=0, height=32, width=32,
                            layout=layout)
    dataset_type = {'msrs': MSRSSegDataset, 'fmb': FMBSegDataset}[layout]

    def names(**holdout):
        dataset = dataset_type(data_root=str(root), split='train', source='ir', pipeline=[],
                               serialize_data=False, holdout=holdout or None)
        return [item['name'] for item in dataset.data_list]

    whole = names()
    train, val = names(fraction=0.2, seed=3, part='train'), names(fraction=0.2, seed=3, part='val')
    assert len(val) == 4 and len(train) == 16 and sorted(train + val) == sorted(whole)
    assert set(train).isdisjoint(val)
    fit_file, val_file = write_validation_split(str(root), str(tmp_path / 'splits'),
                                                fraction=0.2, seed=3, layout=layout)
    assert val == open(val_file).read().split() and train == open(fit_file).read().split()
    assert names(fraction=0.2, seed=3, part='val') == val  # deterministic
    assert names(fraction=0.2, seed=4, part='val') != val  # seeded
    assert names(fraction=0.2, part='val') == names(fraction=0.2, seed=0, part='val')


def test_held_out_stems_depend_on_the_set_only():
    stems = [f'{i:05d}D' for i in range(30)]
    fit, val = held_out_stems(stems, 0.1, seed=0)
    assert held_out_stems(stems[::-1], 0.1, seed=0) == (fit, val)
    assert len(val) == 3 and sorted(fit + val) == stems and val == sorted(val)
    assert held_out_stems(stems[:3], 0.01)[1] != []  # at least one pair


def test_holdout_errors(msrs):
    def build(**holdout):
        return MSRSSegDataset(data_root=str(msrs), split='train', pipeline=[], holdout=holdout)

    with pytest.raises(ConfigError, match="part must be 'train' or 'val'"):
        build(fraction=0.5, part='test')
    with pytest.raises(ConfigError, match='holdout takes fraction, seed and part'):
        build(fraction=0.5, part='val', seeds=1)
    with pytest.raises(ConfigError, match='holdout takes fraction, seed and part'):
        build(part='val')
    with pytest.raises(ConfigError, match=r'fraction must be in \(0, 1\)'):
        build(fraction=1.0, part='val')
    single = make_random_msrs(msrs.parent / 'one', {'train': ['00001D'], 'test': ['00002D']})
    with pytest.raises(DataError, match='too few to hold out'):
        MSRSSegDataset(data_root=str(single), split='train', pipeline=[],
                       holdout=dict(fraction=0.1, part='val'))
