"""How sure a table's numbers are: intervals over test images, spread over seeds, paired tests.

Every run saves its test set's per-image histograms (``per_image.npz``: per image and class, the
intersection, union and label pixel counts; :func:`psfusion.metrics.segmentation.save_per_image`).
mIoU is a ratio of sums over images, so any subset or resample of the test images is scored
exactly by summing its rows and dividing, as the metric does.  A cell (segmenter, source) holds
one run per seed; its score is the **mean over seeds of each seed's mIoU** (what the tables print).

* **Interval of a cell**: 95 % percentile bootstrap over test images (``scipy.stats.bootstrap``,
  the same resample of images for every seed).  It says how much the score would move on another
  test set of the same kind, for these trained models; the spread over seeds (training noise)
  is the ``std`` beside it.
* **A comparison** ``A - B`` (e.g. fused minus the best single source): the difference of the
  two cells' scores, with a 95 % **paired** bootstrap interval over test images (both cells
  scored on the same resampled images), each seed's own difference (seed ``s`` of ``A`` against
  seed ``s`` of ``B``: same initial weights and data order), and the p-value of a paired
  **approximate randomization test** (``scipy.stats.permutation_test``, ``permutation_type=
  'samples'``): under the null hypothesis that the two sources are exchangeable, swapping the two
  predictions of any test image (for every seed at once) leaves the score difference's
  distribution unchanged.  Why this test: mIoU is not a mean of per-image scores, so a t-test or
  Wilcoxon test on per-image IoU would test another quantity; randomization keeps the metric as
  defined and the pairing of images and seeds, and assumes no distribution.  With two or three
  seeds a test over seeds alone (a t-test with one or two degrees of freedom) has almost no
  power, so seeds enter as repeated measurements of every image.
* **Verdict**: ``A > B`` only when the interval lies above 0, the test gives p < 0.05 **and**
  every seed's own difference is positive (so neither image sampling nor training noise explains
  it); ``A < B`` likewise; otherwise ``not resolved``.
* **By condition**: the same on the day and the night images where the dataset's file names say
  which (:meth:`psfusion.data.layouts.DatasetLayout.condition`).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ..data.layouts import layout_class
from ..metrics.segmentation import load_per_image
from .results import RunKey
from .run_paths import WorkDir

#: Resamples of the bootstrap and of the randomization test (a 95 % interval's ends move by
#: about 0.05 mIoU between seeds of the resampling at 2000 on a 32-image test set).
N_RESAMPLES = 2000
CONFIDENCE = 0.95
ALPHA = 0.05
#: The source name(s) of plain per-pixel averaging (the image-level baseline to beat).
AVERAGE_SOURCES = ('avg', 'average')


@dataclass
class CellImages:
    """The per-image histograms of one cell: arrays ``(seeds, images, classes)``, images in
    name order, and the seeds in the same order."""
    seeds: tuple
    names: tuple
    intersect: np.ndarray
    union: np.ndarray

    def subset(self, mask: np.ndarray) -> 'CellImages':
        return CellImages(self.seeds, tuple(np.asarray(self.names)[mask]),
                          self.intersect[:, mask], self.union[:, mask])

    def seeds_only(self, seeds: Sequence[int]) -> 'CellImages':
        index = [self.seeds.index(seed) for seed in seeds]
        return CellImages(tuple(seeds), self.names, self.intersect[index], self.union[index])


def seed_mious(intersect: np.ndarray, union: np.ndarray) -> np.ndarray:
    """mIoU (percent) of each seed from ``(seeds, ..., images, classes)`` histograms over the
    image axis (``-2``); classes with an empty union are skipped, as the metric does."""
    inter, uni = intersect.sum(-2), union.sum(-2)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(uni > 0, inter / np.where(uni > 0, uni, 1), np.nan) * 100
    return np.nanmean(iou, axis=-1)


def cell_score(intersect: np.ndarray, union: np.ndarray) -> np.ndarray:
    """The score a table prints: the mean over seeds (axis 0) of each seed's mIoU."""
    return seed_mious(intersect, union).mean(axis=0)


def load_cells(rows: pd.DataFrame, work_dir: str) -> tuple[dict, list[str]]:
    """``{((segmenter, tta), source): CellImages}`` for the rows' runs, and notes on runs
    without per-image results (run before they were saved; they are left out)."""
    runs: dict = {}
    notes = []
    work = WorkDir(work_dir)
    for row in rows.to_dict('records'):
        key = RunKey.from_row(row)
        path = work.run_folder(key, str(row['config_hash'])).per_image(key.tta)
        if not os.path.isfile(path):
            notes.append(f'{key}: no per-image results ({path}); left out of the intervals')
            continue
        data = load_per_image(path)
        order = np.argsort(data['names'])
        runs.setdefault(((key.segmenter, key.tta), key.source), []).append(
            (key.seed, data['names'][order], data['intersect'][order], data['union'][order]))
    cells = {}
    for cell, seeds in runs.items():
        seeds.sort(key=lambda item: item[0])
        names = seeds[0][1]
        kept = [item for item in seeds if np.array_equal(item[1], names)]
        if len(kept) < len(seeds):
            notes.append(f'{cell}: seeds tested on different image sets; only those on the '
                         f"first seed's set are used")
        cells[cell] = CellImages(tuple(item[0] for item in kept), tuple(names.tolist()),
                                 np.stack([item[2] for item in kept]),
                                 np.stack([item[3] for item in kept]))
    return cells, notes


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def cell_interval(cell: CellImages, n_resamples: int = N_RESAMPLES) -> tuple[float, float]:
    """95 % percentile bootstrap interval of a cell's score over its test images."""
    from scipy.stats import bootstrap

    if len(cell.names) < 2:
        return math.nan, math.nan

    def statistic(index, axis=-1):
        index = np.asarray(index, dtype=int)
        return cell_score(cell.intersect[:, index], cell.union[:, index])

    result = bootstrap((np.arange(len(cell.names)), ), statistic, n_resamples=n_resamples,
                       confidence_level=CONFIDENCE, method='percentile', vectorized=True,
                       batch=100, random_state=_rng())
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass
class Comparison:
    """``A - B`` on the images and seeds both cells have (see the module docstring)."""
    a: str
    b: str
    difference: float
    low: float
    high: float
    p_value: float
    per_seed: tuple
    n_images: int

    @property
    def verdict(self) -> str:
        if any(math.isnan(v) for v in (self.low, self.high, self.p_value)):
            return 'not resolved'
        if self.low > 0 and self.p_value < ALPHA and all(d > 0 for d in self.per_seed):
            return f'{self.a} > {self.b}'
        if self.high < 0 and self.p_value < ALPHA and all(d < 0 for d in self.per_seed):
            return f'{self.a} < {self.b}'
        return 'not resolved'


def _common(a: CellImages, b: CellImages) -> tuple[CellImages, CellImages]:
    """Both cells restricted to their shared seeds and images (same order)."""
    seeds = [seed for seed in a.seeds if seed in b.seeds]
    if not seeds:  # no seed in common: compare each cell's own seeds (no per-seed pairing)
        seeds_a, seeds_b = list(a.seeds), list(b.seeds)
    else:
        seeds_a = seeds_b = seeds
    names = sorted(set(a.names) & set(b.names))
    take_a = np.array([a.names.index(n) for n in names], dtype=int)
    take_b = np.array([b.names.index(n) for n in names], dtype=int)
    a, b = a.seeds_only(seeds_a), b.seeds_only(seeds_b)
    return (CellImages(a.seeds, tuple(names), a.intersect[:, take_a], a.union[:, take_a]),
            CellImages(b.seeds, tuple(names), b.intersect[:, take_b], b.union[:, take_b]))


def compare(a: CellImages, b: CellImages, name_a: str, name_b: str,
            n_resamples: int = N_RESAMPLES) -> Comparison:
    """``A - B``: difference, paired bootstrap interval, per-seed differences, randomization
    p-value (module docstring)."""
    from scipy.stats import bootstrap, permutation_test

    a, b = _common(a, b)
    n = len(a.names)
    difference = float(cell_score(a.intersect, a.union) - cell_score(b.intersect, b.union))
    if a.seeds == b.seeds:
        per_seed = tuple(float(v) for v in seed_mious(a.intersect, a.union) -
                         seed_mious(b.intersect, b.union))
    else:
        per_seed = ()
    if n < 2:
        return Comparison(name_a, name_b, difference, math.nan, math.nan, math.nan, per_seed, n)

    def boot(index, axis=-1):
        index = np.asarray(index, dtype=int)
        return (cell_score(a.intersect[:, index], a.union[:, index]) -
                cell_score(b.intersect[:, index], b.union[:, index]))

    interval = bootstrap((np.arange(n), ), boot, n_resamples=n_resamples,
                         confidence_level=CONFIDENCE, method='percentile', vectorized=True,
                         batch=100, random_state=_rng()).confidence_interval
    # Randomization: index i < n is image i of A, n + i image i of B; swapping a pair swaps
    # the two predictions of one image (for every seed at once).
    if a.seeds == b.seeds:
        inter = np.concatenate([a.intersect, b.intersect], axis=1)
        union = np.concatenate([a.union, b.union], axis=1)

        def randomized(x, y, axis=-1):
            x, y = np.asarray(x, dtype=int), np.asarray(y, dtype=int)
            return cell_score(inter[:, x], union[:, x]) - cell_score(inter[:, y], union[:, y])

        test = permutation_test((np.arange(n), np.arange(n) + n), randomized,
                                permutation_type='samples', vectorized=True,
                                n_resamples=n_resamples, batch=100, alternative='two-sided',
                                random_state=_rng())
        p_value = float(test.pvalue)
    else:
        p_value = math.nan
    return Comparison(name_a, name_b, difference, float(interval.low), float(interval.high),
                      p_value, per_seed, n)


def condition_masks(dataset: str, names: Sequence[str]) -> dict[str, np.ndarray]:
    """``{'all': ..., 'day': ..., 'night': ...}`` boolean masks over ``names`` (day/night only
    where the dataset's names say it and both occur)."""
    masks = {'all': np.ones(len(names), bool)}
    conditions = [layout_class(dataset).condition(name) for name in names]
    for condition in ('day', 'night'):
        mask = np.array([c == condition for c in conditions], bool)
        if mask.any() and not mask.all():
            masks[condition] = mask
    return masks


def _single_sources(sources: Sequence[str]) -> list[str]:
    return [s for s in ('ir', 'vi') if s in sources]


def best_single_sources(cells: Mapping) -> dict:
    """``{segmenter run: 'ir' or 'vi'}``: the higher-scoring single source of each segmenter."""
    best = {}
    for seg in dict.fromkeys(seg for seg, _ in cells):
        singles = _single_sources([src for s, src in cells if s == seg])
        if singles:
            best[seg] = max(singles, key=lambda src: float(cell_score(
                cells[(seg, src)].intersect, cells[(seg, src)].union)))
    return best


def comparisons(cells: Mapping, n_resamples: int = N_RESAMPLES,
                best: Optional[Mapping] = None) -> list[tuple]:
    """For each segmenter: each fused source minus the best single source (``best``, default
    :func:`best_single_sources` of these cells) and minus average fusion
    (:data:`AVERAGE_SOURCES`).  Returns ``[(segmenter run, Comparison)]``."""
    out = []
    best = dict(best) if best is not None else best_single_sources(cells)
    segmenters = list(dict.fromkeys(seg for seg, _ in cells))
    for seg in segmenters:
        sources = [src for s, src in cells if s == seg]
        fused = [src for src in sources if src not in ('ir', 'vi')]
        average = next((src for src in sources if src in AVERAGE_SOURCES), None)
        single = best.get(seg)
        for src in fused:
            if single and (seg, single) in cells:
                out.append((seg, compare(cells[(seg, src)], cells[(seg, single)], src, single,
                                         n_resamples)))
            if average and src != average:
                out.append((seg, compare(cells[(seg, src)], cells[(seg, average)], src,
                                         average, n_resamples)))
    return out


def restrict(cells: Mapping, dataset: str, condition: str) -> dict:
    """Every cell restricted to the images of one condition (cells without any: left out)."""
    out = {}
    for key, cell in cells.items():
        mask = condition_masks(dataset, cell.names).get(condition)
        if mask is not None:
            out[key] = cell.subset(mask)
    return out


def conditions_of(cells: Mapping, dataset: str) -> list[str]:
    """``['all']`` plus ``'day'`` and ``'night'`` where the cells' image names say them."""
    found = ['all']
    for cell in cells.values():
        for condition in condition_masks(dataset, cell.names):
            if condition not in found:
                found.append(condition)
    return found


# ----------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------
def _fmt(value: float, digits: int = 2, sign: bool = False) -> str:
    if value is None or math.isnan(value):
        return '-'
    return f'{value:+.{digits}f}' if sign else f'{value:.{digits}f}'


def cell_text(cell: CellImages, n_resamples: int = N_RESAMPLES) -> str:
    """``37.02 ± 0.84 [35.1, 38.9] (n=2)``: seed mean ± seed std, 95 % image interval."""
    scores = seed_mious(cell.intersect, cell.union)
    low, high = cell_interval(cell, n_resamples)
    std = f' ± {_fmt(float(scores.std(ddof=1)))}' if len(scores) > 1 else ''
    return (f'{_fmt(float(scores.mean()))}{std} [{_fmt(low)}, {_fmt(high)}] '
            f'(n={len(scores)})')


def comparison_text(item: Comparison) -> str:
    seeds = ', '.join(_fmt(d, sign=True) for d in item.per_seed) or 'unpaired'
    return (f'{_fmt(item.difference, sign=True)} [{_fmt(item.low, sign=True)}, '
            f'{_fmt(item.high, sign=True)}]; seeds {seeds}; p={_fmt(item.p_value, 3)}; '
            f'**{item.verdict}**')


def uncertainty_markdown(cells: Mapping, dataset: str, title_of_seg, title_of_source,
                         n_resamples: int = N_RESAMPLES, heading: str = '##') -> str:
    """Two sections: "By condition" (every cell's score with its interval, on all test images
    and on the day and night ones) and "Uncertainty" (the comparisons, likewise)."""
    if not cells:
        return ''
    conditions = conditions_of(cells, dataset)
    by_condition = {c: (cells if c == 'all' else restrict(cells, dataset, c))
                    for c in conditions}
    split = ('; `day` and `night`: only the test images whose file names end in D or N (night '
             'is where the infrared image should matter most)') if len(conditions) > 1 else ''
    lines = [f'{heading} By condition', '',
             f'mIoU (%): mean ± std over seeds, the 95 % bootstrap interval over test images '
             f'[low, high], and the number of seeds; `all`: every test image{split}.', '',
             '| Segmenter | Source | ' + ' | '.join(conditions) + ' |',
             '|---|---|' + '--:|' * len(conditions)]
    for key in cells:
        seg, src = key
        texts = [cell_text(by_condition[c][key], n_resamples) if key in by_condition[c]
                 else '-' for c in conditions]
        lines.append(f'| {title_of_seg(seg)} | {title_of_source(src)} | ' +
                     ' | '.join(texts) + ' |')
    best = best_single_sources(cells)  # chosen on all images, kept for day and night
    compared = {c: comparisons(by_condition[c], n_resamples, best) for c in conditions}
    if compared['all']:
        lines += ['', f'{heading} Uncertainty', '',
                  'Fused minus the best single source and minus average fusion, in mIoU '
                  'points: the difference of the seed-mean mIoU with its 95 % paired bootstrap '
                  "interval over test images, each seed's own difference, the p-value of a "
                  'paired approximate randomization test (each test image\'s two predictions '
                  'swapped at random), and the verdict: a win only when the interval excludes '
                  '0, p < 0.05 and every seed agrees (why these: '
                  '`psfusion/benchmark/uncertainty.py`).', '',
                  '| Segmenter | Comparison | ' + ' | '.join(conditions) + ' |',
                  '|---|---|' + '---|' * len(conditions)]
        for seg, item in compared['all']:
            texts = []
            for condition in conditions:
                match = [c for s, c in compared[condition]
                         if s == seg and (c.a, c.b) == (item.a, item.b)]
                texts.append(comparison_text(match[0]) if match else '-')
            lines.append(f'| {title_of_seg(seg)} | {title_of_source(item.a)} - '
                         f'{title_of_source(item.b)} | ' + ' | '.join(texts) + ' |')
    return '\n'.join(lines) + '\n'
