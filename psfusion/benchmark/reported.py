"""Numbers the paper (and later feature-level work) reported: quoted, never measured here.

Every row is marked ``reported`` wherever it is shown.  Values are IoU in percent for the nine
classes (``unlabelled, car, person, bike, curve, car_stop, guardrail, color_cone, bump``) and the
mIoU as printed.  Sources: Tang et al., "Rethinking the necessity of image fusion in high-level
vision tasks: a practical infrared and visible image fusion network based on progressive semantic
injection and scene fidelity", Information Fusion 99 (2023), Tables 1, 2 and 5; the later MFNet
results listed in the benchmark specification.  ``tests/benchmark/paper_tables.py`` holds the
tables as printed, and ``tests/benchmark/test_reported.py`` checks every cell against it (and it
against the paper's text where ``../shared/paper`` exists).

Known problems of the printed tables are kept as printed and flagged as data: a row's ``flags``
name entries of :data:`FLAGS`, each with a footnote, a mark and the class columns it concerns,
for the tables to print (:func:`footnotes`).

* ``table1-segnext-person`` (Table 1, SegNeXt, Person): the printed row has 11 values for 12
  methods.  Infrared..TarDAL are fixed by their own rows' mIoU, SeAFusion's 75.93 by its mIoU
  (79.29) and PSFusion's 77.66 by Table 5, so 75.33 is SwinFusion's or U2Fusion's and the other
  value is missing.  The mIoU arithmetic slightly favours U2Fusion
  (:data:`SEGNEXT_PERSON_READINGS`): with 75.33 U2Fusion's mean is 78.7756 (printed 78.78),
  SwinFusion's would be 78.3856 (printed 78.38, one rounding step off).  The rows follow that
  reading (:data:`DEFAULT_READING`); :func:`with_reading` gives the other.
* ``table2-shifted-columns`` (Table 2, FEANet to CMX-B4): the Car..Color cone columns look
  shifted down by one row from FEANet on.  FEANet's printed values repeat RTFNet's; EGFNet's
  printed Car..Color cone with FEANet's Background and Bump average to 55.2844, exactly FEANet's
  printed mIoU (55.28), and each following row's values give the row above a mean within 0.1 of
  its printed mIoU (:func:`table2_shift_check`), while the rows as printed miss theirs by
  0.3-2.9.  The numbers are kept as printed; the mIoU is the original papers'.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence

from ..data.layouts import MSRS_CLASSES

PAPER = 'Tang et al., Information Fusion 2023'


@dataclass(frozen=True)
class Flag:
    """A known problem of printed numbers, for a table's footnote.

    Attributes:
        key: the name rows use in ``flags``.
        mark: a short marker for the flagged cells (Markdown/CSV as is; LaTeX
            ``\\textsuperscript{...}`` of it, or ``$^\\dagger$`` / ``$^\\ddagger$``).
        classes: the class columns concerned (class names; empty: the whole row).
        footnote: one paragraph for under the table.
    """
    key: str
    mark: str
    classes: tuple
    footnote: str


_SHIFTED = ('car', 'person', 'bike', 'curve', 'car_stop', 'guardrail', 'color_cone')

#: Every flag, by key (see the module docstring).
FLAGS = {flag.key: flag for flag in (
    Flag('table1-segnext-person', '\u2020', ('person', ),
         'Table 1 of the paper prints 11 Person values for the 12 SegNeXt columns: 75.33 is '
         "U2Fusion's or SwinFusion's and the other is missing. Shown: U2Fusion 75.33 (its mean "
         '78.7756 matches the printed 78.78; as SwinFusion\'s it would give 78.3856, printed '
         "78.38), SwinFusion missing (its printed mIoU implies 75.24-75.32). The other reading: "
         'SwinFusion 75.33, U2Fusion missing (implied 75.33-75.41).'),
    Flag('table2-shifted-columns', '\u2021', _SHIFTED,
         'Table 2 of the paper: from FEANet on, the Car..Color cone columns look shifted down '
         "by one row (FEANet's repeat RTFNet's; EGFNet's printed values with FEANet's "
         "Background and Bump average to 55.28, FEANet's printed mIoU). Per-class values are "
         'shown as printed; the mIoU is the original papers\'.'),
)}


@dataclass(frozen=True)
class ReportedRow:
    """One reported result.

    Attributes:
        table: ``'table1'`` (MSRS), ``'table2'`` (MFNet), ``'table5'`` (MSRS, semantic head) or
            ``'later'`` (later feature-level MFNet results, mIoU only).
        dataset: ``'msrs'`` or ``'mfnet'``.
        method: as printed (``Infrared``, ``Visible``, ``SeAFusion``, ``PSFusion``, ``CMX-B2``,
            ...).
        kind: ``'source'``, ``'image-level'``, ``'feature-level'`` or ``'semantic head'``.
        segmenter: this benchmark's segmenter key where the paper used the same model
            (``segformer_b2``, ``banet``...), else the paper's name for the model
            (``ResNet-152``...).
        iou: per-class IoU in class order (None where not reported; single entries may be None).
        miou: the printed mIoU.
        note: what is known to be wrong or unusual with this row.
        citation: where the number comes from.
        flags: keys of :data:`FLAGS` that concern this row (footnotes for the tables).
    """
    table: str
    dataset: str
    method: str
    kind: str
    segmenter: str
    iou: Optional[tuple]
    miou: float
    note: str = ''
    citation: str = PAPER
    flags: tuple = ()

    def per_class(self) -> dict:
        """``{class name: IoU or None}`` (the paper's tables use the MSRS / MFNet classes)."""
        values = self.iou or (None, ) * len(MSRS_CLASSES)
        return dict(zip(MSRS_CLASSES, values))

    def flagged(self, class_name: str) -> list:
        """The :data:`FLAGS` entries that concern this row's ``class_name`` cell (``'mIoU'``:
        none but whole-row flags)."""
        return [FLAGS[key] for key in self.flags
                if not FLAGS[key].classes or class_name in FLAGS[key].classes]


# Paper names of the segmenters that this benchmark runs too.
_SEGMENTER_KEYS = {
    'BANet': 'banet',  # Table 1: the ResNet-18 BANet that SeAFusion trains (psfusion.segmenters)
    'SegFormer': 'segformer_b2',  # Table 1 evaluates SegFormer-B2 and SegNeXt-Base (its text)
    'SegNeXt': 'segnext_b',
    'SegFormer-B2': 'segformer_b2',
    'SegFormer-B4': 'segformer_b4',
    'SegNeXt-Base': 'segnext_b',
    'SegNeXt-Large': 'segnext_l',
}
_SOURCES = ('Infrared', 'Visible')
_FEATURE_LEVEL = ('MFNet', 'GMNet', 'MDRNet', 'RTFNet', 'FEANet', 'EGFNet', 'LASNet', 'CMX-B2',
                  'CMX-B4')
_INCONSISTENT = ('FEANet', 'EGFNet', 'LASNet', 'CMX-B2', 'CMX-B4')

# (method, segmenter as printed, per-class IoU, mIoU)
_TABLE1_MSRS = [
    ('Infrared', 'BANet',
     (98.24, 87.33, 70.46, 69.23, 58.74, 68.85, 65.57, 56.93, 72.72), 72.01),
    ('Visible', 'BANet',
     (98.26, 89.03, 59.94, 70.00, 60.69, 71.43, 77.90, 63.42, 75.31), 74.00),
    ('GTF', 'BANet',
     (98.44, 89.12, 71.76, 72.04, 64.47, 70.59, 68.95, 63.71, 74.40), 74.83),
    ('FusionGAN', 'BANet',
     (98.49, 89.86, 72.83, 71.95, 63.45, 71.68, 79.45, 64.35, 75.36), 76.38),
    ('UMF-CMGR', 'BANet',
     (98.48, 90.24, 72.20, 71.20, 62.71, 70.53, 77.96, 64.65, 76.74), 76.08),
    ('DIDFuse', 'BANet',
     (98.29, 88.83, 69.92, 67.82, 56.85, 66.11, 82.30, 59.54, 76.11), 73.97),
    ('RFN-Nest', 'BANet',
     (98.50, 89.95, 72.03, 71.39, 62.04, 74.92, 74.87, 63.41, 79.53), 76.29),
    ('TarDAL', 'BANet',
     (98.50, 90.04, 73.17, 71.13, 61.92, 72.94, 73.08, 64.77, 75.67), 75.69),
    ('SwinFusion', 'BANet',
     (98.49, 90.20, 72.24, 70.31, 60.53, 70.85, 86.06, 63.88, 80.36), 76.99),
    ('U2Fusion', 'BANet',
     (98.49, 89.78, 72.93, 70.99, 62.84, 72.13, 79.25, 63.59, 77.12), 76.35),
    ('SeAFusion', 'BANet',
     (98.60, 90.38, 74.56, 72.09, 65.26, 74.38, 84.34, 66.21, 78.35), 78.24),
    ('PSFusion', 'BANet',
     (98.69, 91.66, 76.81, 72.93, 64.48, 74.32, 80.60, 68.47, 81.01), 78.77),
    ('Infrared', 'SegFormer',
     (98.35, 88.85, 72.28, 70.28, 59.15, 70.02, 65.51, 56.27, 74.70), 72.82),
    ('Visible', 'SegFormer',
     (98.41, 90.76, 65.54, 71.48, 59.70, 77.49, 83.52, 65.27, 78.38), 76.73),
    ('GTF', 'SegFormer',
     (98.51, 89.37, 73.33, 72.20, 62.72, 76.67, 85.68, 57.36, 74.88), 76.75),
    ('FusionGAN', 'SegFormer',
     (98.57, 89.36, 75.37, 72.23, 63.93, 78.83, 73.06, 63.56, 78.54), 77.05),
    ('UMF-CMGR', 'SegFormer',
     (98.59, 90.16, 74.54, 72.44, 64.17, 77.82, 84.31, 62.27, 76.69), 77.89),
    ('DIDFuse', 'SegFormer',
     (98.44, 89.16, 73.04, 69.57, 57.26, 75.37, 80.67, 59.10, 74.37), 75.22),
    ('RFN-Nest', 'SegFormer',
     (98.65, 90.83, 74.96, 72.31, 64.88, 78.76, 80.80, 63.82, 79.99), 78.33),
    ('TarDAL', 'SegFormer',
     (98.55, 89.10, 75.31, 71.62, 63.84, 79.24, 80.97, 64.24, 77.19), 77.78),
    ('SwinFusion', 'SegFormer',
     (98.64, 91.05, 75.11, 72.30, 62.32, 77.56, 78.06, 63.14, 81.12), 77.70),
    ('U2Fusion', 'SegFormer',
     (98.63, 91.08, 75.22, 72.28, 64.12, 78.34, 84.04, 65.28, 76.39), 78.38),
    ('SeAFusion', 'SegFormer',
     (98.66, 91.01, 75.14, 72.47, 64.50, 79.12, 85.04, 67.63, 80.54), 79.34),
    ('PSFusion', 'SegFormer',
     (98.72, 91.55, 76.43, 73.07, 63.76, 80.81, 83.82, 68.21, 80.28), 79.63),
    ('Infrared', 'SegNeXt',
     (98.44, 89.97, 72.47, 70.75, 60.49, 74.93, 76.48, 59.71, 74.26), 75.28),
    ('Visible', 'SegNeXt',
     (98.47, 91.18, 65.76, 72.33, 61.42, 78.24, 81.26, 62.40, 80.00), 76.79),
    ('GTF', 'SegNeXt',
     (98.56, 90.74, 73.76, 73.24, 62.17, 77.67, 81.76, 60.40, 74.09), 76.93),
    ('FusionGAN', 'SegNeXt',
     (98.67, 91.57, 75.66, 73.32, 64.93, 79.27, 83.13, 64.03, 76.47), 78.56),
    ('UMF-CMGR', 'SegNeXt',
     (98.66, 91.58, 75.19, 73.16, 63.25, 79.30, 86.52, 66.00, 78.38), 79.12),
    ('DIDFuse', 'SegNeXt',
     (98.51, 90.65, 73.14, 71.03, 59.23, 76.91, 80.34, 61.29, 75.55), 76.30),
    ('RFN-Nest', 'SegNeXt',
     (98.67, 91.63, 75.25, 73.50, 63.80, 78.65, 79.98, 64.18, 77.07), 78.08),
    ('TarDAL', 'SegNeXt',
     (98.65, 91.69, 75.55, 72.80, 64.59, 78.89, 78.88, 67.02, 75.17), 78.14),
    # Person: one of these two is missing from the printed row (FLAGS['table1-segnext-person'])
    ('SwinFusion', 'SegNeXt',
     (98.66, 91.89, None, 72.95, 62.55, 78.23, 83.40, 65.74, 76.72), 78.38),
    ('U2Fusion', 'SegNeXt',
     (98.67, 91.81, 75.33, 72.68, 64.39, 78.01, 80.28, 67.42, 80.39), 78.78),
    ('SeAFusion', 'SegNeXt',
     (98.70, 91.89, 75.93, 72.12, 64.48, 79.91, 81.48, 67.75, 81.39), 79.29),
    ('PSFusion', 'SegNeXt',
     (98.73, 91.81, 77.66, 73.64, 62.76, 80.15, 88.92, 70.17, 79.58), 80.38),
]

_TABLE2_MFNET = [
    ('Infrared', 'SegFormer-B2',
     (97.69, 83.43, 70.51, 53.70, 38.95, 16.58, 5.61, 31.80, 53.56), 50.20),
    ('Infrared', 'SegFormer-B4',
     (97.76, 84.84, 70.67, 55.05, 41.79, 18.48, 6.87, 42.03, 50.03), 51.95),
    ('Infrared', 'SegNeXt-Base',
     (97.79, 84.89, 70.73, 56.29, 41.94, 24.15, 7.60, 35.91, 48.64), 51.99),
    ('Infrared', 'SegNeXt-Large',
     (97.80, 86.31, 70.91, 58.59, 40.54, 24.13, 7.91, 42.00, 48.99), 53.02),
    ('Visible', 'SegFormer-B2',
     (97.84, 87.19, 61.48, 62.83, 31.53, 28.42, 4.40, 50.51, 45.37), 52.17),
    ('Visible', 'SegFormer-B4',
     (97.98, 88.33, 63.36, 61.41, 33.82, 34.69, 9.36, 51.10, 53.92), 54.89),
    ('Visible', 'SegNeXt-Base',
     (97.93, 88.29, 62.42, 63.67, 35.34, 36.95, 5.77, 51.20, 47.74), 54.37),
    ('Visible', 'SegNeXt-Large',
     (97.94, 87.93, 62.80, 65.15, 34.72, 41.39, 10.51, 53.58, 46.42), 55.60),
    ('MFNet', 'Customize',
     (96.26, 60.95, 53.44, 43.14, 22.94, 9.44, 0.00, 18.80, 23.47), 36.49),
    ('GMNet', 'ResNet-50',
     (98.00, 86.46, 73.05, 61.72, 43.96, 42.25, 14.52, 48.70, 47.42), 57.34),
    ('MDRNet', 'ResNet-50',
     (97.90, 87.07, 69.81, 60.87, 47.80, 34.18, 8.21, 50.18, 54.98), 56.78),
    ('RTFNet', 'ResNet-152',
     (98.00, 87.41, 70.30, 62.74, 45.33, 29.80, 0.00, 29.07, 55.71), 53.15),
    ('FEANet', 'ResNet-152',
     (98.00, 87.41, 70.30, 62.74, 45.33, 29.80, 0.00, 29.07, 48.95), 55.28),
    ('EGFNet', 'ResNet-152',
     (98.01, 87.84, 71.12, 61.08, 46.48, 22.10, 6.64, 55.35, 47.12), 54.76),
    ('LASNet', 'ResNet-152',
     (97.67, 87.57, 69.80, 58.80, 42.76, 33.76, 7.02, 48.32, 40.10), 54.91),
    ('CMX-B2', 'SegFormer-B2',
     (97.39, 84.23, 67.12, 56.93, 41.11, 39.56, 18.94, 48.84, 54.42), 58.31),
    ('CMX-B4', 'SegFormer-B4',
     (98.32, 89.79, 75.42, 65.57, 46.51, 33.12, 10.16, 51.52, 60.60), 59.70),
    ('SeAFusion', 'SegFormer-B2',
     (98.12, 87.81, 71.97, 63.48, 41.54, 30.40, 6.92, 51.17, 46.92), 55.37),
    ('SeAFusion', 'SegFormer-B4',
     (98.10, 88.05, 72.90, 63.31, 40.77, 36.27, 10.30, 50.59, 44.23), 56.06),
    ('SeAFusion', 'SegNeXt-Base',
     (98.20, 88.76, 72.40, 65.77, 44.52, 37.29, 6.08, 55.22, 51.92), 57.80),
    ('SeAFusion', 'SegNeXt-Large',
     (98.23, 89.18, 73.87, 65.72, 43.57, 44.90, 12.57, 53.49, 50.64), 59.13),
    ('PSFusion', 'SegFormer-B2',
     (98.08, 86.85, 73.91, 63.70, 41.07, 37.50, 0.13, 50.32, 52.60), 56.02),
    ('PSFusion', 'SegFormer-B4',
     (98.14, 87.65, 74.14, 63.79, 44.45, 35.23, 8.76, 53.85, 51.54), 57.51),
    ('PSFusion', 'SegNeXt-Base',
     (98.20, 88.63, 73.92, 66.23, 45.93, 41.14, 3.75, 53.83, 53.62), 58.36),
    ('PSFusion', 'SegNeXt-Large',
     (98.26, 88.62, 75.00, 65.53, 47.34, 42.59, 8.58, 52.96, 58.68), 59.73),
]

_TABLE5_MSRS = [
    ('Direct segmentation', 'PSFusion semantic head',
     (98.44, 89.38, 74.24, 71.25, 58.36, 66.9, 69.43, 62.51, 74.05), 73.84),
    ('PSFusion', 'SegNeXt', (98.73, 91.81, 77.66, 73.64, 62.76, 80.15, 88.92, 70.17, 79.58),
     80.38),
]

# Later feature-level results on MFNet (mIoU only), from the benchmark specification.
_LATER_MFNET = [
    ('CMNeXt-B4', 'MiT-B4', 59.9, 'Zhang et al., CVPR 2023 (as listed in BENCHMARK.md)'),
    ('Sigma', 'VMamba-B', 61.3, 'Wan et al., 2024 (as listed in BENCHMARK.md)'),
    ('CRM', 'Swin-B', 61.4, 'Shin et al., ICRA 2024 (as listed in BENCHMARK.md)'),
]


def _kind(method: str) -> str:
    if method in _SOURCES:
        return 'source'
    if method in _FEATURE_LEVEL:
        return 'feature-level'
    return 'image-level'


#: The two readings of Table 1's SegNeXt Person values of SwinFusion and U2Fusion (one of them is
#: missing from the printed row; see the module docstring).
SEGNEXT_PERSON_READINGS = {
    'u2fusion': {'SwinFusion': None, 'U2Fusion': 75.33},
    'swinfusion': {'SwinFusion': 75.33, 'U2Fusion': None},
}
#: The reading of :data:`REPORTED` (the one the mIoU arithmetic favours).
DEFAULT_READING = 'u2fusion'


def _note_table1(method: str, segmenter: str) -> str:
    if segmenter == 'SegNeXt' and method == 'SeAFusion':
        return 'Person value placed by the mIoU check (one value is missing from the printed row)'
    if segmenter == 'SegNeXt' and method in SEGNEXT_PERSON_READINGS[DEFAULT_READING]:
        return ('Person value: 75.33 is SwinFusion\'s or U2Fusion\'s, the other is missing '
                'from the printed row (two readings)')
    return ''


def _flags_table1(method: str, segmenter: str) -> tuple:
    if segmenter == 'SegNeXt' and method in SEGNEXT_PERSON_READINGS[DEFAULT_READING]:
        return ('table1-segnext-person', )
    return ()


def _build() -> list:
    rows = []
    for method, segmenter, iou, miou in _TABLE1_MSRS:
        rows.append(ReportedRow('table1', 'msrs', method, _kind(method),
                                _SEGMENTER_KEYS.get(segmenter, segmenter), iou, miou,
                                _note_table1(method, segmenter),
                                flags=_flags_table1(method, segmenter)))
    for method, segmenter, iou, miou in _TABLE2_MFNET:
        shifted = method in _INCONSISTENT
        note = ('printed per-class values do not average to the printed mIoU; Car..Color cone '
                'look shifted down one row' if shifted else '')
        rows.append(ReportedRow('table2', 'mfnet', method, _kind(method),
                                _SEGMENTER_KEYS.get(segmenter, segmenter), iou, miou, note,
                                flags=('table2-shifted-columns', ) if shifted else ()))
    for method, segmenter, iou, miou in _TABLE5_MSRS:
        kind = 'semantic head' if method == 'Direct segmentation' else 'image-level'
        rows.append(ReportedRow('table5', 'msrs', method, kind,
                                _SEGMENTER_KEYS.get(segmenter, segmenter), iou, miou))
    for method, backbone, miou, citation in _LATER_MFNET:
        rows.append(ReportedRow('later', 'mfnet', method, 'feature-level', backbone, None, miou,
                                'mIoU only', citation))
    return rows


#: Every reported row.
REPORTED = tuple(_build())


def reported_rows(dataset: str, table: Optional[str] = None) -> list:
    """Reported rows of a dataset (``msrs`` / ``mfnet``), optionally of one table."""
    return [row for row in REPORTED
            if row.dataset == dataset and (table is None or row.table == table)]


def footnotes(rows: Iterable[ReportedRow]) -> list:
    """The :data:`FLAGS` entries of ``rows``, each once, in order of first appearance: what a
    table that shows these rows prints under itself (``f'{flag.mark} {flag.footnote}'``)."""
    keys = dict.fromkeys(key for row in rows for key in row.flags)
    return [FLAGS[key] for key in keys]


def with_reading(rows: Sequence[ReportedRow], reading: str) -> list:
    """``rows`` with Table 1's SegNeXt Person values of SwinFusion and U2Fusion as in
    ``reading`` (a key of :data:`SEGNEXT_PERSON_READINGS`); other rows unchanged."""
    if reading not in SEGNEXT_PERSON_READINGS:
        raise ValueError(f'unknown reading {reading!r}; valid: '
                         f'{", ".join(SEGNEXT_PERSON_READINGS)}')
    values = SEGNEXT_PERSON_READINGS[reading]
    person = MSRS_CLASSES.index('person')
    out = []
    for row in rows:
        if row.table == 'table1' and row.segmenter == 'segnext_b' and row.method in values:
            iou = list(row.iou)
            iou[person] = values[row.method]
            row = replace(row, iou=tuple(iou))
        out.append(row)
    return out


def implied_value(row: ReportedRow, decimals: int = 2) -> tuple:
    """``(low, high)``: the range in which the one missing per-class value of ``row`` must lie
    for the mean of the values to round to the printed mIoU."""
    missing = [i for i, value in enumerate(row.iou) if value is None]
    if len(missing) != 1:
        raise ValueError(f'{row.method} ({row.segmenter}): needs exactly one missing value, '
                         f'has {len(missing)}')
    known = sum(value for value in row.iou if value is not None)
    n, half = len(row.iou), 0.5 * 10 ** -decimals
    return (n * (row.miou - half) - known, n * (row.miou + half) - known)


def table2_shift_check() -> dict:
    """``{method: (mean as printed, mean if shifted, printed mIoU)}`` for Table 2's flagged rows:
    "if shifted" takes Car..Color cone from the next row (None for the last row, whose own
    values are not printed)."""
    rows = [row for row in reported_rows('mfnet', 'table2')
            if 'table2-shifted-columns' in row.flags]
    middle = [MSRS_CLASSES.index(name) for name in _SHIFTED]
    out = {}
    for row, below in zip(rows, rows[1:] + [None]):
        shifted = None
        if below is not None:
            values = list(row.iou)
            for i in middle:
                values[i] = below.iou[i]
            shifted = sum(values) / len(values)
        out[row.method] = (sum(row.iou) / len(row.iou), shifted, row.miou)
    return out
