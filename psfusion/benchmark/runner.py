"""Running one benchmark run: train a segmenter on one source's training split (or resume),
evaluate it on the test split, append the result row.

A run is identified by its :class:`~psfusion.benchmark.results.RunKey` and the hash of its
training config (:func:`.run_config.config_hash`); its folder is given by
:class:`.run_paths.WorkDir`.  :func:`run_benchmark`:

* skips a finished run (a row with the same key and hash in ``WORK/results.csv``);
* only evaluates a run whose final checkpoint exists (e.g. ``--tta`` after a plain run);
* resumes an interrupted run from its last checkpoint (mmengine ``resume``);
* records a failed attempt (any exception once the run folder is known: a bad file, a bug,
  CUDA out of memory) in the run folder's ``failed.json`` before re-raising, so that
  ``--status`` and ``--plan`` show it; the next attempt removes it.

Test predictions are written as class-id PNGs to the run folder (``preds/`` or ``preds_tta/``)
for the qualitative figure.  Parameters and MACs are counted once per segmenter and test image
size and cached in ``WORK/complexity.json``.

Under a launcher (``--launcher pytorch|slurm``, :mod:`.distributed`) every process runs the same
runs data-parallel; only the main process (rank 0) writes the result row, ``failed.json``, the
training time and the caches.
"""
from __future__ import annotations

import copy
import inspect
import json
import os
import pprint
import time
import traceback
from typing import Callable, Optional

from mmengine.config import Config

from ..complexity import segmenter_complexity
from ..engine.checkpoint import use_atomic_checkpoints
from ..engine.resume import find_resume_checkpoint
from ..errors import PsfusionError
from ..fileio import write_json
from ..metrics import segmentation as _segmentation  # noqa: F401  (registers the metric)
from ..engine.amp import use_cpu_amp
from .checkpoints import trust_checkpoints_under
from .distributed import barrier, distribute, is_main_process
from .results import (Provenance, RunKey, append_result, check_classes, find_result,
                      read_results, row_from_metrics)
from .run_config import (RunOptions, RunSpec, build_dataset, build_run_config,
                         checkpoint_identity, config_hash, legacy_config_hash, schedule_name)
from .run_paths import RunFolder, WorkDir
from .sources import fusion_identity
from .transforms import read_sample_image

Log = Callable[[str], None]
#: Written in a run folder when an attempt fails (:func:`record_failure`), removed when the
#: next attempt starts.
FAILED_FILE = 'failed.json'
#: Config keys that the Runner reads besides its constructor's arguments; every other key
#: (the config layers' variables such as ``crop_size``, ``data_settings``, ``norm_cfg``, and
#: ``pretrained_decision``) is bookkeeping and stays out of the Runner's config.
_RUNNER_EXTRA_KEYS = ('model_wrapper_cfg', 'sync_bn', 'find_unused_parameters',
                      'activation_checkpointing', 'efficient_conv_bn_eval', 'compile',
                      'custom_imports')


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


def runner_keys() -> frozenset:
    """The config keys a Runner uses: its constructor's arguments and
    :data:`_RUNNER_EXTRA_KEYS`."""
    from mmengine.runner import Runner

    arguments = inspect.signature(Runner.__init__).parameters
    return frozenset(name for name in arguments if name not in ('self', 'cfg')) | \
        frozenset(_RUNNER_EXTRA_KEYS)


def runner_config(cfg: Config, spec: RunSpec, folder: RunFolder, phase: str) -> PlainTextConfig:
    """The config a Runner gets for ``phase`` (``'train'`` or ``'test'``) of a run: the run's
    config with the run folder, a unique experiment name, the per-class metric writing the
    predictions, test-time augmentation when asked for, and only the keys a Runner uses."""
    data = copy.deepcopy(cfg.to_dict())
    key = spec.key
    data['work_dir'] = folder.path
    data['experiment_name'] = (f'{key.segmenter}_{key.source}_seed{key.seed}_{phase}_'
                               f'{time.strftime("%Y%m%d_%H%M%S")}_{time.time_ns() % 10**6}')
    tta = key.tta and phase == 'test'
    data['test_evaluator'] = dict(type='psfusion.PerClassIoUMetric',
                                  pred_dir=folder.predictions(tta),
                                  per_image=folder.per_image(tta))
    if tta:
        if not data.get('tta_pipeline'):
            raise ValueError(f'{cfg.filename}: --tta needs a tta_pipeline in the config')
        data['test_dataloader']['dataset']['pipeline'] = data['tta_pipeline']
        data['model'] = dict(type='SegTTAModel', module=data['model'])
    use_atomic_checkpoints(data)  # a kill while saving never leaves a partial checkpoint
    # the total batch split over the processes, synchronised BN, gloo without a GPU
    distribute(data, data.get('launcher') or 'none',
               log=print if phase == 'train' else (lambda message: None))
    use_cpu_amp(data)  # bf16 autocast on a machine without a GPU (mmengine's needs one)
    keep = runner_keys()
    return PlainTextConfig({name: value for name, value in data.items() if name in keep},
                           filename=cfg.filename)


def train_if_needed(cfg: Config, spec: RunSpec, folder: RunFolder,
                    log: Log = print) -> tuple[str, Optional[object]]:
    """Train (or resume) in ``folder`` unless the final checkpoint exists.

    Returns the final checkpoint and the Runner that trained it (None when nothing was
    trained), which can then test without being built again.  Training time accumulates over
    resumed sessions (:meth:`.run_paths.RunFolder.add_train_seconds`).
    """
    from mmengine.runner import Runner

    final = folder.checkpoint(cfg.train_cfg.max_iters)
    if os.path.isfile(final):
        log(f'  trained already: {final}')
        return final, None
    run_cfg = runner_config(cfg, spec, folder, 'train')
    checkpoint = find_resume_checkpoint(folder.path, log) if os.path.isdir(folder.path) else None
    run_cfg.resume, run_cfg.load_from = checkpoint is not None, checkpoint
    if checkpoint:
        log(f'  resuming from {checkpoint}')
    start = time.perf_counter()
    try:
        runner = Runner.from_cfg(run_cfg)
        runner.train()
        barrier()  # rank 0 has written the final checkpoint
    finally:
        if is_main_process():
            folder.add_train_seconds(time.perf_counter() - start)
    if not os.path.isfile(final):
        raise RuntimeError(f'training finished but {final} is missing; check the checkpoint '
                           f'hook settings (save_last=True)')
    return final, runner


def evaluate(cfg: Config, spec: RunSpec, checkpoint: str, folder: RunFolder,
             runner: Optional[object] = None) -> tuple[dict, object]:
    """Test on the test split; returns the metrics and the tested model.

    ``runner`` (the one that just trained) is reused unless test-time augmentation needs a
    wrapped model; otherwise a test Runner loads ``checkpoint``.
    """
    from mmengine.runner import Runner

    if runner is None or spec.key.tta:
        run_cfg = runner_config(cfg, spec, folder, 'test')
        for name in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
            run_cfg[name] = None
        run_cfg.load_from, run_cfg.resume = checkpoint, False
        runner = Runner.from_cfg(run_cfg)
    # mmseg's metric makes its prediction folder on rank 0 only; every rank writes into it
    os.makedirs(folder.predictions(spec.key.tta), exist_ok=True)
    metrics = runner.test()
    return dict(metrics), runner.model


def image_size(item: dict) -> tuple[int, int]:
    """``(h, w)`` of a dataset item's image, read as the segmenter reads it."""
    image = read_sample_image(item)
    return int(image.shape[0]), int(image.shape[1])


def model_complexity(model, segmenter: str, image_hw, work: WorkDir,
                     in_channels: int = 3) -> dict:
    """Parameters and MACs (:func:`psfusion.complexity.segmenter_complexity`) of ``model`` at
    ``image_hw`` with ``in_channels`` input channels (4 for the rgbt source of feature-level
    segmenters), cached per segmenter and size in ``WORK/complexity.json`` (a segmenter takes
    one kind of input)."""
    cached = work.cached_complexity(segmenter, image_hw)
    if cached is not None:
        return cached
    model = getattr(model, 'module', model)  # a data-parallel wrapper's model
    value = segmenter_complexity(model, image_hw, in_channels=in_channels)
    if is_main_process():
        work.store_complexity(segmenter, image_hw, value)
    return value


def provenance(cfg: Config, spec: RunSpec) -> Provenance:
    """The run's provenance columns: schedule, iterations, total batch, pretrained checkpoint
    and the fused source's fusion method and weights (:func:`.sources.fusion_identity`)."""
    init_cfg = cfg.model.get('backbone', {}).get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint') if isinstance(init_cfg, dict) else None
    # the run config holds the total batch (split per process in the Runner's config only)
    return Provenance(schedule=schedule_name(cfg), iters=int(cfg.train_cfg.max_iters),
                      batch_size=int(cfg.train_dataloader.batch_size),
                      pretrained=checkpoint_identity(checkpoint) if checkpoint else 'none',
                      fusion_checkpoint=fusion_identity(spec.source))


def finished_row(frame, key, cfg: Config, chash: str) -> Optional[dict]:
    """The finished row of this run: stored with the recipe hash, or with the hash stores
    used before it (:func:`.run_config.legacy_config_hash`), so finished runs stay finished."""
    for value in dict.fromkeys((chash, legacy_config_hash(cfg))):
        done = find_result(frame, key, value)
        if done is not None:
            return done
    return None


def failure_file(folder: RunFolder) -> str:
    """``failed.json`` of a run folder: what stopped the last attempt (:func:`record_failure`)."""
    return os.path.join(folder.path, FAILED_FILE)


def record_failure(folder: RunFolder, key: RunKey, chash: str, exc: BaseException) -> None:
    """Write ``failed.json`` in the run folder: the run, its config hash, the error's type,
    message and (for an error that is not a :class:`~psfusion.errors.PsfusionError`, i.e. a
    bug or a crash) traceback, and when.  Checkpoints written before the failure stay: the next
    attempt resumes from them."""
    record = dict(run=str(key), config_hash=chash, error=type(exc).__name__, message=str(exc),
                  time=time.strftime('%Y-%m-%d %H:%M:%S'))
    if not isinstance(exc, PsfusionError):
        record['traceback'] = traceback.format_exc()
    write_json(failure_file(folder), record)


def read_failure(folder: RunFolder) -> Optional[dict]:
    """The content of the run folder's ``failed.json``, or None (no failed attempt, or an
    unreadable record, which then counts as none)."""
    try:
        with open(failure_file(folder), encoding='utf-8') as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def clear_failure(folder: RunFolder) -> None:
    """Remove the run folder's ``failed.json`` (a new attempt starts)."""
    try:
        os.remove(failure_file(folder))
    except FileNotFoundError:
        pass


def run_benchmark(spec: RunSpec, options: RunOptions, log: Log = print) -> tuple[dict, bool]:
    """Run (or skip) one benchmark run; returns ``(row, skipped)``.  See the module docstring.

    Raises:
        psfusion.data.io.DataError: a missing or unreadable image, label or fused image, or a
            fused source whose splits come from different fusion checkpoints.
        psfusion.benchmark.results.ResultsError: the store holds another dataset's classes.
    """
    key = spec.key
    work = WorkDir(options.work_dir)
    cfg = build_run_config(spec, options, log)
    chash = config_hash(cfg)
    test_set = build_dataset(cfg, 'test_dataloader')
    classes = tuple(test_set.metainfo['classes'])
    frame = read_results(work.results)
    check_classes(frame, classes, work.results)
    done = finished_row(frame, key, cfg, chash)
    if done is not None:
        log(f'skip {key}: finished (config {done["config_hash"]}, mIoU {done["mIoU"]:.2f})')
        return done, True
    folder = work.run_folder(key, chash)
    if is_main_process():
        clear_failure(folder)  # a new attempt: its outcome replaces the last one's
    try:
        return _train_and_test(cfg, spec, chash, folder, work, test_set, classes, log), False
    except Exception as exc:  # a bug, a bad file, CUDA out of memory...: kept for --status
        if is_main_process():
            record_failure(folder, key, chash, exc)
        raise


def _train_and_test(cfg: Config, spec: RunSpec, chash: str, folder: RunFolder, work: WorkDir,
                    test_set, classes: tuple, log: Log) -> dict:
    """:func:`run_benchmark`'s work once the run is known not to be finished: train (or
    resume), test, count the segmenter's complexity, append and return the row."""
    key = spec.key
    origin = provenance(cfg, spec)  # checks the fused splits agree, before training
    os.makedirs(folder.path, exist_ok=True)
    log(f'run {key} in {folder.path} (pretrained: {cfg.pretrained_decision}; mean '
        f'{list(cfg.model.data_preprocessor.mean)}, std {list(cfg.model.data_preprocessor.std)})')
    with trust_checkpoints_under(folder.path):
        checkpoint, runner = train_if_needed(cfg, spec, folder, log)
        start = time.perf_counter()
        metrics, model = evaluate(cfg, spec, checkpoint, folder, runner)
        test_seconds = time.perf_counter() - start
        del runner
    test_hw = image_size(test_set.get_data_info(0))
    complexity = model_complexity(model, key.segmenter, test_hw, work, spec.source.channels)
    if is_main_process():
        work.record_test_size(test_hw)
    row = row_from_metrics(key, metrics, classes, params=complexity['params'],
                           macs=complexity['macs'],
                           seconds=folder.train_seconds() + test_seconds, config_hash=chash,
                           provenance=origin)
    if is_main_process():
        append_result(work.results, row, classes)
    barrier()  # the next run reads the store only once the row is in it
    return row
