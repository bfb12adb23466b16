"""Dataset layouts, pairing, split files, and the errors for missing or mismatched files."""
import numpy as np
import pytest
from mmengine.registry import DATASETS as MMENGINE_DATASETS

from psfusion.data import DataError, FolderPairDataset, MFNetDataset, MSRSDataset

from .helpers import make_msrs, make_pair_folders, save


@pytest.mark.parametrize('label_dir', ['Segmentation_labels', 'Label'])
def test_msrs_layout_with_either_label_folder(tmp_path, label_dir):
    make_msrs(tmp_path, 'train', label_dir=label_dir)
    dataset = MSRSDataset(data_root=str(tmp_path), split='train')
    assert len(dataset) == 2 and dataset.has_labels
    sample = dataset[1]
    assert sample['name'] == '00002N'
    assert sample['ir'].shape == (8, 12, 1) and sample['vi'].shape == (8, 12, 3)
    assert sample['gt_seg_map'].shape == (8, 12) and sample['gt_seg_map'].max() <= 8
    assert sample['ori_shape'] == (8, 12)
    assert dataset.metainfo['classes'][1] == 'car'


def test_msrs_without_labels_and_split_file(tmp_path):
    make_msrs(tmp_path, 'test', stems=('a', 'b', 'c'), label_dir=None)
    (tmp_path / 'test.txt').write_text('c\nb.png\n\n')
    dataset = MSRSDataset(data_root=str(tmp_path), split='test')
    assert dataset.names == ['c', 'b']
    assert 'gt_seg_map' not in dataset[0] and not dataset.has_labels
    (tmp_path / 'val.txt').write_text('a\nzzz\n')
    with pytest.raises(DataError, match=r'val\.txt lists 1 stem\(s\) with no image.*zzz'):
        MSRSDataset(data_root=str(tmp_path), split='test', split_file='val.txt')


def test_msrs_label_required_but_absent(tmp_path):
    make_msrs(tmp_path, 'test', label_dir=None)
    with pytest.raises(DataError, match='no label folder'):
        MSRSDataset(data_root=str(tmp_path), split='test', with_label=True)


def test_missing_counterpart_names_the_files(tmp_path):
    make_pair_folders(tmp_path, stems=('a', 'b', 'c'))
    (tmp_path / 'vi' / 'b.png').unlink()
    (tmp_path / 'ir' / 'c.png').unlink()
    with pytest.raises(DataError) as info:
        FolderPairDataset(data_root=str(tmp_path))
    message = str(info.value)
    assert 'infrared image(s)' in message and ': b' in message
    assert 'visible image(s)' in message and ': c' in message


def test_missing_label_names_the_pair(tmp_path):
    make_pair_folders(tmp_path, stems=('a', 'b'))
    (tmp_path / 'label' / 'a.png').unlink()
    with pytest.raises(DataError, match=r'1 pair\(s\) have no label in .*label: a'):
        FolderPairDataset(data_root=str(tmp_path), label_dir='label')


def test_size_mismatch(tmp_path):
    make_pair_folders(tmp_path, stems=('a', ), label=False)
    save(tmp_path / 'vi' / 'a.png', np.zeros((9, 12, 3), np.uint8))
    dataset = FolderPairDataset(data_root=str(tmp_path))
    with pytest.raises(DataError, match=r'size mismatch: .*ir/a\.png is 12x8 but .*vi/a\.png is '
                       r'12x9'):
        dataset[0]


def test_label_size_mismatch(tmp_path):
    make_pair_folders(tmp_path, stems=('a', ))
    save(tmp_path / 'label' / 'a.png', np.zeros((4, 4), np.uint8))
    dataset = FolderPairDataset(data_root=str(tmp_path), label_dir='label')
    with pytest.raises(DataError, match=r'size mismatch: label .*a\.png is 4x4'):
        dataset[0]


def test_empty_folder_and_missing_root(tmp_path):
    (tmp_path / 'ir').mkdir()
    (tmp_path / 'vi').mkdir()
    with pytest.raises(DataError, match='no images'):
        FolderPairDataset(data_root=str(tmp_path))
    with pytest.raises(DataError, match='dataset root not found'):
        MSRSDataset(data_root=str(tmp_path / 'nowhere'))


def test_mfnet_layout(tmp_path):
    rng = np.random.default_rng(0)
    for stem in ('01', '02', '03'):
        save(tmp_path / 'images' / f'{stem}.png', rng.integers(0, 256, (6, 8, 4), dtype=np.uint8))
        save(tmp_path / 'labels' / f'{stem}.png', rng.integers(0, 9, (6, 8), dtype=np.uint8))
    (tmp_path / 'train.txt').write_text('01\n03\n')
    dataset = MFNetDataset(data_root=str(tmp_path), split='train')
    assert dataset.names == ['01', '03']
    sample = dataset[1]
    raw = np.asarray(__import__('PIL.Image', fromlist=['Image']).open(
        tmp_path / 'images' / '03.png'))
    np.testing.assert_array_equal(sample['ir'][..., 0], raw[..., 3])
    np.testing.assert_array_equal(sample['vi'], raw[..., :3])
    assert sample['gt_seg_map'].shape == (6, 8)
    with pytest.raises(DataError, match=r'test\.txt: split file not found'):
        MFNetDataset(data_root=str(tmp_path), split='test')
    (tmp_path / 'labels' / '01.png').unlink()
    with pytest.raises(DataError, match=r'1 image\(s\) have no label .*: 01'):
        MFNetDataset(data_root=str(tmp_path), split='train')


def test_build_from_config_with_pipeline(tmp_path):
    make_msrs(tmp_path, 'train', size=(20, 30))
    dataset = MMENGINE_DATASETS.build(dict(
        type='psfusion.MSRSDataset', data_root=str(tmp_path), split='train',
        pipeline=[dict(type='LoadFusionPair'), dict(type='DeriveFusionLabels'),
                  dict(type='PairedRandomCrop', crop_size=16), dict(type='PackFusionInputs')]))
    packed = dataset[0]
    assert packed['inputs']['ir'].shape == (1, 16, 16)
    assert packed['inputs']['vi'].shape == (3, 16, 16)
    assert packed['data_samples'].gt_sem_seg.data.shape == (1, 16, 16)
    assert packed['data_samples'].gt_boundary.data.shape == (1, 16, 16)
    assert packed['data_samples'].metainfo['name'] == '00001D'
