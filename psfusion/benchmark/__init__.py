"""The downstream segmentation benchmark: does segmenting a method's fused images beat
segmenting either source image, and how close does it come to feature-level fusion?

* :mod:`.sources` - input sources (``ir``, ``vi``, ``NAME=DIR`` fused folders, ``rgbt`` for
  the feature-level segmenters) and where a folder's fused images are found;
* :mod:`.datasets`, :mod:`.transforms` - mmseg datasets (MSRS, MFNet, FMB, synthetic) read
  through one source, labels and classes from the original dataset; the ``rgbt`` pipeline;
* :mod:`.stats` - per-source mean/std on the training split, cached;
* :mod:`.catalog` - segmenters (image-level and feature-level), datasets, their
  ``mmseg_configs/`` files, and which segmenter takes which source;
* :mod:`.defaults` - the mission command's defaults (dataset, data root, registered fused
  sources); :mod:`.plan` - runs, states and GPU-hour estimates (``--plan``, ``--status``);
  :mod:`.preflight` - every check before the first run trains;
* :mod:`.run_config` - the training config of a run (schedule, overrides, source, seed,
  pretrained decision from :mod:`.pretrained`, mean/std) and its hash;
* :mod:`.run_paths` - the work folder: results store, ``sources.json``, ``complexity.json``,
  caches and run folders, each path named in one place;
* :mod:`.runner` - one mmengine Runner per run: skip, train or resume, evaluate, store (a
  failure is recorded in the run folder); :mod:`.evaluate_only` with
  :mod:`.legacy_checkpoints` - ``--load-from``: a trained checkpoint (also mmseg 0.x / NVIDIA
  SegFormer layouts) evaluated without training;
* :mod:`.results` - the CSV results store (:class:`~.results.RunKey`, atomic appends);
* :mod:`.tables`, :mod:`.report`, :mod:`.figures` - the paper's tables and the qualitative
  figure; :mod:`.reported` - the paper's numbers, always marked "reported".

Parameters and MACs come from :mod:`psfusion.complexity`; the per-class metric is
:class:`psfusion.metrics.segmentation.PerClassIoUMetric`.
"""
from .catalog import DATASETS, PAPER_SEGMENTERS, SEGMENTERS, config_path, parse_segmenters
from .datasets import FMBSegDataset, MFNetSegDataset, MSRSSegDataset, SyntheticSegDataset
from .results import RunKey, append_result, read_results
from .run_config import RunOptions, RunSpec
from .runner import run_benchmark
from .sources import Source, parse_source, parse_sources, resolve_fused_images
from .transforms import LoadClassIdLabel, LoadSourceImage

__all__ = [
    'DATASETS', 'PAPER_SEGMENTERS', 'SEGMENTERS', 'config_path', 'parse_segmenters',
    'FMBSegDataset', 'MFNetSegDataset', 'MSRSSegDataset', 'SyntheticSegDataset', 'RunKey',
    'append_result', 'read_results', 'RunOptions', 'RunSpec', 'run_benchmark', 'Source',
    'parse_source', 'parse_sources', 'resolve_fused_images', 'LoadClassIdLabel',
    'LoadSourceImage'
]
