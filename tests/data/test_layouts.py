"""Dataset layouts: files, splits, classes and fused-output places of MSRS, MFNet, FMB."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psfusion.data import DataError, FMBDataset, MFNetDataset, build_layout, dataset_metainfo
from psfusion.data.layouts import FMB_CLASSES, LAYOUTS, MSRS_CLASSES
from psfusion.data.synthetic import write_synthetic_dataset


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture(scope='module')
def fmb_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('fmb')
    write_synthetic_dataset(str(root), num_train=3, num_test=2, num_val=0, height=32, width=40,
                            layout='fmb')
    return root


def test_registered_layouts_and_their_classes():
    assert set(LAYOUTS) == {'msrs', 'synthetic', 'mfnet', 'fmb', 'folders'}
    assert dataset_metainfo('mfnet')['classes'] == MSRS_CLASSES
    fmb = dataset_metainfo('fmb')
    assert len(fmb['classes']) == len(fmb['palette']) == len(fmb['class_titles']) == 15
    assert fmb['classes'][13] == 'bicycle' and fmb['palette'][13] == (158, 215, 222)
    assert [fmb['classes'][i] for i in fmb['target_classes']] == [
        'person', 'car', 'truck', 'bus', 'motorcycle', 'bicycle']
    assert dataset_metainfo('msrs')['target_classes'] == (1, 2, 3)


def test_fmb_layout_lists_pairs_and_says_where_fused_copies_go(fmb_root):
    layout = build_layout('fmb', str(fmb_root))
    train = layout.samples('train', with_label=True)
    assert [s['name'] for s in train] == ['00000D', '00001N', '00002D']
    first = train[0]
    assert first['ir_path'] == str(fmb_root / 'train' / 'Infrared' / '00000D.png')
    assert first['vi_path'] == str(fmb_root / 'train' / 'Visible' / '00000D.png')
    assert first['seg_map_path'] == str(fmb_root / 'train' / 'Label' / '00000D.png')
    assert first['ir_channels'] is None and first['vi_channels'] is None
    assert layout.output_dir('test') == 'test/fused'
    assert layout.output_dir('test', 'seg_pred') == 'test/seg_pred'
    assert layout.carried_files('test', ['00001N']) == {
        'test/Label/00001N.png': str(fmb_root / 'test' / 'Label' / '00001N.png')}
    with pytest.raises(DataError, match=r'val: split folder not found; the FMB layout is '
                       r'ROOT/val/Infrared'):
        layout.samples('val')


def test_fmb_dataset_reads_fifteen_class_labels(fmb_root):
    dataset = FMBDataset(data_root=str(fmb_root), split='train')
    assert dataset.metainfo['classes'] == FMB_CLASSES
    sample = dataset[0]
    labels = np.unique(sample['gt_seg_map'])
    assert set(labels) <= {0, 8, 9, 13}  # unlabelled, person, car, bicycle
    assert sample['ir'].shape == (32, 40, 1) and sample['vi'].shape == (32, 40, 3)


def test_synthetic_fmb_maps_classes_by_name(tmp_path):
    """The same scene written in both layouts: car/person/bike move to FMB's ids, the classes
    FMB lacks become unlabelled."""
    write_synthetic_dataset(str(tmp_path / 'm'), 2, 1, 0, seed=3, height=48, width=64)
    write_synthetic_dataset(str(tmp_path / 'f'), 2, 1, 0, seed=3, height=48, width=64,
                            layout='fmb')
    msrs = np.asarray(Image.open(tmp_path / 'm' / 'train' / 'Segmentation_labels' /
                                 '00000D.png'))
    fmb = np.asarray(Image.open(tmp_path / 'f' / 'train' / 'Label' / '00000D.png'))
    expected = np.zeros_like(msrs)
    for msrs_id, fmb_id in ((1, 9), (2, 8), (3, 13)):
        expected[msrs == msrs_id] = fmb_id
    expected[msrs == 255] = 255
    np.testing.assert_array_equal(fmb, expected)
    assert (msrs == 4).any()  # curbs exist in the scene but are unlabelled in FMB's classes
    assert not (tmp_path / 'f' / 'train.txt').exists()


def test_mfnet_modalities_are_channel_selections(tmp_path):
    rgbt = np.zeros((4, 6, 4), np.uint8)
    rgbt[..., :3], rgbt[..., 3] = 40, 200
    _png(tmp_path / 'images' / 'a.png', rgbt)
    _png(tmp_path / 'labels' / 'a.png', np.ones((4, 6), np.uint8))
    (tmp_path / 'train.txt').write_text('a\n')
    record = build_layout('mfnet', str(tmp_path)).samples('train')[0]
    assert record['ir_path'] == record['vi_path'] == str(tmp_path / 'images' / 'a.png')
    assert (record['ir_channels'], record['vi_channels']) == ([3], [0, 1, 2])
    sample = MFNetDataset(data_root=str(tmp_path), split='train')[0]
    assert (sample['ir'] == 200).all() and (sample['vi'] == 40).all()
    layout = build_layout('mfnet', str(tmp_path))
    assert layout.output_dir('test') == 'fused'
    assert layout.carried_files('train', ['a']) == {
        'labels/a.png': str(tmp_path / 'labels' / 'a.png'),
        'train.txt': str(tmp_path / 'train.txt')}


def test_msrs_val_split_inside_train_and_missing_root(tmp_path):
    write_synthetic_dataset(str(tmp_path), num_train=2, num_test=1, num_val=1, height=32,
                            width=40)
    layout = build_layout('msrs', str(tmp_path))
    assert [s['name'] for s in layout.samples('val')] == ['00002D']
    assert layout.output_dir('val') == 'train/fused'
    with pytest.raises(DataError, match=r'nowhere: dataset root not found.*MSRS: https://'):
        build_layout('msrs', str(tmp_path / 'nowhere'))
    with pytest.raises(DataError, match="unknown dataset layout 'kitti'; valid: msrs"):
        build_layout('kitti', str(tmp_path))


def test_no_code_outside_data_branches_on_a_layout_name():
    """Datasets own their layout: the rest of the package asks it (issue 9 acceptance)."""
    package = Path(__file__).resolve().parents[2] / 'psfusion'
    pattern = re.compile(r"mfnet_ir|mfnet_vi|== 'mfnet'|== 'msrs'|== 'fmb'|mfnet_path")
    offenders = [f'{path.relative_to(package)}:{number}'
                 for path in package.rglob('*.py') if 'data' not in path.parts
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []


def test_day_and_night_come_from_the_names_where_the_dataset_says_so():
    from psfusion.data.layouts import layout_class

    assert layout_class('msrs').condition('00012N') == 'night'
    assert layout_class('msrs').condition('00013D') == 'day'
    assert layout_class('mfnet').condition('01452N') == 'night'
    assert layout_class('synthetic').condition('00001N') == 'night'
    assert layout_class('msrs').condition('frame7') is None
    assert layout_class('fmb').condition('00012N') is None  # FMB's names do not say it
