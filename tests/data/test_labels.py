"""Derived labels on small hand-computed arrays."""
import numpy as np
import pytest

from psfusion.data import binary_label, boundary_label, colorize, target_mask


def test_binary_label_keeps_ignore():
    seg = np.array([[0, 1, 4], [255, 0, 8]], np.uint8)
    np.testing.assert_array_equal(binary_label(seg), [[0, 1, 1], [255, 0, 1]])


def test_boundary_label_vertical_edge_width_3_and_5():
    seg = np.zeros((4, 6), np.uint8)
    seg[:, 3:] = 2  # an edge between columns 2 and 3
    expected3 = np.zeros((4, 6), np.uint8)
    expected3[:, 2:4] = 1  # one pixel on each side
    np.testing.assert_array_equal(boundary_label(seg, 3), expected3)
    expected5 = np.zeros((4, 6), np.uint8)
    expected5[:, 1:5] = 1  # two pixels on each side
    np.testing.assert_array_equal(boundary_label(seg, 5), expected5)


def test_boundary_label_single_pixel_object_and_ignore():
    seg = np.zeros((5, 5), np.uint8)
    seg[2, 2] = 1
    expected = np.zeros((5, 5), np.uint8)
    expected[1:4, 1:4] = 1
    np.testing.assert_array_equal(boundary_label(seg, 3), expected)
    # ignore pixels are not a class: next to them nothing is a boundary, they stay 255
    seg = np.zeros((3, 4), np.uint8)
    seg[:, 2:] = 255
    np.testing.assert_array_equal(boundary_label(seg, 3),
                                  [[0, 0, 255, 255]] * 3)


def test_boundary_label_rejects_even_width():
    with pytest.raises(ValueError, match='odd'):
        boundary_label(np.zeros((3, 3), np.uint8), 4)


def test_target_mask_default_and_custom_classes():
    seg = np.array([[0, 1, 2, 3, 4, 5, 255]], np.uint8)
    np.testing.assert_array_equal(target_mask(seg), [[0, 1, 1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(target_mask(seg, classes=[4, 5]), [[0, 0, 0, 0, 1, 1, 0]])


def test_colorize_uses_palette():
    out = colorize(np.array([[0, 1, 255]], np.uint8), ((0, 0, 0), (64, 0, 128)))
    np.testing.assert_array_equal(out, [[[0, 0, 0], [64, 0, 128], [255, 255, 255]]])
