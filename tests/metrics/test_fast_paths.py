"""The speed paths of the metrics equal the plain computations; the tool starts without torch."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from psfusion.metrics.quality import _corr2_integer, corr2, scd
from psfusion.metrics.report import write_report

vif_module = importlib.import_module('psfusion.metrics.vif')
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('size', [1, 2, 3, 31, 33, 64, 1000, 12345])
def test_sum_log_equals_the_direct_sum(size):
    rng = np.random.default_rng(size)
    values = 1.0 + rng.random(size) * 8128.0  # the range of VIF's factors on 0..255 data
    expected = float(np.log(values).sum())
    assert vif_module._sum_log(values.copy()) == pytest.approx(expected, rel=1e-14, abs=1e-14)


def test_sum_log_takes_the_direct_sum_for_huge_factors():
    values = np.array([1.0, 2.0 ** 40, 3.0, 2.0 ** 700, 5.0])
    assert vif_module._sum_log(values.copy()) == float(np.log(values).sum())


def test_vif_log_sums_equal_the_log10_maps():
    """vif_pixel's natural-log sums give the ratio of :func:`_vif_maps`' log10 sums."""
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (96, 120)).astype(np.uint8)
    ref[:30, :40] = 77  # flat: the texture guards act
    dist = np.clip(ref * 0.6 + rng.normal(0, 12, ref.shape), 0, 255).astype(np.uint8)
    num = den = 0.0
    for ((vid, vind, _),) in vif_module._vif_maps([ref], dist, vif_module.VIF_SIGMA_NSQ):
        num += float(vid.sum())
        den += float(vind.sum())
    assert vif_module.vif_pixel(ref, dist) == pytest.approx(num / den, rel=1e-14)


def test_exact_integer_correlation_equals_corr2():
    rng = np.random.default_rng(5)
    a, b, f = (rng.integers(0, 256, (48, 64)).astype(np.uint8) for _ in range(3))
    x = f.astype(np.float64) - b
    assert _corr2_integer(x, a.astype(np.float64)) == pytest.approx(corr2(x, a), rel=1e-14)
    float_path = corr2(f.astype(float) - b, a) + corr2(f.astype(float) - a, b)
    assert scd(f, a, b) == pytest.approx(float_path, rel=1e-14)
    assert scd(f.astype(float), a, b) == float_path  # non-uint8 input: the float path
    flat = np.full((48, 64), 9, np.uint8)
    assert np.isnan(scd(flat, flat, flat))


def test_figures_drawn_in_processes_equal_serial(tmp_path):
    rows = [(f'{k}.png', {'EN': 6 + k / 10, 'VIF': 0.5 - k / 50}) for k in range(5)]
    labels = {'EN': 'EN', 'VIF': 'VIF'}
    serial = write_report({'A': rows}, labels, str(tmp_path / 'one'), 'default', workers=1)
    forked = write_report({'A': rows}, labels, str(tmp_path / 'two'), 'default', workers=2)
    assert list(serial) == list(forked) == ['A', 'summary.csv', 'summary.md', 'EN.png', 'VIF.png']
    for name in ('EN.png', 'VIF.png', 'summary.md'):
        assert Path(serial[name]).read_bytes() == Path(forked[name]).read_bytes()


def _fresh_python(code: str) -> str:
    done = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_eval_tool_imports_neither_torch_nor_mmengine():
    out = _fresh_python(
        'import importlib.util, sys\n'
        'spec = importlib.util.spec_from_file_location("eval_fusion", "tools/eval_fusion.py")\n'
        'spec.loader.exec_module(importlib.util.module_from_spec(spec))\n'
        'heavy = ("torch", "mmengine", "mmcv", "mmseg", "pandas", "matplotlib")\n'
        'print(",".join(m for m in heavy if m in sys.modules))')
    assert out == ''


def test_registry_imports_the_metric_itself():
    """``psfusion.metrics`` imports FusionQualityMetric lazily; the registry still finds it."""
    out = _fresh_python(
        'import sys\n'
        'from psfusion.registry import METRICS\n'
        'assert "psfusion.metrics.evaluator" not in sys.modules\n'
        'print(type(METRICS.build(dict(type="FusionQualityMetric", metrics="EN"))).__name__)')
    assert out == 'FusionQualityMetric'
