"""Tables and figures of a metric evaluation, written atomically.

* one CSV per method, ``<NAME>.csv``: ``image,<METRIC>...`` (one row per fused image);
* ``summary.md`` / ``summary.csv``: mean and standard deviation per method and metric (the
  layout of the paper's Table 3: methods as rows, metrics as columns, ``mean ± std``; the std
  is the sample standard deviation, N-1, like MATLAB's ``std``);
* ``<METRIC>.png``: per method, the sorted values against the fraction of image pairs (the
  paper's Figures 11-14: a point (x, y) says that a fraction x of the pairs score at most y).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ..fileio import atomic_write, write_text
from .scoring import LOWER_IS_BETTER, resolve_metrics

if TYPE_CHECKING:
    import pandas as pd

Rows = Sequence[tuple[str, Mapping[str, float]]]


def import_libraries(plots: bool = True) -> None:
    """Import pandas (and matplotlib's figure and Agg canvas) now.

    They are imported on first use otherwise; ``tools/eval_fusion.py`` calls this while its
    worker processes score, where the second or so they take overlaps with the scoring.
    """
    import pandas  # noqa: F401
    if plots:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401


def write_atomic_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`psfusion.fileio.write_text`)."""
    write_text(path, text)


def write_atomic_csv(frame: pd.DataFrame, path: str) -> None:
    write_atomic_text(path, frame.to_csv(index=False, float_format='%.17g'))


def method_frame(rows: Rows, labels: Mapping[str, str]) -> pd.DataFrame:
    """``image`` + one column per metric (named by ``labels[canonical]``), in input order."""
    import pandas as pd

    data = {'image': [name for name, _ in rows]}
    for canonical, label in labels.items():
        data[label] = [float(score[canonical]) for _, score in rows]
    return pd.DataFrame(data)


def summary_frame(frames: Mapping[str, pd.DataFrame], metrics: Sequence[str]) -> pd.DataFrame:
    """``method, n, <M>_mean, <M>_std ...`` (std with N-1; NaN values left out)."""
    import pandas as pd

    records = []
    for method, frame in frames.items():
        record = {'method': method, 'n': len(frame)}
        for metric in metrics:
            values = frame[metric].astype(float)
            record[f'{metric}_mean'] = values.mean()
            record[f'{metric}_std'] = values.std(ddof=1) if values.count() > 1 else float('nan')
        records.append(record)
    return pd.DataFrame.from_records(records)


def summary_markdown(summary: pd.DataFrame, metrics: Sequence[str], profile: str,
                     digits: int = 3) -> str:
    """Table 3 layout: ``| method | EN | ... |`` with ``mean ± std``; best mean in bold."""
    header = '| method | ' + ' | '.join(
        f'{m} ↓' if _lower_is_better(m) else m for m in metrics) + ' |'
    lines = [f'Fusion metrics (profile `{profile}`; mean ± std over {_counts(summary)} '
             f'image pairs; best in bold; ↓ lower is better)', '', header,
             '|' + '---|' * (len(metrics) + 1)]
    best = {}
    for metric in metrics:
        means = summary[f'{metric}_mean']
        if means.notna().any():
            best[metric] = means.idxmin() if _lower_is_better(metric) else means.idxmax()
    for index, row in summary.iterrows():
        cells = []
        for metric in metrics:
            mean, std = row[f'{metric}_mean'], row[f'{metric}_std']
            cell = f'{mean:.{digits}f} ± {std:.{digits}f}' if not np.isnan(mean) else 'undefined'
            cells.append(f'**{cell}**' if best.get(metric) == index and len(summary) > 1
                         else cell)
        lines.append(f'| {row["method"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def _lower_is_better(label: str) -> bool:
    try:
        return resolve_metrics([label])[0] in LOWER_IS_BETTER
    except ValueError:
        return False


def _counts(summary: pd.DataFrame) -> str:
    counts = sorted(set(int(n) for n in summary['n']))
    return '/'.join(str(n) for n in counts)


def plot_sorted_curves(frames: Mapping[str, pd.DataFrame], metric: str, path: str) -> None:
    """One figure: for each method, its sorted values (y) against k/n (x), k = 1..n.

    Drawn on matplotlib's Agg canvas directly: no pyplot (its import and global figure
    registry), whatever backend the caller uses.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for method, frame in frames.items():
        values = np.sort(frame[metric].astype(float).dropna().to_numpy())
        if values.size:
            fraction = np.arange(1, values.size + 1) / values.size
            ax.plot(fraction, values, marker='.', markersize=3, linewidth=1.2,
                    label=f'{method} ({values.mean():.3f})')
    ax.set_xlabel('fraction of image pairs')
    ax.set_ylabel(metric)
    ax.set_xlim(0, 1)
    ax.set_title(f'{metric} (sorted; mean in legend)')
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, f'{metric} undefined (NaN) for every image', ha='center',
                va='center', transform=ax.transAxes)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png'))


def write_report(results: Mapping[str, Rows], labels: Mapping[str, str], out_dir: str,
                 profile: str, plots: bool = True, workers: int = 1) -> dict[str, str]:
    """Write every file of an evaluation into ``out_dir``; returns ``{what: path}``.

    ``results``: ``{method: [(image name, {canonical metric: value}), ...]}``;
    ``labels``: canonical metric name -> column name (the user's spelling).  ``workers`` > 1
    draws the figures in that many forked processes (~0.2 s each; where ``fork`` exists).
    """
    frames = {method: method_frame(rows, labels) for method, rows in results.items()}
    written = {}
    for method, frame in frames.items():
        path = os.path.join(out_dir, f'{method}.csv')
        write_atomic_csv(frame, path)
        written[method] = path
    columns = list(labels.values())
    summary = summary_frame(frames, columns)
    written['summary.csv'] = os.path.join(out_dir, 'summary.csv')
    write_atomic_csv(summary, written['summary.csv'])
    written['summary.md'] = os.path.join(out_dir, 'summary.md')
    write_atomic_text(written['summary.md'], summary_markdown(summary, columns, profile))
    if plots:
        figures = {f'{column}.png': (column, os.path.join(out_dir, f'{column}.png'))
                   for column in columns}
        _plot_all(frames, list(figures.values()), workers)
        written.update({name: path for name, (_, path) in figures.items()})
    return written


def _plot_all(frames: Mapping[str, pd.DataFrame], figures: Sequence[tuple[str, str]],
              workers: int) -> None:
    """:func:`plot_sorted_curves` for each ``(column, path)``, in forked processes when
    ``workers`` > 1 (they inherit matplotlib already imported: see :func:`import_libraries`)."""
    import multiprocessing
    workers = min(workers, len(figures))
    if workers <= 1 or 'fork' not in multiprocessing.get_all_start_methods():
        for column, path in figures:
            plot_sorted_curves(frames, column, path)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('fork')) as pool:
        for future in [pool.submit(plot_sorted_curves, frames, column, path)
                       for column, path in figures]:
            future.result()
