"""Every real image in ../shared/data loads through the project's readers and datasets."""
import numpy as np
import pytest

from psfusion.data import FolderPairDataset, MFNetDataset, MSRSDataset

from ..conftest import shared_subdir


def load_all(dataset):
    shapes = set()
    for index in range(len(dataset)):
        sample = dataset[index]
        assert sample['ir'].dtype == np.uint8 and sample['ir'].shape[2] == 1
        assert sample['vi'].shape == sample['ir'].shape[:2] + (3, )
        shapes.add(sample['ir'].shape[:2])
    return shapes


def test_msrs_sample(shared_data):
    root = shared_subdir(shared_data, 'msrs_sample')
    dataset = MSRSDataset(data_root=str(root), split='test')
    assert len(dataset) == 60 and not dataset.has_labels
    names = dataset.names
    assert sum(n.endswith('D') for n in names) == 30 and sum(n.endswith('N') for n in names) == 30
    assert load_all(dataset) == {(480, 640)}


def test_mfnet_sample(shared_data):
    root = shared_subdir(shared_data, 'mfnet_sample')
    dataset = MFNetDataset(data_root=str(root), split=None)
    assert dataset.names == ['01234N', '01477D']
    assert load_all(dataset) == {(480, 640)}
    from PIL import Image
    raw = np.asarray(Image.open(root / 'images' / '01234N.png'))
    sample = dataset[0]
    np.testing.assert_array_equal(sample['ir'][..., 0], raw[..., 3])
    np.testing.assert_array_equal(sample['vi'], raw[..., :3])


def test_roadscene_odd_sizes(shared_data):
    root = shared_subdir(shared_data, 'roadscene_sample')
    dataset = FolderPairDataset(data_root=str(root))
    assert len(dataset) == 50
    shapes = load_all(dataset)
    assert len(shapes) > 5  # many different sizes
    assert any(h % 32 or w % 32 for h, w in shapes)


@pytest.mark.parametrize('name, count', [('tno_tang', 42), ('vifb', 21)])
def test_tno_and_vifb(shared_data, name, count):
    root = shared_subdir(shared_data, name)
    dataset = FolderPairDataset(data_root=str(root))
    assert len(dataset) == count
    load_all(dataset)


def test_tno_fused_results_pair_with_sources(shared_data):
    root = shared_subdir(shared_data, 'tno_tang')
    for method in sorted(p.name for p in (root / 'fused').iterdir()):
        dataset = FolderPairDataset(data_root=str(root), vi_dir=f'fused/{method}')
        assert len(dataset) == 42
