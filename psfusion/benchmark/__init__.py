"""The downstream segmentation benchmark: does segmenting a method's fused images beat
segmenting either source image, and how close does it come to feature-level fusion?

* :mod:`.sources` - input sources (``ir``, ``vi``, ``NAME=DIR`` fused folders) and where a
  folder's fused images are found;
* :mod:`.datasets`, :mod:`.transforms` - mmseg datasets (MSRS, MFNet, synthetic) read through one
  source, labels always from the original dataset;
* :mod:`.stats` - per-source mean/std on the training split, cached;
* :mod:`.catalog` - segmenters, datasets and their ``mmseg_configs/`` files;
* :mod:`.runs` - one Runner per (segmenter, source, seed): skip, resume, evaluate, store;
* :mod:`.results` - the CSV results store (atomic appends);
* :mod:`.tables`, :mod:`.report`, :mod:`.figures` - the paper's tables and the qualitative
  figure; :mod:`.reported` - the paper's numbers, always marked "reported";
* :mod:`.complexity` - parameters and FLOPs; :mod:`.baselines` - the average-fusion baseline.

The per-class metric is :class:`psfusion.metrics.segmentation.PerClassIoUMetric`.
"""
from .catalog import DATASETS, PAPER_SEGMENTERS, SEGMENTERS, config_path, parse_segmenters
from .datasets import MFNetSegDataset, MSRSSegDataset, SyntheticSegDataset
from .results import COLUMNS, append_result, read_results
from .runs import RunOptions, RunSpec, run_benchmark
from .sources import Source, parse_source, parse_sources, resolve_fused_images
from .transforms import LoadClassIdLabel, LoadSourceImage

__all__ = [
    'DATASETS', 'PAPER_SEGMENTERS', 'SEGMENTERS', 'config_path', 'parse_segmenters',
    'MFNetSegDataset', 'MSRSSegDataset', 'SyntheticSegDataset', 'COLUMNS', 'append_result',
    'read_results', 'RunOptions', 'RunSpec', 'run_benchmark', 'Source', 'parse_source',
    'parse_sources', 'resolve_fused_images', 'LoadClassIdLabel', 'LoadSourceImage'
]
