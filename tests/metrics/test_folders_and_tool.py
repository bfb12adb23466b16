"""Pairing folders by stem, parallel scoring, and ``tools/eval_fusion.py``."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psfusion.data.io import DataError
from psfusion.metrics.folders import load_triple, pair_folder, score_folders, score_triples
from tests.data.helpers import save

REPO = Path(__file__).resolve().parents[2]
SIZE = (48, 64)


def _texture(rng, channels=None):
    shape = SIZE if channels is None else SIZE + (channels,)
    base = rng.integers(0, 256, shape).astype(float)
    return np.clip(base * 0.5 + 64, 0, 255).astype(np.uint8)


@pytest.fixture()
def dataset(tmp_path):
    """ir/ (grey), vi/ (RGB), fused_a/ (grey PNG), fused_b/ (RGB JPEG) for stems s0..s2."""
    rng = np.random.default_rng(0)
    for k in range(3):
        ir, vi = _texture(rng), _texture(rng, 3)
        save(tmp_path / 'ir' / f's{k}.png', ir)
        save(tmp_path / 'vi' / f's{k}.png', vi)
        save(tmp_path / 'fused_a' / f's{k}.png', ((ir.astype(int) + vi[..., 1]) // 2)
             .astype(np.uint8))
        save(tmp_path / 'fused_b' / f's{k}.jpg', vi)
    return tmp_path


def test_pairing(dataset):
    triples = pair_folder(str(dataset / 'ir'), str(dataset / 'vi'), str(dataset / 'fused_b'),
                          'B')
    assert [t.stem for t in triples] == ['s0', 's1', 's2']
    assert triples[0].fused.endswith('s0.jpg') and triples[0].method == 'B'


def test_missing_fused_is_an_error_unless_allowed(dataset):
    (dataset / 'fused_a' / 's1.png').unlink()
    with pytest.raises(DataError, match=r"1 source pair\(s\) have no fused image of 'A'.*s1.*"
                                        r"--allow-missing-fused"):
        pair_folder(str(dataset / 'ir'), str(dataset / 'vi'), str(dataset / 'fused_a'), 'A')
    triples = pair_folder(str(dataset / 'ir'), str(dataset / 'vi'), str(dataset / 'fused_a'),
                          'A', allow_missing_fused=True)
    assert [t.stem for t in triples] == ['s0', 's2']


def test_fused_without_source_is_an_error(dataset):
    save(dataset / 'fused_a' / 'extra.png', np.zeros(SIZE, dtype=np.uint8))
    (dataset / 'vi' / 's2.png').unlink()
    with pytest.raises(DataError) as info:
        pair_folder(str(dataset / 'ir'), str(dataset / 'vi'), str(dataset / 'fused_a'), 'A')
    message = str(info.value)
    assert 'no infrared source' in message and 'extra' in message
    assert 'no visible source' in message and 's2' in message


def test_load_errors_name_the_files(dataset):
    save(dataset / 'fused_a' / 's0.png', np.zeros((SIZE[0] - 1, SIZE[1]), dtype=np.uint8))
    triple = pair_folder(str(dataset / 'ir'), str(dataset / 'vi'), str(dataset / 'fused_a'),
                         'A')[0]
    with pytest.raises(DataError, match=r"differ in size.*fused_a/s0.png 47x64"):
        load_triple(triple)
    save(dataset / 'ir' / 's1.png', np.random.default_rng(1).integers(
        0, 256, SIZE + (3,), dtype=np.uint8))
    triple = pair_folder(str(dataset / 'ir'), str(dataset / 'vi'), str(dataset / 'fused_a'),
                         'A')[1]
    with pytest.raises(DataError, match=r'ir/s1.png: infrared image whose colour channels'):
        load_triple(triple)


def test_parallel_equals_serial(dataset):
    triples = pair_folder(str(dataset / 'ir'), str(dataset / 'vi'), str(dataset / 'fused_b'),
                          'B')
    serial = score_triples(triples, ['EN', 'VIF', 'Qabf'], workers=1)
    parallel = score_triples(triples, ['EN', 'VIF', 'Qabf'], workers=2)
    assert serial == parallel
    grouped = score_folders(str(dataset / 'ir'), str(dataset / 'vi'),
                            {'A': str(dataset / 'fused_a')}, ['EN'], workers=1)
    assert [name for name, _ in grouped['A']] == ['s0.png', 's1.png', 's2.png']


def _tool():
    spec = importlib.util.spec_from_file_location('eval_fusion', REPO / 'tools' / 'eval_fusion.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_tool_outputs(dataset, capsys):
    out = dataset / 'out'
    code = _tool().main(['--ir', str(dataset / 'ir'), '--vi', str(dataset / 'vi'),
                         '--fused', f'A={dataset / "fused_a"}', f'B={dataset / "fused_b"}',
                         '--metrics', 'EN,sd,VIF,Nabf', '--out', str(out), '--workers', '2'])
    assert code == 0
    table = pd.read_csv(out / 'A.csv')
    assert list(table.columns) == ['image', 'EN', 'sd', 'VIF', 'Nabf']
    assert list(table['image']) == ['s0.png', 's1.png', 's2.png']
    assert list(pd.read_csv(out / 'B.csv')['image']) == ['s0.jpg', 's1.jpg', 's2.jpg']
    summary = pd.read_csv(out / 'summary.csv')
    assert list(summary['method']) == ['A', 'B'] and list(summary['n']) == [3, 3]
    assert summary.loc[0, 'EN_mean'] == pytest.approx(table['EN'].mean())
    assert summary.loc[0, 'EN_std'] == pytest.approx(table['EN'].std(ddof=1))
    markdown = (out / 'summary.md').read_text()
    assert '| method | EN | sd | VIF | Nabf ↓ |' in markdown
    assert f"{table['EN'].mean():.3f} ± {table['EN'].std():.3f}" in markdown
    for metric in ('EN', 'sd', 'VIF', 'Nabf'):
        assert (out / f'{metric}.png').stat().st_size > 1000
    assert not list(out.glob('*.tmp'))
    assert 'scored' in capsys.readouterr().out


def test_eval_tool_errors(dataset, capsys):
    (dataset / 'fused_a' / 's2.png').unlink()
    tool = _tool()
    from psfusion.cli import run_tool

    code = run_tool(tool.main, ['--ir', str(dataset / 'ir'), '--vi', str(dataset / 'vi'),
                                '--fused', f'A={dataset / "fused_a"}', '--out',
                                str(dataset / 'out')])
    assert code == 2
    assert "no fused image of 'A'" in capsys.readouterr().err
    assert not (dataset / 'out').exists()
    with pytest.raises(SystemExit):
        tool.main(['--ir', 'x', '--vi', 'y', '--fused', 'A=z', '--metrics', 'EN,BAD'])
    assert 'unknown metric' in capsys.readouterr().err
