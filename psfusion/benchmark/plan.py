"""The benchmark's plan: every run a call makes, its state, and what it will cost in GPU hours.

A run is one (segmenter, source, seed) of :func:`.catalog.check_inputs`' pairs.  Its state
(:class:`PlannedRun`) comes from the work folder, for the run's own recipe (config hash, as
:func:`.runner.run_benchmark` finds it):

* ``done``: a row with its key and hash in the results store;
* ``trained``: the final checkpoint exists, the test is still to run (e.g. ``--tta``);
* ``partial at iteration N``: the run folder's last complete checkpoint is ``iter_N.pth``
  (resumed from there);
* ``failed``: the last attempt wrote ``failed.json`` (:func:`.runner.record_failure`);
* ``to run``: nothing yet;
* ``unknown``: the run's config cannot be built yet (a missing fused split, an unreachable
  pretrained backbone...; preflight names the problem).

The cost is the remaining training iterations times the measured seconds per iteration of the
segmenter on the GPU (:data:`SECONDS_PER_ITERATION`, from ``benchmarks/gpu_seg_step.py``; see
README "GPU timings"), scaled to the run's batch and crop (:func:`scaled_to_recipe`), "no
estimate" where none was measured.  :func:`work_status` is the same
view read from a work folder alone (``--status``): no config is built, so it also works while
runs train, and it lists every run the folder holds.
"""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from .results import RunKey, latest_results, read_results
from .run_paths import RUNS_DIR, RunFolder, WorkDir
from .sources import Source

#: Measured seconds of one training iteration, per GPU and segmenter: forward, backward and
#: AdamW step at 480x640, batch 8 (``python benchmarks/gpu_seg_step.py``, torch 2.11, random
#: weights; README "GPU timings").  Add a GPU or a segmenter by measuring it the same way.
SECONDS_PER_ITERATION = {
    'H200': {'segformer_b2': 0.091, 'segformer_b4': 0.183, 'segnext_b': 0.131,
             'segnext_l': 0.204},
}
#: The GPU the estimates are for when none is named and none is visible.
REFERENCE_GPU = 'H200'
MEASURED_AT = '480x640, batch 8'
_MEASURED_BATCH, _MEASURED_PIXELS = 8, 480 * 640
_ITER_CHECKPOINT = re.compile(r'iter_(\d+)\.pth')
_SEED_FOLDER = re.compile(r'seed(\d+)-([0-9a-f]+)')
STATES = ('done', 'trained', 'partial', 'failed', 'to run', 'unknown')
#: Characters of an error shown in a plan or status line (the run folder's failed.json, or
#: preflight, has all of it).
_DETAIL_WIDTH = 160


def detect_gpu() -> str:
    """The GPU to estimate for: the first CUDA device's table name (``NVIDIA H200`` ->
    ``H200``) or full name, else :data:`REFERENCE_GPU`."""
    try:
        import torch

        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            return next((gpu for gpu in SECONDS_PER_ITERATION if gpu.lower() in name.lower()),
                        name)
    except Exception:  # noqa: BLE001 - a broken CUDA setup only changes the estimate's GPU
        pass
    return REFERENCE_GPU


def seconds_per_iteration(segmenter: str, gpu: str) -> Optional[float]:
    """The measured seconds per training iteration, or None where none was measured."""
    return SECONDS_PER_ITERATION.get(gpu, {}).get(segmenter)


def scaled_to_recipe(rate: Optional[float], cfg) -> Optional[float]:
    """``rate`` (measured at :data:`MEASURED_AT`) scaled to the training batch and crop of a
    run config, in proportion to the pixels per iteration (these GPUs are compute-bound at
    these sizes): SegNeXt-L's batch 6 costs 6/8 of the measured iteration."""
    if rate is None:
        return None
    try:
        batch = int(cfg.train_dataloader.batch_size)
        size = (cfg.model.get('data_preprocessor') or {}).get('size') or cfg.get('crop_size')
        pixels = int(size[0]) * int(size[1]) if size else _MEASURED_PIXELS
    except (AttributeError, KeyError, TypeError, ValueError):
        return rate
    return rate * batch * pixels / (_MEASURED_BATCH * _MEASURED_PIXELS)


def checkpoint_iteration(path: Optional[str]) -> int:
    """N of ``iter_N.pth`` (0 for None or another name)."""
    found = _ITER_CHECKPOINT.fullmatch(os.path.basename(path)) if path else None
    return int(found.group(1)) if found else 0


def last_error_line(message: str) -> str:
    """The last non-empty line of an error message (the whole message when it is one line)."""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    return lines[-1] if lines else '(no message)'


@dataclass
class PlannedRun:
    """One run of the plan (or of a work folder's status)."""
    key: RunKey
    state: str
    detail: str = ''
    #: Iterations trained so far (the last checkpoint's), and the run's length (None: unknown).
    iteration: int = 0
    max_iters: Optional[int] = None
    folder: Optional[str] = None
    seconds_per_iter: Optional[float] = None

    @property
    def remaining(self) -> Optional[int]:
        """Training iterations left (0 when done or trained; None when the length is
        unknown)."""
        if self.state in ('done', 'trained'):
            return 0
        if self.max_iters is None:
            return None
        return max(0, self.max_iters - self.iteration)

    @property
    def gpu_hours(self) -> Optional[float]:
        if self.remaining == 0:
            return 0.0
        if self.remaining is None or self.seconds_per_iter is None:
            return None
        return self.remaining * self.seconds_per_iter / 3600

    def state_text(self) -> str:
        if self.state == 'partial':
            return (f'partial at iteration {self.iteration}' if self.iteration else
                    'partial: started, no checkpoint yet')
        if self.state in ('failed', 'unknown'):
            at = f' at iteration {self.iteration}' if self.iteration else ''
            detail = self.detail if len(self.detail) <= _DETAIL_WIDTH else \
                self.detail[:_DETAIL_WIDTH - 3] + '...'
            return f'{self.state}{at}: {detail}'
        return f'{self.state} ({self.detail})' if self.detail else self.state

    def cost_text(self) -> str:
        if self.remaining == 0:
            return '-'
        if self.gpu_hours is not None:
            return (f'{self.gpu_hours:.2f} GPU h ({self.remaining} it x '
                    f'{self.seconds_per_iter:g} s)')
        if self.remaining is None:
            return 'no estimate (length unknown)'
        return f'no estimate ({self.remaining} it)'


def folder_state(key: RunKey, folder: RunFolder, max_iters: Optional[int] = None
                 ) -> tuple[str, str, int]:
    """``(state, detail, iteration)`` of a run without a finished row, from its folder: the
    last attempt's failure, the final checkpoint, the last complete checkpoint, or nothing."""
    from ..engine.checkpoint import find_resume_checkpoint
    from .runner import read_failure

    if not os.path.isdir(folder.path):
        return 'to run', '', 0
    iteration = checkpoint_iteration(find_resume_checkpoint(folder.path))
    failure = read_failure(folder)
    if failure is not None and failure.get('run', str(key)) == str(key):
        return 'failed', last_error_line(failure.get('message', '')), iteration
    if max_iters is not None and os.path.isfile(folder.checkpoint(max_iters)):
        return 'trained', 'test to run', max_iters
    if iteration:
        return 'partial', '', iteration
    return 'to run', '', 0


def _quiet(message: str) -> None:
    pass


def _seeded(cfg, seed: int):
    """``cfg`` with another seed, as :func:`.run_config.build_run_config` sets it."""
    cfg = copy.deepcopy(cfg)
    cfg.randomness = dict(seed=int(seed), deterministic=False)
    return cfg


def plan_runs(dataset: str, pairs: Sequence[tuple[str, Source]], seeds: Sequence[int], options,
              tta: bool = False, gpu: Optional[str] = None,
              log: Callable[[str], None] = _quiet) -> list[PlannedRun]:
    """The plan of a call: every (segmenter, source, seed) with its state and cost (see the
    module docstring).  Builds each pair's run config once (cached configs and source
    statistics), so it costs seconds, not a training.  A pair whose config cannot be built is
    ``unknown``, with the error's last line; nothing is raised for it (preflight reports it).

    ``options``: the :class:`~.run_config.RunOptions` of the runs.
    """
    from .run_config import RunSpec, build_run_config, config_hash
    from .runner import finished_row

    gpu = gpu or detect_gpu()
    work = WorkDir(options.work_dir)
    frame = read_results(work.results)
    planned = []
    for segmenter, source in pairs:
        rate = seconds_per_iteration(segmenter, gpu)
        try:
            if source.is_builtin and not source.folder:  # fused on first use: not yet
                raise LookupError('not fused yet (fused from the dataset before the runs)')
            cfg, error = build_run_config(RunSpec.of(dataset, segmenter, source, seeds[0], tta),
                                          options, log), None
        except Exception as exc:  # noqa: BLE001 - shown in the plan; preflight says more
            cfg, error = None, last_error_line(exc)
        for seed in seeds:
            key = RunKey(dataset, segmenter, source.name, int(seed), bool(tta))
            if cfg is None:
                state = 'to run' if source.is_builtin and not source.folder else 'unknown'
                planned.append(PlannedRun(key, state, '' if state == 'to run' else error,
                                          max_iters=_length(segmenter, dataset, options),
                                          seconds_per_iter=rate))
                continue
            run_cfg = _seeded(cfg, seed)
            rate = scaled_to_recipe(seconds_per_iteration(segmenter, gpu), run_cfg)
            max_iters = int(run_cfg.train_cfg.max_iters)
            chash = config_hash(run_cfg)
            done = finished_row(frame, key, run_cfg, chash)  # also under the legacy hash
            folder = work.run_folder(key, chash)
            if done is not None:
                planned.append(PlannedRun(key, 'done', f'mIoU {float(done["mIoU"]):.2f}',
                                          max_iters, max_iters, folder.path, rate))
                continue
            state, detail, iteration = folder_state(key, folder, max_iters)
            planned.append(PlannedRun(key, state, detail, iteration, max_iters, folder.path,
                                      rate))
    return planned


def _length(segmenter: str, dataset: str, options) -> Optional[int]:
    """The training length of a segmenter's runs from its config alone (schedule and
    ``--max-iters`` applied), for runs whose whole config cannot be built yet; None when even
    that fails."""
    from .catalog import config_path
    from .run_config import apply_max_iters, apply_schedule, load_config

    try:
        cfg = load_config(str(config_path(segmenter, dataset, options.config_dir)))
        if options.schedule:
            apply_schedule(cfg, options.schedule, options.config_dir, segmenter)
        if options.max_iters:
            apply_max_iters(cfg, options.max_iters)
        return int(cfg.train_cfg.max_iters)
    except Exception:  # noqa: BLE001 - only the estimate is lost
        return None


def _row(run: PlannedRun, width: int) -> str:
    return f'  {str(run.key):<{width}}  {run.state_text():<30}  {run.cost_text()}'


def summary_counts(runs: Sequence[PlannedRun]) -> str:
    """``3 runs: 1 done, 1 partial, 1 to run``."""
    counts = {state: sum(run.state == state for run in runs) for state in STATES}
    parts = [f'{count} {state}' for state, count in counts.items() if count]
    return f'{len(runs)} run{"s" if len(runs) != 1 else ""}: ' + ', '.join(parts or ['none'])


def format_plan(runs: Sequence[PlannedRun], gpu: str, work_dir: str) -> str:
    """The plan as printed: one line per run (key, state, cost), then the total."""
    width = max([len(str(run.key)) for run in runs] + [3])
    lines = [f'plan ({work_dir}; cost on one {gpu}, measured s/iteration at {MEASURED_AT}):']
    lines += [_row(run, width) for run in runs]
    hours = [run.gpu_hours for run in runs]
    known = sum(h for h in hours if h is not None)
    missing = [run for run in runs if run.gpu_hours is None]
    total = f'total: {known:.1f} GPU hours'
    if missing:
        names = ', '.join(dict.fromkeys(run.key.segmenter for run in missing))
        total += f' + {len(missing)} run(s) with no estimate ({names})'
    lines.append(f'{total}; {summary_counts(runs)}')
    return '\n'.join(lines)


def work_status(work_dir: str, planned: Sequence[RunKey] = ()) -> list[PlannedRun]:
    """Every run of a work folder, read from it alone: the latest results row of each key
    (``done``), every run folder without a row of its hash (``failed`` with the error's last
    line, ``partial at iteration N``, or ``started``), and the ``planned`` keys with neither
    (``to run``)."""
    from .run_paths import read_json
    from .runner import read_failure

    work = WorkDir(work_dir)
    frame = latest_results(read_results(work.results))
    dataset = str(read_json(work.sources, {}).get('dataset', ''))
    runs, seen = [], set()
    finished_hashes = set()
    for row in frame.to_dict('records'):
        key = RunKey.from_row(row)
        runs.append(PlannedRun(key, 'done', f'mIoU {float(row["mIoU"]):.2f}'))
        seen.add(key)
        finished_hashes.add((key, str(row['config_hash'])[:8]))
    for segmenter, source, name in _run_folders(os.path.join(work.root, RUNS_DIR)):
        found = _SEED_FOLDER.fullmatch(name)
        folder = RunFolder(os.path.join(work.root, RUNS_DIR, segmenter, source, name))
        plain = RunKey(dataset, segmenter, source, int(found.group(1)))
        if any((key, found.group(2)) in finished_hashes for key in _keys_like(plain, seen)):
            continue  # a finished run's folder
        failure = read_failure(folder)
        key = plain
        if failure is not None and str(failure.get('run', '')).endswith('(TTA)'):
            key = RunKey(plain.dataset, segmenter, source, plain.seed, True)
        state, detail, iteration = folder_state(key, folder)
        if state == 'to run':  # a folder without a checkpoint: started
            state = 'partial'
        runs.append(PlannedRun(key, state, detail, iteration, folder=folder.path))
        seen.add(key)
    for key in planned:
        if not any(_same_run(key, other) for other in seen):
            runs.append(PlannedRun(key, 'to run'))
    return runs


def _run_folders(root: str):
    """``(segmenter, source, folder name)`` of every ``seed<N>-<hash8>`` folder under
    ``root`` (``WORK/runs``), sorted."""
    def folders(path):
        return sorted(n for n in os.listdir(path) if os.path.isdir(os.path.join(path, n))) \
            if os.path.isdir(path) else []

    for segmenter in folders(root):
        for source in folders(os.path.join(root, segmenter)):
            for name in folders(os.path.join(root, segmenter, source)):
                if _SEED_FOLDER.fullmatch(name):
                    yield segmenter, source, name


def _same_run(a: RunKey, b: RunKey) -> bool:
    """Same segmenter, source, seed and TTA (a status read without results rows does not know
    the dataset)."""
    return (a.segmenter, a.source, a.seed, a.tta) == (b.segmenter, b.source, b.seed, b.tta)


def _keys_like(key: RunKey, seen) -> list[RunKey]:
    return [other for other in seen if (other.segmenter, other.source, other.seed) ==
            (key.segmenter, key.source, key.seed)]


def format_status(runs: Sequence[PlannedRun], work_dir: str) -> str:
    """``--status``: one line per run (key, state, folder), then the counts."""
    if not runs:
        return f'status of {work_dir}: no runs (nothing planned, nothing found)'
    width = max(len(str(run.key)) for run in runs)
    lines = [f'status of {work_dir}:']
    for run in runs:
        where = f'  ({os.path.relpath(run.folder, work_dir)})' if run.folder else ''
        lines.append(f'  {str(run.key):<{width}}  {run.state_text()}{where}')
    lines.append(summary_counts(runs))
    return '\n'.join(lines)
