"""Evaluating a trained segmenter without training (``tools/benchmark_downstream.py --load-from``).

E.g. the PSFusion authors' released SegNeXt and SegFormer checkpoints (mmseg 0.24 code), or a
checkpoint of this benchmark's own training, on one source of a dataset.
:func:`evaluate_checkpoint`:

1. reads the checkpoint weights-only (:func:`psfusion.engine.checkpoint.load_checkpoint_checked`:
   a missing, corrupt or refused file is a :class:`~psfusion.errors.CheckpointError` naming it;
   a zip archive that is not a torch file, such as a downloaded ``res_MSRS.zip``, is named too);
2. renames its keys to mmseg 1.x's (:mod:`.legacy_checkpoints`) and applies the model settings
   that the checkpoint's code implied (e.g. SegFormer's MLP width) to the run config, which is
   otherwise a trained run's (:func:`.run_config.build_run_config`: the source's mean/std, the
   test pipeline; pretrained backbones are never fetched).  ``--cfg-options`` are applied again
   last, so the user's values win, also over the per-source mean/std (e.g. the authors'
   ``img_norm_cfg``: ``model.data_preprocessor.mean=[...]``);
3. builds the test Runner (:func:`.runner.runner_config`; test-time augmentation with
   ``--tta``), loads the converted weights strictly after :func:`.legacy_checkpoints.check_fits`
   compared every key and shape (nothing is loaded otherwise), and runs mmengine's test loop;
4. writes a results row like a trained run's (per-class IoU; predictions and ``per_image.npz``
   in the run folder ``runs/<segmenter>/<source>/seed<seed>-<hash8>/``, with
   ``evaluated_from.json`` saying which file, layout and settings), marked as evaluated only:
   ``schedule`` ``evaluated``, ``iters`` 0, ``batch_size`` 0, and ``pretrained`` = the checkpoint's
   identity (``file name:size``, :func:`.run_config.checkpoint_identity`).  ``seconds`` is the
   test time; parameters and MACs are counted on the loaded model (not cached: its settings may
   differ from the config's).

The row's ``config_hash`` covers what changes a test result (:data:`EVALUATION_KEYS` of
:func:`.run_config.recipe`) and the checkpoint's identity, so another checkpoint is another row
and a rerun with the same one is skipped.  Tables keep such rows apart from trained ones: their
recipe columns differ (:mod:`.tables` refuses to mix recipes unless asked to).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import zipfile
from typing import Callable, Sequence

from ..complexity import segmenter_complexity
from ..config_options import apply_cfg_options
from ..engine.checkpoint import check_checkpoint_file, load_checkpoint_checked
from ..errors import CheckpointError, ConfigError
from ..fileio import write_json
from .legacy_checkpoints import LAYOUTS, Conversion, check_fits, convert_state_dict, state_dict_of
from .results import (Provenance, append_result, check_classes, find_result, read_results,
                      row_from_metrics)
from .run_config import (RunOptions, RunSpec, build_dataset, build_run_config,
                         checkpoint_identity, recipe)
from .run_paths import WorkDir
from .runner import image_size, runner_config
from .sources import Source, fusion_identity

Log = Callable[[str], None]
#: The ``schedule`` of an evaluated-only row (no schedule ran).
EVALUATED_SCHEDULE = 'evaluated'
#: The recipe keys that change a test result (:func:`evaluation_hash`).
EVALUATION_KEYS = ('model', 'test_dataloader', 'test_evaluator', 'tta_pipeline', 'tta_model',
                   'randomness')
#: What the run folder records about the evaluated checkpoint.
EVALUATED_FROM_FILE = 'evaluated_from.json'
LOAD_FROM_ADVICE = ("Download or copy it again (the PSFusion authors' segmenters: unzip the "
                    "archive linked in github.com/Linfeng-Tang/PSFusion/issues/5 and pass the "
                    ".pth inside).")


def check_not_archive(path: str) -> None:
    """Refuse a zip archive that is not a torch checkpoint (a torch file is a zip whose records
    include ``data.pkl``), e.g. a downloaded ``res_MSRS.zip`` given as it is.

    Raises:
        CheckpointError: a missing, empty or truncated file, or such an archive.
    """
    check_checkpoint_file(path, LOAD_FROM_ADVICE)
    if not zipfile.is_zipfile(path):
        return
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if not any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names):
        inside = [name for name in names if name.endswith(('.pth', '.pt'))]
        raise CheckpointError(
            f'{path} is a zip archive, not a torch checkpoint: unzip it and pass the trained '
            f'segmenter inside' + (f' ({", ".join(inside[:3])})' if inside else '') + '.')


def check_load_from(checkpoint: str, segmenters: Sequence[str], sources: Sequence[Source]) -> None:
    """What ``--load-from`` needs before any work: one segmenter, one source, a checkpoint file.

    Raises:
        ConfigError: not exactly one segmenter and one source.
        CheckpointError: see :func:`check_not_archive`.
    """
    if len(segmenters) != 1 or len(sources) != 1:
        def counted(items: list, what: str) -> str:
            return f'{len(items)} {what}{"s" if len(items) != 1 else ""} ({", ".join(items)})'

        raise ConfigError(
            f'--load-from evaluates one trained segmenter on one source: give exactly one --seg '
            f'and one --sources entry (got {counted(list(segmenters), "segmenter")} and '
            f'{counted([s.name for s in sources], "source")}).')
    check_not_archive(checkpoint)


def read_checkpoint(path: str) -> tuple[dict, dict]:
    """``(state_dict, meta)`` of a checkpoint, loaded weights-only."""
    check_not_archive(path)
    return state_dict_of(load_checkpoint_checked(path, advice=LOAD_FROM_ADVICE), path)


def evaluation_config(spec: RunSpec, options: RunOptions, conversion: Conversion, log: Log):
    """The run config (without pretrained backbones) with ``conversion``'s model settings,
    then ``--cfg-options`` again (see the module docstring)."""
    cfg = build_run_config(spec, dataclasses.replace(options, pretrained='off'), log)
    if conversion.model_settings:
        apply_cfg_options(cfg, conversion.model_settings)
    if options.cfg_options:
        apply_cfg_options(cfg, options.cfg_options)
    return cfg


def evaluation_hash(cfg, checkpoint: str, layout: str) -> str:
    """sha256 (16 hex digits) of the test-relevant recipe and the checkpoint's identity."""
    data = {key: value for key, value in recipe(cfg).items() if key in EVALUATION_KEYS}
    data.update(load_from=checkpoint_identity(checkpoint), layout=layout, evaluated_only=True)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _segmentor(model):
    """The segmentor inside a Runner's model (distributed wrapper, TTA model)."""
    from mmengine.model import BaseTTAModel, is_model_wrapper

    if is_model_wrapper(model):
        model = model.module
    return model.module if isinstance(model, BaseTTAModel) else model


def _plain(value):
    """``value`` with tuples as lists and anything else JSON cannot hold as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def evaluate_checkpoint(spec: RunSpec, options: RunOptions, checkpoint: str,
                        log: Log = print) -> tuple[dict, bool]:
    """Evaluate ``checkpoint`` as ``spec``'s segmenter on its source's test split (or skip a
    finished evaluation); returns ``(row, skipped)``.  See the module docstring.

    Raises:
        psfusion.errors.CheckpointError: a missing, corrupt or refused file, or one whose
            weights do not fit the segmenter
            (:class:`.legacy_checkpoints.LegacyCheckpointError`).
        psfusion.data.io.DataError, psfusion.benchmark.results.ResultsError: as
            :func:`.runner.run_benchmark`.
    """
    from mmengine.runner import Runner

    key = spec.key
    work = WorkDir(options.work_dir)
    state_dict, meta = read_checkpoint(checkpoint)
    conversion = convert_state_dict(state_dict, meta)
    cfg = evaluation_config(spec, options, conversion, log)
    chash = evaluation_hash(cfg, checkpoint, conversion.layout)
    test_set = build_dataset(cfg, 'test_dataloader')
    classes = tuple(test_set.metainfo['classes'])
    frame = read_results(work.results)
    check_classes(frame, classes, work.results)
    done = find_result(frame, key, chash)
    if done is not None:
        log(f'skip {key}: {os.path.basename(checkpoint)} evaluated already (config '
            f'{done["config_hash"]}, mIoU {done["mIoU"]:.2f})')
        return done, True
    origin = Provenance(schedule=EVALUATED_SCHEDULE, iters=0, batch_size=0,
                        pretrained=checkpoint_identity(checkpoint),
                        fusion_checkpoint=fusion_identity(spec.source))
    folder = work.run_folder(key, chash)
    os.makedirs(folder.path, exist_ok=True)
    log(f'evaluate {key} from {checkpoint} in {folder.path} ({conversion.summary()})')
    run_cfg = runner_config(cfg, spec, folder, 'test')
    for name in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        run_cfg[name] = None
    run_cfg.load_from, run_cfg.resume = None, False
    runner = Runner.from_cfg(run_cfg)
    segmentor = _segmentor(runner.model)
    check_fits(conversion, segmentor.state_dict(), checkpoint,
               f'{key.segmenter} as configured for {key.dataset}')
    segmentor.load_state_dict(conversion.state_dict, strict=True)
    start = time.perf_counter()
    metrics = dict(runner.test())
    seconds = time.perf_counter() - start
    test_hw = image_size(test_set.get_data_info(0))
    complexity = segmenter_complexity(segmentor, test_hw, in_channels=spec.source.channels)
    del runner
    work.record_test_size(test_hw)
    write_json(os.path.join(folder.path, EVALUATED_FROM_FILE), _plain(dict(
        checkpoint=os.path.abspath(checkpoint), identity=checkpoint_identity(checkpoint),
        layout=conversion.layout, layout_text=LAYOUTS[conversion.layout],
        renamed=conversion.renamed, dropped=list(conversion.dropped),
        model_settings=conversion.model_settings, cfg_options=dict(options.cfg_options),
        meta={k: meta[k] for k in ('mmseg_version', 'CLASSES', 'iter', 'epoch') if k in meta})),
        sort_keys=True)
    row = row_from_metrics(key, metrics, classes, params=complexity['params'],
                           macs=complexity['macs'], seconds=seconds, config_hash=chash,
                           provenance=origin)
    append_result(work.results, row, classes)
    return row, False
