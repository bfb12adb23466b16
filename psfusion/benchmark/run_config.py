"""The training config of one benchmark run, and its hash.

:func:`build_run_config` checks that the segmenter takes the source (feature-level segmenters
take ``rgbt`` only: :func:`.catalog.check_input`), reads
``mmseg_configs/<segmenter>_<dataset>.py`` and applies, in this
order: a named schedule (:func:`apply_schedule`), the smoke-run overrides (image size, loop
length, batch size, workers), ``--cfg-options``, the source (dataset root, source kind, fused
folder), the seed, the pretrained-backbone decision (:mod:`.pretrained`) and the source's own
mean/std over its training images (:mod:`.stats`; four values, R, G, B, T, for ``rgbt``: the
dataset then reads both modalities and distorts only the visible channels' colours, see
:mod:`.transforms`).  Validation during training is off, and the
segmenter trains on the whole training split (the configs' validation hold-out is dropped:
:func:`.datasets.disable_validation`): the test split is evaluated once, with the final weights,
so no choice is made on test data.

:func:`config_hash` identifies the recipe, i.e. only what changes the trained model or its test
result (:func:`recipe`): the model (with the per-source mean/std and the pretrained checkpoint's
identity, not its path), optimiser, LR schedule, loop length, the datasets' pipelines and
options, batch size and sampler, test-time augmentation pipeline, custom hooks and the seed.
Workers, logging and checkpoint intervals, paths and names stay out, so the same recipe on
another machine, folder or worker count has the same hash and a finished run is recognised.
The number of processes stays out too: the run config holds the **total** training batch (split
over the processes only in the Runner's config, :func:`.distributed.distribute`), and SyncBN
counts as BN (:func:`recipe`).  bf16 mixed precision (``--amp``: :func:`apply_amp`) changes the
optimiser wrapper, so it is another recipe with another hash.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from mmengine.config import Config, ConfigDict

from ..engine.amp import apply_amp  # noqa: F401  (re-exported: the benchmark's --amp)
from .datasets import disable_validation  # (also registers the datasets)
from . import transforms as _transforms  # noqa: F401  (registers the transforms)
from ..config_options import apply_cfg_options
from ..errors import ConfigError
from .catalog import check_input, config_path, default_config_dir
from .pretrained import resolve_pretrained
from .results import RunKey
from .run_paths import WorkDir
from .sources import Source
from .stats import source_statistics

Log = Callable[[str], None]
#: Named schedules: files in ``<config dir>/_base_/schedules/``.  ``cmx`` is CMX's own MFNet
#: recipe (``cmx.py``), for training any segmenter as the feature-level reference trained.
SCHEDULES = {'160k': 'schedule_160k.py', 'quick': 'quick.py', 'cmx': 'cmx.py'}
#: The keys a schedule file defines; :func:`apply_schedule` replaces them wholesale.
SCHEDULE_KEYS = ('optim_wrapper', 'param_scheduler', 'train_cfg', 'default_hooks')
#: Optional keys of a schedule file whose recipe also fixes the training batch and
#: augmentation (``cmx.py``): ``train_batch_size`` replaces the training loader's batch size,
#: ``train_pipeline_steps`` changes steps of the training pipeline by type
#: (:func:`change_pipeline_steps`).  The schedules without them leave the data as it is.
SCHEDULE_DATA_KEYS = ('train_batch_size', 'train_pipeline_steps')
#: The top-level keys that make the recipe (:func:`recipe`); everything else (``work_dir``,
#: ``default_hooks``, ``log_processor``, ``env_cfg``, ``visualizer``, ``custom_imports``,
#: ``pretrained_decision``, the config layers' variables...) does not change what is trained.
RECIPE_KEYS = ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'train_dataloader',
               'test_dataloader', 'test_evaluator', 'tta_pipeline', 'tta_model', 'custom_hooks',
               'randomness')
#: Dataloader settings that change speed, not results.
_LOADER_RUNTIME_KEYS = ('num_workers', 'persistent_workers', 'pin_memory', 'prefetch_factor')
#: Loop settings that only say when to validate.
_LOOP_RUNTIME_KEYS = ('val_interval', 'val_begin', 'dynamic_intervals')
#: The schedule a config was given (:func:`apply_schedule`); a schedule file may name itself
#: with a top-level ``schedule_name``; otherwise ``'config'``.
SCHEDULE_NAME_KEY = 'schedule_name'
_PATH_KEYS = ('data_root', 'fused_root')


@dataclass(frozen=True)
class RunSpec:
    """What to run: the result's key and the source whose images the segmenter sees.

    ``key.source`` is the source's name; ``source`` says what it reads (``ir``, ``vi``,
    ``rgbt`` or a folder of fused images)."""
    key: RunKey
    source: Source

    def __post_init__(self) -> None:
        if self.key.source != self.source.name:
            raise ValueError(f'run key names source {self.key.source!r} but the source is '
                             f'{self.source.name!r}')

    @classmethod
    def of(cls, dataset: str, segmenter: str, source: Source, seed: int = 0,
           tta: bool = False) -> 'RunSpec':
        return cls(RunKey(dataset, segmenter, source.name, int(seed), bool(tta)), source)


@dataclass
class RunOptions:
    """How to run it.

    Attributes:
        data_root: the original dataset (images and labels).
        work_dir: benchmark folder (results store, run folders, caches; :mod:`.run_paths`).
        schedule: ``'160k'``, ``'quick'``, ``'cmx'`` or None (the config's own).
        pretrained: ``'on'``, ``'auto'`` or ``'off'`` (:func:`.pretrained.resolve_pretrained`).
        config_dir: folder of the mmseg configs (default: :func:`.catalog.default_config_dir`).
        workers: DataLoader workers (default: the config's).
        batch_size, max_iters, image_size: overrides for smoke runs; ``image_size`` is
            ``(h, w)`` and sets the crop, the resize scales and the preprocessor size.
        cfg_options: further ``key.sub=value`` overrides, as mmengine's ``merge_from_dict``.
        launcher: ``'none'``, ``'pytorch'`` or ``'slurm'``: the run trains data-parallel over
            the launcher's processes (:mod:`.distributed`); not part of the recipe.
        amp: train with bf16 autocast (:func:`apply_amp`); part of the recipe.
    """
    data_root: str
    work_dir: str
    schedule: Optional[str] = None
    pretrained: str = 'on'
    config_dir: Optional[str] = None
    workers: Optional[int] = None
    batch_size: Optional[int] = None
    max_iters: Optional[int] = None
    image_size: Optional[Sequence[int]] = None
    cfg_options: dict = field(default_factory=dict)
    launcher: str = 'none'
    amp: bool = False


@functools.lru_cache(maxsize=32)
def _parsed_config(path: str, mtime_ns: int) -> Config:
    return Config.fromfile(path)


def load_config(path: str) -> Config:
    """``Config.fromfile(path)``, parsed once per process and file version; each call returns
    a copy to change freely.  (Parsing a config with ``mmseg::`` bases takes seconds, and a
    benchmark invocation reads the same config and schedule for every source and seed.)"""
    path = os.path.abspath(str(path))
    return copy.deepcopy(_parsed_config(path, os.stat(path).st_mtime_ns))


def schedule_file(name: str, config_dir: Optional[str] = None,
                  segmenter: Optional[str] = None) -> str:
    """The file of a named schedule: ``<config dir>/_base_/schedules/<segmenter>_<name>.py``
    where the segmenter has its own version of it (e.g. ``segformer_b2_160k.py``: the paper's
    160k schedule at the authors' SegFormer-B2 learning rate), else the shared one
    (``schedule_160k.py``, ``quick.py``)."""
    file_name = SCHEDULES.get(name)
    if file_name is None:
        raise ValueError(f'unknown schedule {name!r}; valid: {", ".join(SCHEDULES)}')
    folder = os.path.join(str(config_dir) if config_dir else str(default_config_dir()),
                          '_base_', 'schedules')
    if segmenter:
        own = os.path.join(folder, f'{segmenter}_{name}.py')
        if os.path.isfile(own):
            return own
    path = os.path.join(folder, file_name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: schedule {name!r} not found. Point --config-dir (or '
                                f"PSFUSION_MMSEG_CONFIGS) at the repository's mmseg_configs/.")
    return path


def _without_delete_markers(value):
    if isinstance(value, dict):
        return {k: _without_delete_markers(v) for k, v in value.items() if k != '_delete_'}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_delete_markers(v) for v in value)
    return value


def change_pipeline_steps(pipeline: list, changes: dict, owner: str = 'schedule') -> list:
    """``pipeline`` with its top-level steps changed by type: ``changes`` maps a step type to
    ``None`` (the step is dropped), a dict with a ``type`` (the step is replaced by it) or a dict
    without one (its values update the step's arguments).  Types the pipeline lacks are skipped
    (the synthetic configs have no rescaling, crop or photometric step); an unknown kind of
    change raises a ConfigError naming ``owner``."""
    out = []
    for step in pipeline:
        kind = step.get('type') if isinstance(step, dict) else None
        if kind not in changes:
            out.append(step)
            continue
        change = changes[kind]
        if change is None:
            continue
        if not isinstance(change, dict):
            raise ConfigError(f'{owner}: train_pipeline_steps[{kind!r}] must be None or a '
                              f'dict, got {change!r}')
        out.append(ConfigDict(copy.deepcopy(dict(change))) if 'type' in change else
                   ConfigDict({**copy.deepcopy(dict(step)), **copy.deepcopy(dict(change))}))
    return out


def apply_schedule(cfg: Config, name: str, config_dir: Optional[str] = None,
                   segmenter: Optional[str] = None) -> None:
    """Replace the optimiser, LR schedule, loop and hooks (:data:`SCHEDULE_KEYS`) by those of a
    named schedule file (the segmenter's own version where it has one: :func:`schedule_file`),
    wholesale: nothing of the config's own schedule remains.  A schedule that also fixes the
    training batch or augmentation (:data:`SCHEDULE_DATA_KEYS`) sets them too."""
    path = schedule_file(name, config_dir, segmenter)
    schedule = load_config(path)
    missing = [key for key in SCHEDULE_KEYS if key not in schedule]
    if missing:
        raise ValueError(f'{path}: a schedule defines {", ".join(SCHEDULE_KEYS)} at top level; '
                         f'missing: {", ".join(missing)}')
    # ConfigDict turns nested dicts (also inside lists) into attribute-accessible ones.
    replacement = ConfigDict(_without_delete_markers(
        {key: schedule.to_dict()[key] for key in SCHEDULE_KEYS}))
    for key in SCHEDULE_KEYS:
        cfg[key] = replacement[key]
    if schedule.get('train_batch_size') is not None:
        cfg.train_dataloader.batch_size = int(schedule.train_batch_size)
    if schedule.get('train_pipeline_steps'):
        dataset = cfg.train_dataloader.dataset
        dataset.pipeline = change_pipeline_steps(
            dataset.pipeline, _without_delete_markers(schedule.to_dict()['train_pipeline_steps']),
            path)
    cfg[SCHEDULE_NAME_KEY] = name


def schedule_name(cfg: Config) -> str:
    """The schedule's name (``'160k'``, ``'quick'``, ``'80k'``...) or ``'config'`` when the
    config's own schedule does not name itself."""
    return str(cfg.get(SCHEDULE_NAME_KEY) or 'config')


def apply_max_iters(cfg: Config, max_iters: int) -> None:
    """Shorten (or lengthen) the loop, scaling the LR schedule's milestones to match."""
    if max_iters < 1:
        raise ValueError(f'max_iters must be >= 1, got {max_iters}')
    old = cfg.train_cfg.max_iters
    ratio = max_iters / old
    for scheduler in cfg.param_scheduler:
        begin = min(int(round(scheduler.get('begin', 0) * ratio)), max_iters - 1)
        end = min(max(int(round(scheduler.get('end', old) * ratio)), begin + 1), max_iters)
        scheduler.begin, scheduler.end = begin, end
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    checkpoint = cfg.default_hooks.checkpoint
    checkpoint.interval = min(checkpoint.interval, max_iters)


def _pipelines(cfg: Config) -> list:
    pipelines = [cfg.train_dataloader.dataset.pipeline, cfg.test_dataloader.dataset.pipeline]
    if cfg.get('tta_pipeline'):
        pipelines.append(cfg.tta_pipeline)
    return pipelines


def apply_image_size(cfg: Config, size_hw: Sequence[int]) -> None:
    """Train and test at ``(h, w)``: crop, resize scales and the preprocessor's pad size."""
    h, w = (int(v) for v in size_hw)
    for pipeline in _pipelines(cfg):
        for step in pipeline:
            if step['type'] in ('RandomResize', 'Resize') and 'scale' in step:
                step['scale'] = (w, h)
            elif step['type'] == 'RandomCrop':
                step['crop_size'] = (h, w)
    cfg.crop_size = (h, w)
    cfg.model.data_preprocessor.size = (h, w)


def set_source(cfg: Config, source: Source, data_root: str) -> None:
    """Point the train and test datasets at ``data_root`` read through ``source``."""
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        dataset.data_root = data_root
        dataset.source = source.kind
        dataset.fused_root = source.folder


def set_workers(cfg: Config, workers: int) -> None:
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = workers
        cfg[loader].persistent_workers = workers > 0


def build_dataset(cfg: Config, loader: str = 'train_dataloader'):
    """The dataset of ``cfg[loader]`` without its pipeline (lists files, reads no image):
    its ``data_list`` items (``img_path``, ``img_modality``, ``img_channels``, ...) and
    ``metainfo`` (``classes``, ...)."""
    from mmseg.registry import DATASETS

    dataset_cfg = copy.deepcopy(cfg[loader].dataset)
    dataset_cfg.pipeline = []
    dataset_cfg.serialize_data = False
    return DATASETS.build(dataset_cfg)


def training_items(cfg: Config) -> list[dict]:
    """``img_path``, ``img_modality`` and ``img_channels`` of every training sample (and for
    ``rgbt`` its infrared ``ir_path`` and ``ir_channels``)."""
    keys = ('img_path', 'img_modality', 'img_channels', 'ir_path', 'ir_channels')
    return [{key: item[key] for key in keys if key in item}
            for item in build_dataset(cfg, 'train_dataloader').data_list]


def checkpoint_identity(checkpoint: str) -> str:
    """A pretrained checkpoint as the recipe sees it: its file name and size in bytes
    (``name:size``; a URL not downloaded yet counts by its name alone), not where it lies."""
    name = os.path.basename(str(checkpoint).split('?')[0])
    candidates = [str(checkpoint)]
    if str(checkpoint).startswith(('http://', 'https://')):
        from .pretrained import hub_dir
        candidates.append(os.path.join(hub_dir(), name))
    for path in candidates:
        if os.path.isfile(path):
            return f'{name}:{os.path.getsize(path)}'
    return name


def _with_checkpoint_identities(value):
    """``value`` with every ``checkpoint``/``pretrained`` path replaced by its identity."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ('checkpoint', 'pretrained') and isinstance(item, str) and item:
                out[key] = checkpoint_identity(item)
            else:
                out[key] = _with_checkpoint_identities(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_with_checkpoint_identities(item) for item in value]
    return value


def _placeholder_paths(data: dict, loaders: Sequence[str]) -> None:
    """Replace the datasets' ``data_root``/``fused_root`` of ``loaders`` by placeholders."""
    for loader in loaders:
        dataset = (data.get(loader) or {}).get('dataset') or {}
        for key in _PATH_KEYS:
            if dataset.get(key):
                dataset[key] = f'<{key}>'


#: Synchronised BatchNorm types: BN's recipe over several processes.
_SYNC_BN_TYPES = ('SyncBN', 'psfusion.AllReduceSyncBN')


def _syncbn_as_bn(value):
    """``value`` with every synchronised BN type (:data:`_SYNC_BN_TYPES`) made ``'BN'`` (the
    same recipe)."""
    if isinstance(value, dict):
        out = {key: _syncbn_as_bn(item) for key, item in value.items()}
        if out.get('type') in _SYNC_BN_TYPES:
            out['type'] = 'BN'
        return out
    if isinstance(value, (list, tuple)):
        return [_syncbn_as_bn(item) for item in value]
    return value


def recipe(cfg: Config) -> dict:
    """The part of a run config that changes the trained model or its test result
    (:data:`RECIPE_KEYS`), with runtime-only settings, ``_delete_`` markers, dataset paths and
    checkpoint locations taken out, and SyncBN written as BN."""
    data = _without_delete_markers(copy.deepcopy(cfg.to_dict()))
    out = {key: data[key] for key in RECIPE_KEYS if data.get(key) is not None}
    for loader in ('train_dataloader', 'test_dataloader'):
        for key in _LOADER_RUNTIME_KEYS:
            (out.get(loader) or {}).pop(key, None)
    _placeholder_paths(out, ('train_dataloader', 'test_dataloader'))
    if 'model' in out:  # SyncBN over N processes computes BN's statistics of the total batch
        out['model'] = _syncbn_as_bn(out['model'])
    for key in _LOOP_RUNTIME_KEYS:
        (out.get('train_cfg') or {}).pop(key, None)
    evaluator = out.get('test_evaluator')
    if isinstance(evaluator, dict):
        evaluator.pop('pred_dir', None)
        evaluator.pop('output_dir', None)
    return _with_checkpoint_identities(out)


def config_hash(cfg: Config) -> str:
    """sha256 (16 hex digits) of :func:`recipe`."""
    text = json.dumps(recipe(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: What the hash of stores written before :func:`recipe` existed left out.
_LEGACY_BOOKKEEPING_KEYS = ('work_dir', 'experiment_name', 'load_from', 'resume', 'launcher',
                            'pretrained_decision', 'custom_imports')


def legacy_config_hash(cfg: Config) -> str:
    """The hash stores written before :func:`recipe` existed used (the whole config but paths
    and names), so their finished runs are still recognised and their partial runs resumed."""
    data = copy.deepcopy(cfg.to_dict())
    for key in _LEGACY_BOOKKEEPING_KEYS:
        data.pop(key, None)
    data.pop(SCHEDULE_NAME_KEY, None)
    _placeholder_paths(data, ('train_dataloader', 'test_dataloader', 'val_dataloader'))
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_run_config(spec: RunSpec, options: RunOptions, log: Log = print) -> Config:
    """The training config of a run (see the module docstring).

    ``cfg.pretrained_decision`` records what :func:`.pretrained.resolve_pretrained` decided
    (for the log; not part of the hash, not given to the Runner).
    """
    key = spec.key
    check_input(key.segmenter, spec.source)  # feature-level: rgbt only; image-level: not rgbt
    cfg = load_config(str(config_path(key.segmenter, key.dataset, options.config_dir)))
    if options.schedule:
        apply_schedule(cfg, options.schedule, options.config_dir, key.segmenter)
    if options.image_size:
        apply_image_size(cfg, options.image_size)
    if options.max_iters:
        apply_max_iters(cfg, options.max_iters)
    if options.batch_size:
        cfg.train_dataloader.batch_size = options.batch_size
    if options.workers is not None:
        set_workers(cfg, options.workers)
    if options.amp:
        apply_amp(cfg)
    if options.cfg_options:  # unknown keys, and variables others were computed from, refused
        apply_cfg_options(cfg, options.cfg_options)
    set_source(cfg, spec.source, options.data_root)
    disable_validation(cfg)  # and train on the whole training split, as the paper does
    cfg.randomness = dict(seed=key.seed, deterministic=False)
    cfg.pretrained_decision = resolve_pretrained(cfg, options.pretrained, log)
    cfg.launcher = options.launcher  # the Runner's config splits the batch (.distributed)
    # 3 values (RGB), or 4 for rgbt: the visible source's 3, then the infrared source's 1
    stats = source_statistics(training_items(cfg), WorkDir(options.work_dir).stats_cache)
    cfg.model.data_preprocessor.mean = stats['mean']
    cfg.model.data_preprocessor.std = stats['std']
    return cfg
