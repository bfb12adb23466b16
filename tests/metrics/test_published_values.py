"""Known-value tests: the published per-image metric tables in ``../shared/data``.

* VIFB (21 pairs x 3 methods, ``vifb`` profile): EN, AG, SF, SD, MI, Qabf, PSNR, SSIM printed
  with 5 significant digits, as VIFB's MATLAB stored them, equal the stored values exactly.
* SeAFusion on TNO (42 pairs): EN, AG, SCD, CC, SF, SD, MI, PSNR and MSE equal the stored
  values (printed with 16-17 significant digits) to float64 rounding under ``tang_matlab``;
  EN, AG, SCD and CC under ``default`` as well (they have no variant).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psfusion.metrics.folders import pair_folder, score_triples
from tests.conftest import shared_subdir

VIFB_COLUMNS = {'EN': 'Entropy', 'AG': 'Avg_gradient', 'SF': 'Spatial_frequency',
                'SD': 'Variance', 'MI': 'Mutinf', 'Qabf': 'Qabf', 'PSNR': 'Psnr',
                'SSIM': 'Ssim'}
VIFB_METHODS = ('ADF', 'GTF', 'SeAFusion')
TANG_EXACT = ('EN', 'AG', 'SCD', 'CC', 'SF', 'SD', 'MI', 'PSNR', 'MSE')


def matlab_short_g(value: float) -> float:
    """``value`` as VIFB's MATLAB stored it: 5 significant digits (``%.5g``)."""
    return float(f'{value:.5g}')


def test_short_g():
    assert matlab_short_g(1.62598) == 1.626
    assert matlab_short_g(60.06649) == 60.066
    assert matlab_short_g(0.0640449) == 0.064045


@pytest.fixture(scope='module')
def vifb_scores(shared_data):
    root = shared_subdir(shared_data, 'vifb')
    triples, expected = [], {}
    for method in VIFB_METHODS:
        expected[method] = pd.read_csv(root / 'expected' / f'{method}.csv', dtype=str)
        triples += pair_folder(str(root / 'ir'), str(root / 'vi'),
                               str(root / 'fused' / method), method)
    scores = score_triples(triples, list(VIFB_COLUMNS), 'vifb', workers=2)
    out = {method: {} for method in VIFB_METHODS}
    for triple, score in zip(triples, scores):
        out[triple.method][triple.stem + '.jpg'] = score
    return out, expected


@pytest.mark.parametrize('method', VIFB_METHODS)
@pytest.mark.parametrize('metric', list(VIFB_COLUMNS))
def test_vifb_reproduces_printed_digits(vifb_scores, method, metric):
    scores, expected = vifb_scores
    table = expected[method]
    assert sorted(scores[method]) == sorted(table['image'])
    assert len(table) == 21
    column = VIFB_COLUMNS[metric]
    errors = {}
    for image, printed in zip(table['image'], table[column]):
        ours = scores[method][image][metric]
        if matlab_short_g(ours) != float(printed):  # every printed digit must agree
            errors[image] = (ours, printed)
    assert not errors, f'{method} {metric}: {errors}'


@pytest.fixture(scope='module')
def tno_tables(shared_data):
    root = shared_subdir(shared_data, 'tno_tang')
    expected = pd.read_csv(root / 'expected' / 'SeAFusion.csv')
    triples = pair_folder(str(root / 'ir'), str(root / 'vi'), str(root / 'fused' / 'SeAFusion'),
                          'SeAFusion')
    assert [t.stem + '.png' for t in triples] == list(expected['image'])
    tang = pd.DataFrame(score_triples(triples, list(TANG_EXACT), 'tang_matlab', workers=2))
    default = pd.DataFrame(score_triples(triples, ['EN', 'AG', 'SCD', 'CC', 'SF', 'MSE'],
                                         'default', workers=2))
    return expected, tang, default


@pytest.mark.parametrize('metric', TANG_EXACT)
def test_tang_matlab_reproduces_seafusion_tno(tno_tables, metric):
    expected, tang, _ = tno_tables
    assert len(expected) == 42
    # MI adds and subtracts entropies of ~7-14 bits: 2e-12 relative is float64 summation noise
    rtol = 5e-12 if metric == 'MI' else 5e-14
    np.testing.assert_allclose(tang[metric], expected[metric], rtol=rtol, atol=0)


def test_default_profile_on_seafusion_tno(tno_tables):
    expected, tang, default = tno_tables
    for metric in ('EN', 'AG', 'SCD', 'CC'):
        np.testing.assert_allclose(default[metric], expected[metric], rtol=5e-14, atol=0)
    # the published SF is on the [0, 1] scale, the published MSE too
    np.testing.assert_allclose(default['SF'] / 255, expected['SF'], rtol=5e-14)
    np.testing.assert_allclose(default['MSE'] / 255 ** 2, expected['MSE'], rtol=5e-14)
