"""Paired transforms apply one geometry to every modality and label."""
import random

import numpy as np
import pytest
import torch

from psfusion.data import (DeriveFusionLabels, PadToMultiple, PairedRandomCrop, PairedRandomFlip,
                           PairedRandomRot90, crop_to_shape)


def make_sample(h=6, w=10):
    """ir and label encode the pixel index, vi the same index in all three channels, so any
    misregistration between them shows."""
    index = np.arange(h * w).reshape(h, w)
    return dict(ir=(index % 251).astype(np.uint8)[..., None],
                vi=np.repeat((index % 251).astype(np.uint8)[..., None], 3, 2),
                gt_seg_map=(index % 9).astype(np.uint8), ori_shape=(h, w), img_shape=(h, w))


def assert_registered(sample):
    ir = sample['ir'][..., 0].astype(int)
    np.testing.assert_array_equal(ir, sample['vi'][..., 0])
    np.testing.assert_array_equal(ir, sample['vi'][..., 2])
    valid = sample['gt_seg_map'] != 255
    np.testing.assert_array_equal((ir % 9)[valid], sample['gt_seg_map'][valid])


def test_random_crop_same_window_everywhere():
    random.seed(3)
    for _ in range(10):
        out = PairedRandomCrop((4, 5))(make_sample())
        assert out['ir'].shape == (4, 5, 1) and out['gt_seg_map'].shape == (4, 5)
        assert_registered(out)


def test_random_crop_pads_small_samples():
    out = PairedRandomCrop(8)(make_sample(6, 10))
    assert out['ir'].shape == (8, 8, 1)
    assert out['vi'].shape == (8, 8, 3)
    assert (out['gt_seg_map'][6:] == 255).all()  # label padding is ignore


def test_flip_and_rot90_keep_register():
    random.seed(0)
    seen = set()
    for _ in range(20):
        sample = PairedRandomFlip(prob=0.5)(make_sample())
        sample = PairedRandomRot90(prob=0.75)(sample)
        assert_registered(sample)
        seen.add(sample['ir'].shape)
    assert seen == {(6, 10, 1), (10, 6, 1)}  # both orientations occurred


def test_flip_horizontal_exact():
    sample = make_sample(2, 3)
    out = PairedRandomFlip(prob=1.0, directions=['horizontal'])(dict(sample))
    np.testing.assert_array_equal(out['ir'][..., 0], [[2, 1, 0], [5, 4, 3]])
    with pytest.raises(ValueError, match='unknown flip'):
        PairedRandomFlip(directions=['diagonal'])


def test_pad_to_multiple_and_crop_back():
    sample = make_sample(33, 70)
    original = {k: sample[k].copy() for k in ('ir', 'vi', 'gt_seg_map')}
    out = PadToMultiple(32)(sample)
    assert out['ir'].shape == (64, 96, 1) and out['pad_shape'] == (64, 96)
    assert out['img_shape'] == (33, 70)
    # reflect padding: row 33 mirrors row 31, column 70 mirrors column 68
    np.testing.assert_array_equal(out['ir'][33], out['ir'][31])
    np.testing.assert_array_equal(out['vi'][:, 70], out['vi'][:, 68])
    assert (out['gt_seg_map'][33:] == 255).all() and (out['gt_seg_map'][:, 70:] == 255).all()
    for key, value in original.items():
        np.testing.assert_array_equal(crop_to_shape(out[key], out['img_shape']), value)
    tensor = torch.from_numpy(out['vi'].transpose(2, 0, 1))[None]
    assert crop_to_shape(tensor, out['img_shape']).shape == (1, 3, 33, 70)


def test_pad_is_noop_on_multiples():
    out = PadToMultiple(32)(make_sample(64, 32))
    assert out['ir'].shape == (64, 32, 1)


def test_derive_labels_before_crop_travel_with_it():
    random.seed(1)
    sample = make_sample(8, 8)
    sample['gt_seg_map'] = np.zeros((8, 8), np.uint8)
    sample['gt_seg_map'][:, 4:] = 2
    out = DeriveFusionLabels(boundary_width=3, target_classes=[2])(sample)
    assert out['gt_target'].sum() == 32 and out['gt_binary'].sum() == 32
    assert out['gt_boundary'][:, 3:5].all() and out['gt_boundary'].sum() == 16
    out = PairedRandomFlip(prob=1.0, directions=['horizontal'])(out)
    np.testing.assert_array_equal(out['gt_target'][:, :4], 1)
