"""Built-in fusion methods as benchmark sources: fused on first use, reused afterwards.

``--sources ir,vi,avg,gtf`` names fusion methods that need no model files (the registered
fusers of :mod:`psfusion.fusers` with ``uses_model_files = False``).  Before any run, each is
written with the shared fused-dataset writer (:func:`psfusion.fusing.fuse_dataset`) into
``WORK_DIR/fused/<name>/``, both the dataset's training and test splits, in the dataset's own
layout and with its ``manifest.json`` (method, ``params``/``macs``, every file's checksum).  A
later call finds the folder complete and fuses nothing; an interrupted one continues where it
stopped (the writer verifies and skips finished files).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

from ..data.layouts import layout_class
from .run_paths import WorkDir
from .sources import Source

Log = Callable[[str], None]


def materialize_source(source: Source, dataset: str, data_root: str, work: WorkDir,
                       log: Log = print) -> Source:
    """The source with its folder: a built-in method's images fused (where not yet) into
    ``WORK_DIR/fused/<name>/``; any other source is returned unchanged."""
    if not source.is_builtin:
        return source
    from ..fusing import fuse_dataset

    layout = layout_class(dataset)
    out = work.fused_dir(source.name)
    summary = fuse_dataset(source.method, data_root, dataset, out,
                           split=[layout.train_split, layout.test_split], progress=False)
    if summary.written:
        log(f'built-in source {source.name}: fused {summary.written} pairs into {out} '
            f'({summary.seconds:.1f} s, {summary.skipped} already there)')
    else:
        log(f'built-in source {source.name}: {out} complete ({summary.skipped} pairs)')
    return dataclasses.replace(source, folder=out)


def materialize_sources(sources: Sequence[Source], dataset: str, data_root: str,
                        work: WorkDir, log: Log = print) -> list[Source]:
    """:func:`materialize_source` for each source, in order."""
    return [materialize_source(source, dataset, data_root, work, log) for source in sources]
