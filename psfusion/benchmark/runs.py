"""One benchmark run: train a segmenter on one source's training split, evaluate on the test
split, append the result row.

A run is identified by (dataset, segmenter, source, seed) and the hash of its training config
(paths left out).  Its folder is ``WORK/runs/<segmenter>/<source>/seed<seed>-<hash8>/``:

* a finished run (a row with the same key and hash in ``WORK/results.csv``) is skipped;
* a run whose final checkpoint exists is only evaluated (e.g. ``--tta`` after a plain run);
* an interrupted run resumes from its last checkpoint (mmengine ``resume``).

Validation during training is off: the test split is evaluated once, with the final weights,
so no choice is made on test data.  Test predictions are written as class-id PNGs to the run
folder (``preds/`` or ``preds_tta/``) for the qualitative figure.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import pprint
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from mmengine.config import Config

from . import datasets as _datasets  # noqa: F401  (registers the datasets)
from . import transforms as _transforms  # noqa: F401  (registers the transforms)
from ..metrics import segmentation as _segmentation  # noqa: F401  (registers the metric)
from .catalog import TTA_SUFFIX, config_path
from .checkpoints import trust_checkpoints_under
from .complexity import segmenter_complexity
from .results import append_result, find_result, locked, read_results, row_from_metrics
from .sources import Source
from .stats import source_statistics

RESULTS_FILE = 'results.csv'
SOURCES_FILE = 'sources.json'
COMPLEXITY_FILE = 'complexity.json'
PRETRAINED_MODES = ('auto', 'on', 'off')
Log = Callable[[str], None]


@dataclass(frozen=True)
class RunSpec:
    """What to run: a segmenter on one source of a dataset, with one seed."""
    dataset: str
    segmenter: str
    source: Source
    seed: int = 0
    tta: bool = False

    @property
    def result_segmenter(self) -> str:
        return self.segmenter + (TTA_SUFFIX if self.tta else '')


@dataclass
class RunOptions:
    """How to run it.

    Attributes:
        data_root: the original dataset (images and labels).
        work_dir: benchmark folder (results store, run folders, caches).
        schedule: ``'160k'``, ``'quick'`` or None (the config's own).
        pretrained: ``'on'`` (use the backbone checkpoint; stop if it cannot be reached),
            ``'auto'`` (use it if reachable, else train from scratch) or ``'off'``.
        config_dir: folder of the mmseg configs (default: the repository's).
        workers: DataLoader workers (default: the config's).
        batch_size, max_iters, image_size: overrides for smoke runs; ``image_size`` is
            ``(h, w)`` and sets the crop, the resize scales and the preprocessor size.
        cfg_options: further ``key.sub=value`` overrides, as mmengine's ``merge_from_dict``.
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


# ----------------------------------------------------------------------------------------
# Building the config of a run
# ----------------------------------------------------------------------------------------
def apply_schedule(cfg: Config, name: str, config_dir: Optional[str] = None) -> None:
    """Replace the optimiser, LR schedule, loop length and hooks by a named schedule file
    (``mmseg_configs/_base_/schedules/{schedule_160k,quick}.py``)."""
    folder = os.path.dirname(str(config_path('segformer_b2', 'msrs', config_dir)))
    file_name = {'160k': 'schedule_160k.py', 'quick': 'quick.py'}.get(name)
    if file_name is None:
        raise ValueError(f"unknown schedule {name!r}; valid: 160k, quick")
    settings = Config.fromfile(os.path.join(folder, '_base_', 'schedules',
                                            file_name)).schedule_settings
    cfg.merge_from_dict({key: value for key, value in settings.items() if key != 'name'})
    cfg.schedule_settings = settings


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


def training_items(cfg: Config) -> list[dict]:
    """``img_path``/``img_kind`` of every training sample (no image is read)."""
    from mmseg.registry import DATASETS

    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.pipeline = []
    dataset_cfg.serialize_data = False
    dataset = DATASETS.build(dataset_cfg)
    return [dict(img_path=item['img_path'], img_kind=item['img_kind'])
            for item in dataset.data_list]


def _checkpoint_reachable(checkpoint: str, timeout: float = 5.0) -> bool:
    if os.path.isfile(checkpoint):
        return True
    if not checkpoint.startswith(('http://', 'https://')):
        return False
    import torch.hub

    cached = os.path.join(torch.hub.get_dir(), 'checkpoints', os.path.basename(checkpoint))
    if os.path.isfile(cached):
        return True
    try:
        request = urllib.request.Request(checkpoint, method='HEAD')
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status < 400
    except (OSError, ValueError):
        return False


class PretrainedUnavailable(RuntimeError):
    """The segmenter's pretrained backbone checkpoint cannot be read (``--pretrained on``)."""


def resolve_pretrained(cfg: Config, mode: str, log: Log = print) -> str:
    """Keep or drop the backbone's pretrained checkpoint; returns what was decided.

    ``on`` (the tool's default) insists on the checkpoint and stops before training when it
    cannot be reached; ``auto`` trains from scratch then (with a warning); ``off`` always does.
    """
    if mode not in PRETRAINED_MODES:
        raise ValueError(f'unknown --pretrained {mode!r}; valid: {", ".join(PRETRAINED_MODES)}')
    init_cfg = cfg.model.backbone.get('init_cfg')
    checkpoint = init_cfg.get('checkpoint') if init_cfg else None
    if not checkpoint:
        return 'none in config (trained from scratch)'
    if mode in ('on', 'auto') and _checkpoint_reachable(checkpoint):
        return f'on: {checkpoint}'
    if mode == 'on':
        raise PretrainedUnavailable(
            f'the pretrained backbone {checkpoint} cannot be reached from this machine. '
            f'Download it elsewhere and copy it to {_hub_dir()}/{os.path.basename(checkpoint)} '
            f'(or pass --cfg-options model.backbone.init_cfg.checkpoint=PATH), or run '
            f'--pretrained off to train from scratch (numbers then not comparable with the '
            f"paper's).")
    cfg.model.backbone.init_cfg = None
    if mode == 'auto':
        log(f'pretrained backbone {checkpoint} cannot be reached: training from scratch '
            f'(numbers are then not comparable with the paper\'s; use --pretrained on to '
            f'insist, or place the file in {_hub_dir()})')
        return 'off (unreachable)'
    return 'off'


def _hub_dir() -> str:
    import torch.hub

    return os.path.join(torch.hub.get_dir(), 'checkpoints')


def config_hash(cfg: Config) -> str:
    """sha256 of the training config without machine-specific paths and names."""
    data = copy.deepcopy(cfg.to_dict())
    for key in ('work_dir', 'experiment_name', 'load_from', 'resume', 'launcher',
                'pretrained_decision'):
        data.pop(key, None)
    for loader in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        dataset = (data.get(loader) or {}).get('dataset') or {}
        for key in ('data_root', 'fused_root'):
            if dataset.get(key):
                dataset[key] = f'<{key}>'
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_run_config(spec: RunSpec, options: RunOptions, log: Log = print) -> Config:
    """The training config of a run (see the module docstring); sets the per-source mean/std."""
    cfg = Config.fromfile(str(config_path(spec.segmenter, spec.dataset, options.config_dir)))
    if options.schedule:
        apply_schedule(cfg, options.schedule, options.config_dir)
    if options.image_size:
        apply_image_size(cfg, options.image_size)
    if options.max_iters:
        apply_max_iters(cfg, options.max_iters)
    if options.batch_size:
        cfg.train_dataloader.batch_size = options.batch_size
    if options.workers is not None:
        set_workers(cfg, options.workers)
    if options.cfg_options:
        cfg.merge_from_dict(options.cfg_options)
    set_source(cfg, spec.source, options.data_root)
    # No validation while training: the test split is evaluated once, at the end.
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.randomness = dict(seed=spec.seed, deterministic=False)
    cfg.pretrained_decision = resolve_pretrained(cfg, options.pretrained, log)
    stats = source_statistics(training_items(cfg), os.path.join(options.work_dir, 'cache'))
    cfg.model.data_preprocessor.mean = stats['mean']
    cfg.model.data_preprocessor.std = stats['std']
    return cfg


# ----------------------------------------------------------------------------------------
# Running it
# ----------------------------------------------------------------------------------------
class PlainTextConfig(Config):
    """A Config whose text form skips mmengine's yapf formatting.

    A Runner renders its config as text four to five times (log, dump, visualizer, message
    hub); yapf takes seconds per rendering of these configs, more than a whole quick
    training run on small images.  The plain form is still a valid Python config file.
    """

    @property
    def pretty_text(self) -> str:
        return '\n'.join(f'{key} = {pprint.pformat(value, width=100, sort_dicts=False)}'
                          for key, value in self.to_dict().items()) + '\n'


def _runner_config(cfg: Config) -> PlainTextConfig:
    """A copy for a Runner: without the layers' bookkeeping keys, with plain text."""
    data = copy.deepcopy(cfg.to_dict())
    for key in ('data_settings', 'schedule_settings', 'train_pipeline', 'test_pipeline',
                'dataset_type', 'data_root', 'img_ratios'):
        data.pop(key, None)
    return PlainTextConfig(data, filename=cfg.filename)


def run_dir(spec: RunSpec, work_dir: str, chash: str) -> str:
    return os.path.join(work_dir, 'runs', spec.segmenter, spec.source.name,
                        f'seed{spec.seed}-{chash[:8]}')


def prediction_dir(work_dir: str, row: dict) -> str:
    """Where the run of a results row wrote its test predictions (class-id PNGs)."""
    segmenter = str(row['segmenter'])
    tta = segmenter.endswith(TTA_SUFFIX)
    base = segmenter[:-len(TTA_SUFFIX)] if tta else segmenter
    return os.path.join(work_dir, 'runs', base, str(row['source']),
                        f"seed{int(row['seed'])}-{str(row['config_hash'])[:8]}",
                        'preds_tta' if tta else 'preds')


def _read_json(path: str, default):
    if not os.path.isfile(path):
        return default
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def _write_json(path: str, data) -> None:
    tmp = path + '.tmp'
    with open(path + '.tmp', 'w', encoding='utf-8') as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _runner_cfg(cfg: Config, spec: RunSpec, folder: str, phase: str) -> PlainTextConfig:
    """The config a Runner gets for ``phase`` (``'train'`` or ``'test'``) of a run."""
    out = _runner_config(cfg)
    out.work_dir = folder
    out.experiment_name = (f'{spec.segmenter}_{spec.source.name}_seed{spec.seed}_{phase}_'
                           f'{time.strftime("%Y%m%d_%H%M%S")}_{time.time_ns() % 10**6}')
    tta = spec.tta and phase == 'test'
    out.test_evaluator = dict(type='psfusion.PerClassIoUMetric',
                              pred_dir=os.path.join(folder, 'preds_tta' if tta else 'preds'))
    if tta:
        out.test_dataloader.dataset.pipeline = out.tta_pipeline
        out.model = dict(type='SegTTAModel', module=out.model)
    return out


def train_if_needed(cfg: Config, spec: RunSpec, folder: str,
                    log: Log = print) -> tuple[str, Optional[object]]:
    """Train (or resume) in ``folder`` unless the final checkpoint exists.

    Returns the final checkpoint and the Runner that trained it (None when nothing was
    trained), which can then test without being built again.  Training time accumulates over
    resumed sessions in ``folder/train_seconds.json``.
    """
    from mmengine.runner import Runner

    final = os.path.join(folder, f'iter_{cfg.train_cfg.max_iters}.pth')
    if os.path.isfile(final):
        log(f'  trained already: {final}')
        return final, None
    run_cfg = _runner_cfg(cfg, spec, folder, 'train')
    last = os.path.join(folder, 'last_checkpoint')
    run_cfg.resume, run_cfg.load_from = os.path.isfile(last), None
    if run_cfg.resume:
        with open(last, encoding='utf-8') as handle:
            log(f'  resuming from {handle.read().strip()}')
    seconds_file = os.path.join(folder, 'train_seconds.json')
    start = time.perf_counter()
    try:
        runner = Runner.from_cfg(run_cfg)
        runner.train()
    finally:
        os.makedirs(folder, exist_ok=True)
        spent = _read_json(seconds_file, {'seconds': 0.0})['seconds']
        _write_json(seconds_file, {'seconds': spent + time.perf_counter() - start})
    if not os.path.isfile(final):
        raise RuntimeError(f'training finished but {final} is missing; check the checkpoint '
                           f'hook settings (save_last=True)')
    return final, runner


def evaluate(cfg: Config, spec: RunSpec, checkpoint: str, folder: str,
             runner: Optional[object] = None) -> tuple[dict, object]:
    """Test on the test split; returns the metrics and the tested model.

    ``runner`` (the one that just trained) is reused unless test-time augmentation needs a
    wrapped model; otherwise a test Runner loads ``checkpoint``.
    """
    from mmengine.runner import Runner

    if runner is None or spec.tta:
        run_cfg = _runner_cfg(cfg, spec, folder, 'test')
        for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
            run_cfg[key] = None
        run_cfg.load_from, run_cfg.resume = checkpoint, False
        runner = Runner.from_cfg(run_cfg)
    metrics = runner.test()
    return dict(metrics), runner.model


def test_image_size(cfg: Config) -> tuple[int, int]:
    """``(h, w)`` of the first test image (the size FLOPs are counted at)."""
    from mmseg.registry import DATASETS

    from .transforms import read_source_rgb

    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset_cfg.pipeline = []
    dataset_cfg.serialize_data = False
    item = DATASETS.build(dataset_cfg).data_list[0]
    return read_source_rgb(item['img_path'], item['img_kind']).shape[:2]


def model_complexity(model, cfg: Config, spec: RunSpec, work_dir: str) -> dict:
    """Segmenter params/FLOPs at the test image size, cached in ``WORK/complexity.json``."""
    h, w = test_image_size(cfg)
    path = os.path.join(work_dir, COMPLEXITY_FILE)
    key = f'{spec.segmenter}@{h}x{w}'
    cached = _read_json(path, {}).get(key)
    if cached is not None:
        return cached
    value = segmenter_complexity(model, (h, w))
    with locked(path):
        cache = _read_json(path, {})
        cache[key] = value
        _write_json(path, cache)
    return value


def record_sources(work_dir: str, dataset: str, data_root: str,
                   sources: Sequence[Source]) -> None:
    """Remember the dataset root and each source's folder for the table and figure tools."""
    path = os.path.join(work_dir, SOURCES_FILE)
    os.makedirs(work_dir, exist_ok=True)
    with locked(path):
        info = _read_json(path, {})
        if info.get('dataset', dataset) != dataset:
            raise ValueError(f'{work_dir} holds results of dataset {info["dataset"]!r}; use '
                             f'another --work-dir for {dataset!r}')
        info.update(dataset=dataset, data_root=os.path.abspath(data_root))
        known = info.setdefault('sources', {})
        for source in sources:
            known[source.name] = dict(kind=source.kind, folder=source.folder)
        _write_json(path, info)


def run_benchmark(spec: RunSpec, options: RunOptions, log: Log = print) -> tuple[dict, bool]:
    """Run (or skip) one benchmark run; returns ``(row, skipped)``.  See the module docstring.
    """
    cfg = build_run_config(spec, options, log)
    chash = config_hash(cfg)
    key = dict(dataset=spec.dataset, segmenter=spec.result_segmenter, source=spec.source.name,
               seed=spec.seed)
    results_path = os.path.join(options.work_dir, RESULTS_FILE)
    done = find_result(read_results(results_path), key, chash)
    if done is not None:
        log(f'skip {spec.result_segmenter} / {spec.source.name} / seed {spec.seed}: finished '
            f'(config {chash}, mIoU {done["mIoU"]:.2f})')
        return done, True
    folder = run_dir(spec, options.work_dir, chash)
    os.makedirs(folder, exist_ok=True)
    log(f'run {spec.result_segmenter} / {spec.source.name} / seed {spec.seed} in {folder} '
        f'(pretrained: {cfg.pretrained_decision}; mean {list(cfg.model.data_preprocessor.mean)}'
        f', std {list(cfg.model.data_preprocessor.std)})')
    with trust_checkpoints_under(folder):
        checkpoint, runner = train_if_needed(cfg, spec, folder, log)
        start = time.perf_counter()
        metrics, model = evaluate(cfg, spec, checkpoint, folder, runner)
        test_seconds = time.perf_counter() - start
        del runner
    complexity = model_complexity(model, cfg, spec, options.work_dir)
    train_seconds = _read_json(os.path.join(folder, 'train_seconds.json'),
                               {'seconds': 0.0})['seconds']
    row = row_from_metrics(key, metrics, params=complexity['params'],
                           flops=complexity['flops'], seconds=train_seconds + test_seconds,
                           config_hash=chash)
    append_result(results_path, row)
    return row, False
