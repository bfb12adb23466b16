"""The paper's reported numbers: every cell against the printed tables (``paper_tables.py``), the
transcription against the paper's text (where ``../shared/paper`` exists), the paper's own
arithmetic, and the flags on its known problems."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from psfusion.benchmark.reported import (DEFAULT_READING, FLAGS, REPORTED,
                                         SEGNEXT_PERSON_READINGS, footnotes, implied_value,
                                         reported_rows, table2_shift_check, with_reading)

from ..conftest import SHARED_DATA
from . import paper_tables

PAPER_TEXT = SHARED_DATA.parent / 'paper' / 'psfusion-information-fusion-2023.txt'
# Table 1's column abbreviations and segmenter names -> the rows' method and segmenter keys.
TABLE1_NAMES = {'UMF.': 'UMF-CMGR', 'DIDF.': 'DIDFuse', 'RFN.': 'RFN-Nest',
                'SwinF.': 'SwinFusion', 'U2F.': 'U2Fusion', 'SeAF.': 'SeAFusion',
                'Ours': 'PSFusion'}
TABLE1_SEGMENTERS = {'BANet': 'banet', 'SegFormer': 'segformer_b2', 'SegNeXt': 'segnext_b'}
TABLE1_CLASSES = ('Background', 'Car', 'Person', 'Bike', 'Curve', 'Car Stop', 'Guardrail',
                  'Color cone', 'Bump')
TABLE2_SEGMENTERS = {'SegFormer-B2': 'segformer_b2', 'SegFormer-B4': 'segformer_b4',
                     'SegNeXt-Base': 'segnext_b', 'SegNeXt-Large': 'segnext_l'}
TABLE5_ROWS = {'Direct segmentation': 'Direct segmentation', 'PSFusion+SegNeXt': 'PSFusion'}
SHIFTED = ['FEANet', 'EGFNet', 'LASNet', 'CMX-B2', 'CMX-B4']


def _row(rows, method: str, segmenter: str):
    match = [row for row in rows if row.method == method and row.segmenter == segmenter]
    assert len(match) == 1, (method, segmenter, len(match))
    return match[0]


def _table1_columns():
    return [TABLE1_NAMES.get(name, name) for name in paper_tables.TABLE1_METHODS]


# ----------------------------------------------------------------------------------------
# The transcription is the paper's text
# ----------------------------------------------------------------------------------------
def _paper_lines() -> list:
    if not PAPER_TEXT.is_file():
        pytest.skip(f'the paper as text is not at {PAPER_TEXT} (it exists only on the project '
                    f'machines; set PSFUSION_SHARED_DATA to the data folder beside it)')
    return PAPER_TEXT.read_text(encoding='utf-8').splitlines()


def _table_block(lines: list, title: str, header_start: str) -> tuple:
    """The header line and the body lines (up to the first blank line) of a table."""
    start = lines.index(title)
    header = next(i for i in range(start, len(lines)) if lines[i].startswith(header_start))
    body = []
    for line in lines[header + 1:]:
        if not line.strip():
            break
        body.append(line)
    return lines[header], body


def test_the_transcription_is_the_papers_text():
    lines = _paper_lines()
    header, body = _table_block(lines, 'Table 1', '\t\tInfrared')
    assert tuple(filter(None, header.split('\t'))) == paper_tables.TABLE1_METHODS
    rows, label = [], None
    for line in body:
        fields = line.split('\t')
        label = fields[0] or label
        rows.append((label, fields[1], tuple(v for v in fields[2:] if v)))
    assert tuple(rows) == paper_tables.TABLE1

    header, body = _table_block(lines, 'Table 2', '\tBackbone')
    assert tuple(filter(None, header.split('\t')))[1:] == paper_tables.TABLE2_COLUMNS
    rows, label = [], None
    for line in body:
        fields = line.split('\t')
        label = re.sub(r'\s*[\u2080-\u2089]+$', '', fields[0]) or label  # citation subscripts
        rows.append((label, fields[1], tuple(fields[2:])))
    assert tuple(rows) == paper_tables.TABLE2

    _, body = _table_block(lines, 'Table 5', '\tBackground')
    assert tuple((f[0], tuple(f[1:])) for f in (line.split('\t') for line in body)) == (
        paper_tables.TABLE5)


# ----------------------------------------------------------------------------------------
# Every cell of reported.py is the printed one
# ----------------------------------------------------------------------------------------
def test_counts():
    assert len(reported_rows('msrs', 'table1')) == 36  # 12 methods x 3 segmenters
    assert len(reported_rows('mfnet', 'table2')) == 25
    assert len(reported_rows('msrs', 'table5')) == 2
    assert len(reported_rows('mfnet', 'later')) == 3
    assert len(paper_tables.TABLE1) == 3 * (len(TABLE1_CLASSES) + 1)
    assert len(paper_tables.TABLE2) == 25 and len(paper_tables.TABLE5) == 2


def _table1_mismatches(rows, reading: str) -> list:
    """``(class, method, segmenter, ours, printed)`` for every cell of Table 1 that ``rows``
    hold otherwise than printed.  The row with 11 values fills the 12 columns left to right
    around the missing cell, which the reading names."""
    columns = _table1_columns()
    missing = next(m for m, v in SEGNEXT_PERSON_READINGS[reading].items() if v is None)
    out, checked = [], 0
    for label, segmenter, printed in paper_tables.TABLE1:
        key = TABLE1_SEGMENTERS[segmenter]
        methods = columns
        if len(printed) == len(columns) - 1:
            assert (label, segmenter) == ('Person', 'SegNeXt')
            methods = [m for m in columns if m != missing]
            if _row(rows, missing, key).per_class()['person'] is not None:
                out.append((label, missing, segmenter, 'a value', 'missing'))
        assert len(methods) == len(printed)
        for method, text in zip(methods, printed):
            row = _row(rows, method, key)
            ours = row.miou if label == 'mIoU' else row.iou[TABLE1_CLASSES.index(label)]
            if ours != float(text):
                out.append((label, method, segmenter, ours, text))
            checked += 1
    assert checked == 30 * 12 - 1
    return out


def _table2_mismatches(rows) -> list:
    out = []
    assert [r.method for r in rows] == [m for m, _, _ in paper_tables.TABLE2]  # same order
    for method, backbone, printed in paper_tables.TABLE2:
        row = _row(rows, method, TABLE2_SEGMENTERS.get(backbone, backbone))
        ours = row.iou + (row.miou, )
        out += [(method, backbone, column, a, b) for column, a, b
                in zip(paper_tables.TABLE2_COLUMNS, ours, printed) if a != float(b)]
    return out


@pytest.mark.parametrize('reading', list(SEGNEXT_PERSON_READINGS))
def test_table1_cell_by_cell(reading):
    rows = with_reading(reported_rows('msrs', 'table1'), reading)
    assert _table1_mismatches(rows, reading) == []


def test_table2_cell_by_cell():
    assert _table2_mismatches(reported_rows('mfnet', 'table2')) == []


def test_a_swapped_digit_or_a_shifted_value_is_caught():
    rows = reported_rows('msrs', 'table1')
    gtf = _row(rows, 'GTF', 'banet')
    bad = replace(gtf, iou=(gtf.iou[0], 89.21) + gtf.iou[2:])  # Car printed 89.12
    found = _table1_mismatches([bad if r is gtf else r for r in rows], DEFAULT_READING)
    assert found == [('Car', 'GTF', 'BANet', 89.21, '89.12')]
    # the two readings differ in where 75.33 sits: the default rows fail the other reading
    other = [r for r in SEGNEXT_PERSON_READINGS if r != DEFAULT_READING][0]
    assert len(_table1_mismatches(rows, other)) == 2
    table2 = reported_rows('mfnet', 'table2')
    egf = _row(table2, 'EGFNet', 'ResNet-152')
    bad = replace(egf, miou=54.67)  # printed 54.76
    assert _table2_mismatches([bad if r is egf else r for r in table2]) == [
        ('EGFNet', 'ResNet-152', 'mIoU', 54.67, '54.76')]


def test_table1_default_reading_is_the_rows():
    assert with_reading(REPORTED, DEFAULT_READING) == list(REPORTED)
    other = [r for r in SEGNEXT_PERSON_READINGS if r != DEFAULT_READING][0]
    changed = [(a.method, b.method) for a, b in zip(REPORTED, with_reading(REPORTED, other))
               if a != b]
    assert changed == [('SwinFusion', 'SwinFusion'), ('U2Fusion', 'U2Fusion')]
    with pytest.raises(ValueError, match='unknown reading'):
        with_reading(REPORTED, 'neither')


def test_table5_cell_by_cell():
    rows = reported_rows('msrs', 'table5')
    assert len(rows) == len(paper_tables.TABLE5)
    for (label, printed), row in zip(paper_tables.TABLE5, rows):
        assert row.method == TABLE5_ROWS[label]
        assert row.iou == tuple(float(v) for v in printed[:9]) and row.miou == float(printed[9])


# ----------------------------------------------------------------------------------------
# The paper's own arithmetic
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize('row', [r for r in REPORTED if r.iou and None not in r.iou],
                         ids=lambda r: f'{r.table}-{r.method}-{r.segmenter}')
def test_per_class_values_average_to_the_printed_miou(row):
    mean = sum(row.iou) / len(row.iou)
    if 'do not average' in row.note:
        assert abs(mean - row.miou) > 0.05  # the paper's own inconsistency, flagged
    else:
        assert mean == pytest.approx(row.miou, abs=0.051)


def test_headline_numbers_of_the_specification():
    psfusion = {(r.table, r.segmenter): r.miou for r in REPORTED if r.method == 'PSFusion'}
    assert psfusion[('table1', 'banet')] == 78.77
    assert psfusion[('table1', 'segformer_b2')] == 79.63
    assert psfusion[('table1', 'segnext_b')] == 80.38
    assert [psfusion[('table2', s)] for s in ('segformer_b2', 'segformer_b4', 'segnext_b',
                                                'segnext_l')] == [56.02, 57.51, 58.36, 59.73]
    cmx = {r.method: r.miou for r in reported_rows('mfnet', 'table2')}
    assert cmx['CMX-B2'] == 58.31 and cmx['CMX-B4'] == 59.70 and cmx['MFNet'] == 36.49
    # Table 5's second row is Table 1's PSFusion + SegNeXt row
    t5 = reported_rows('msrs', 'table5')[1]
    t1 = _row(reported_rows('msrs', 'table1'), 'PSFusion', 'segnext_b')
    assert t5.iou == t1.iou and t5.miou == t1.miou


# ----------------------------------------------------------------------------------------
# Flags
# ----------------------------------------------------------------------------------------
def test_both_readings_of_the_missing_segnext_person_value_are_flagged():
    rows = reported_rows('msrs', 'table1')
    swin, u2f = _row(rows, 'SwinFusion', 'segnext_b'), _row(rows, 'U2Fusion', 'segnext_b')
    flag = FLAGS['table1-segnext-person']
    for row in (swin, u2f):
        assert row.flags == (flag.key, ) and 'two readings' in row.note
        assert row.flagged('person') == [flag] and row.flagged('car') == []
    assert [r.method for r in rows if r.flags] == ['SwinFusion', 'U2Fusion']
    assert 'U2Fusion 75.33' in flag.footnote and 'SwinFusion 75.33' in flag.footnote
    # The arithmetic the footnote states: 75.33 fits U2Fusion's printed mIoU, and misses
    # SwinFusion's by one rounding step.
    assert round(sum(u2f.iou) / 9, 4) == 78.7756 and round(sum(u2f.iou) / 9, 2) == u2f.miou
    as_swin = _row(with_reading(rows, 'swinfusion'), 'SwinFusion', 'segnext_b')
    assert round(sum(as_swin.iou) / 9, 4) == 78.3856 and as_swin.miou == 78.38
    low, high = implied_value(swin)
    assert (round(low, 3), round(high, 3)) == (75.235, 75.325) and not low <= 75.33 <= high
    low, high = implied_value(_row(with_reading(rows, 'swinfusion'), 'U2Fusion', 'segnext_b'))
    assert (round(low, 3), round(high, 3)) == (75.325, 75.415) and low <= 75.33 <= high
    # SeAFusion's 75.93 is placed by its own mIoU
    seaf = _row(rows, 'SeAFusion', 'segnext_b')
    assert seaf.per_class()['person'] == 75.93 and round(sum(seaf.iou) / 9, 2) == seaf.miou


def test_table2_shift_is_flagged_not_fixed():
    rows = reported_rows('mfnet', 'table2')
    flag = FLAGS['table2-shifted-columns']
    assert [r.method for r in rows if r.flags] == SHIFTED
    assert all(r.flags == (flag.key, ) for r in rows if r.method in SHIFTED)
    feanet, rtfnet = _row(rows, 'FEANet', 'ResNet-152'), _row(rows, 'RTFNet', 'ResNet-152')
    assert feanet.iou[1:8] == rtfnet.iou[1:8]  # printed as a copy of the row above
    assert feanet.flagged('car') == [flag] and feanet.flagged('unlabelled') == []
    assert feanet.flagged('bump') == [] and feanet.flagged('mIoU') == []
    check = table2_shift_check()
    assert list(check) == SHIFTED
    printed, shifted, miou = check['FEANet']
    assert round(shifted, 4) == 55.2844 and round(shifted, 2) == miou == 55.28
    for method in SHIFTED[:-1]:
        printed, shifted, miou = check[method]
        assert abs(shifted - miou) < 0.1 < 0.3 < abs(printed - miou), method
    assert check['CMX-B4'][1] is None  # its own values are not printed


def test_footnotes_once_each_in_order():
    shown = reported_rows('mfnet', 'table2') + reported_rows('msrs', 'table1')
    assert [f.key for f in footnotes(shown)] == ['table2-shifted-columns',
                                                  'table1-segnext-person']
    assert footnotes(reported_rows('msrs', 'table5')) == []
    assert {f.mark for f in FLAGS.values()} == {'\u2020', '\u2021'}
