"""Intervals and paired tests from per-image histograms (psfusion.benchmark.uncertainty)."""
from __future__ import annotations

import numpy as np
import pytest

from psfusion.benchmark.uncertainty import (CellImages, cell_interval, cell_score, compare,
                                            comparisons, condition_masks, seed_mious)
from psfusion.metrics.segmentation import summarize_areas

CLASSES = ('a', 'b', 'c')


def _cell(rng, seeds, n, quality, names=None):
    """Histograms of ``n`` images: union 100 per class, intersection ~ quality * 100."""
    union = np.full((len(seeds), n, len(CLASSES)), 100.0)
    inter = np.clip(rng.normal(quality * 100, 5, size=union.shape), 0, 100).round()
    names = names or tuple(f'{i:05d}{"DN"[i % 2]}' for i in range(n))
    return CellImages(tuple(seeds), names, inter, union)


def test_seed_miou_equals_the_metric_on_summed_histograms():
    rng = np.random.default_rng(0)
    cell = _cell(rng, (0, 1), 6, 0.5)
    cell.union[0, :, 2] = 0  # class c absent from seed 0's images: skipped, as the metric does
    cell.intersect[0, :, 2] = 0
    for index in range(2):
        expected = summarize_areas(cell.intersect[index].sum(0), cell.union[index].sum(0),
                                   cell.union[index].sum(0), CLASSES)['mIoU']
        assert seed_mious(cell.intersect, cell.union)[index] == pytest.approx(expected)
    assert cell_score(cell.intersect, cell.union) == pytest.approx(
        seed_mious(cell.intersect, cell.union).mean())


def test_interval_brackets_the_score_and_narrows_with_more_images():
    rng = np.random.default_rng(1)
    small, large = _cell(rng, (0, 1), 10, 0.5), _cell(rng, (0, 1), 200, 0.5)
    for cell in (small, large):
        low, high = cell_interval(cell, n_resamples=500)
        assert low < cell_score(cell.intersect, cell.union) < high
    width = [np.subtract(*cell_interval(c, n_resamples=500)[::-1]) for c in (small, large)]
    assert width[1] < width[0] / 2  # ~ 1 / sqrt(images)


def test_a_clear_win_is_resolved_and_identical_sources_are_not():
    rng = np.random.default_rng(2)
    better, worse = _cell(rng, (0, 1), 40, 0.6), _cell(rng, (0, 1), 40, 0.4)
    win = compare(better, worse, 'fused', 'vi', n_resamples=500)
    assert win.difference == pytest.approx(20, abs=2)
    assert 0 < win.low < win.difference < win.high
    assert win.p_value < 0.01 and len(win.per_seed) == 2 and min(win.per_seed) > 0
    assert win.verdict == 'fused > vi'
    assert compare(worse, better, 'vi', 'fused', n_resamples=500).verdict == 'vi < fused'
    same = compare(better, better, 'fused', 'copy', n_resamples=500)
    assert same.difference == 0 and same.low <= 0 <= same.high and same.p_value > 0.5
    assert same.verdict == 'not resolved'


def test_noise_between_seeds_blocks_a_verdict():
    """A mean gain carried by one seed while the other loses is not a win."""
    rng = np.random.default_rng(3)
    a, b = _cell(rng, (0, 1), 40, 0.5), _cell(rng, (0, 1), 40, 0.5)
    a.intersect[0] = np.clip(a.intersect[0] + 20, 0, 100)  # seed 0 much better
    a.intersect[1] = np.clip(a.intersect[1] - 3, 0, 100)  # seed 1 a little worse
    item = compare(a, b, 'fused', 'vi', n_resamples=500)
    assert item.difference > 0 and item.per_seed[1] < 0
    assert item.verdict == 'not resolved'


def test_comparisons_against_the_best_single_source_and_the_average():
    rng = np.random.default_rng(4)
    seg = ('segformer_mini', False)
    cells = {(seg, 'ir'): _cell(rng, (0, 1), 20, 0.3), (seg, 'vi'): _cell(rng, (0, 1), 20, 0.4),
             (seg, 'avg'): _cell(rng, (0, 1), 20, 0.45),
             (seg, 'psfusion'): _cell(rng, (0, 1), 20, 0.5)}
    found = [(c.a, c.b) for _, c in comparisons(cells, n_resamples=200)]
    assert found == [('avg', 'vi'), ('psfusion', 'vi'), ('psfusion', 'avg')]


def test_day_and_night_masks_follow_the_names():
    names = ('00000D', '00001N', '00002D')
    masks = condition_masks('msrs', names)
    assert masks['day'].tolist() == [True, False, True]
    assert masks['night'].tolist() == [False, True, False]
    assert list(condition_masks('fmb', names)) == ['all']
