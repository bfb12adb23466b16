"""Running the pending runs of a benchmark call as separate jobs: local processes or a Slurm
job array (``tools/benchmark_downstream.py --executor local|slurm``).

Each job is exactly one (segmenter, source, seed): :class:`BenchmarkJob` calls
:func:`.runner.run_benchmark` for one :class:`~.run_config.RunSpec`, the same code path as a
sequential call, so finished runs are skipped, interrupted ones resume from their last
checkpoint, a failure is recorded in the run folder's ``failed.json`` and every row goes
through the locked results store (:func:`.results.append_result`).

* ``local``: up to ``max_parallel`` runs at once as processes on this machine
  (``concurrent.futures.ProcessPoolExecutor``, spawned workers); with GPUs visible, worker
  *i* sees only its own ``gpus_per_run`` of them (``CUDA_VISIBLE_DEVICES``).  Waits for every
  run and returns the failures.
* ``slurm``: one job array through submitit (one task per pending run, at most
  ``max_parallel`` at once), logs in ``WORK_DIR/slurm/``; a preempted or timed-out task is
  requeued (:meth:`BenchmarkJob.checkpoint`) and resumes from its last checkpoint.  Returns
  once submitted.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from ..errors import ConfigError
from .plan import PlannedRun
from .run_config import RunOptions, RunSpec

EXECUTORS = ('local', 'slurm')
#: Plan states with nothing left to do; every other run (to run, partial, failed, trained,
#: unknown) is submitted.
FINISHED_STATES = ('done',)
Log = Callable[[str], None]


@dataclass(frozen=True)
class ExecutorSettings:
    """Where and how the jobs run (the tool's --executor options)."""
    kind: str = 'local'
    max_parallel: int = 1
    partition: Optional[str] = None
    gpus_per_run: int = 1
    cpus_per_run: Optional[int] = None
    time_min: int = 24 * 60
    folder: Optional[str] = None  # submitit's logs (slurm); default WORK_DIR/slurm


def parse_time(text: str) -> int:
    """Minutes of a Slurm time limit given as minutes (``90``) or ``[D-]HH:MM:SS``."""
    match = re.fullmatch(r'(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})', text.strip())
    if text.strip().isdigit():
        minutes = int(text)
    elif match:
        days, hours, mins, secs = (int(v) if v else 0 for v in match.groups())
        minutes = days * 1440 + hours * 60 + mins + (1 if secs else 0)
    else:
        raise ValueError(f'time {text!r}: use minutes (e.g. 600) or HH:MM:SS (e.g. 10:00:00)')
    if minutes <= 0:
        raise ValueError(f'time {text!r}: must be at least one minute')
    return minutes


def pending_specs(specs: Sequence[RunSpec], planned: Sequence[PlannedRun]) -> list[RunSpec]:
    """The runs of ``specs`` that the plan does not show as done, in order."""
    finished = {str(run.key) for run in planned if run.state in FINISHED_STATES}
    return [spec for spec in specs if str(spec.key) not in finished]


class BenchmarkJob:
    """One run as a job: ``run_benchmark(spec, options)``; requeued with the same arguments
    when Slurm preempts it or its time runs out (submitit calls :meth:`checkpoint`)."""

    def __call__(self, spec: RunSpec, options: RunOptions) -> str:
        from .runner import run_benchmark

        run_benchmark(spec, options, log=print)
        return str(spec.key)

    def checkpoint(self, spec: RunSpec, options: RunOptions):
        """The same run again: the runner resumes it from its last checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(BenchmarkJob(), spec, options)


def _visible_gpus() -> list[str]:
    visible = os.environ.get('CUDA_VISIBLE_DEVICES')
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(',') if gpu.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no torch/CUDA: CPU workers
        return []


def _init_worker(slots) -> None:
    """Pin a spawned worker to its GPUs before torch starts CUDA (``''``: no GPU)."""
    gpus = slots.get()
    if gpus:
        os.environ['CUDA_VISIBLE_DEVICES'] = gpus


def _gpu_slots(manager, gpus: Sequence[str], workers: int, per_run: int):
    """A queue holding each worker's ``CUDA_VISIBLE_DEVICES`` value (``''`` without GPUs)."""
    slots = manager.Queue()
    for i in range(workers):
        slots.put(','.join(gpus[i * per_run:(i + 1) * per_run]))
    return slots


def run_local(specs: Sequence[RunSpec], options: RunOptions, settings: ExecutorSettings,
              log: Log = print) -> list[str]:
    """Every run of ``specs`` in up to ``settings.max_parallel`` processes; returns
    ``'<run> (<error>)'`` for each failed run (its failed.json has the rest)."""
    from .plan import last_error_line

    if not specs:
        log('local executor: every run is done')
        return []
    workers = max(1, min(settings.max_parallel, len(specs)))
    gpus = _visible_gpus()
    if gpus and workers * settings.gpus_per_run > len(gpus):
        raise ConfigError(
            f'--max-parallel {workers} x --gpus-per-run {settings.gpus_per_run} needs '
            f'{workers * settings.gpus_per_run} GPUs, {len(gpus)} visible: lower --max-parallel '
            'or set CUDA_VISIBLE_DEVICES')
    context = multiprocessing.get_context('spawn')  # no CUDA or thread state inherited
    log(f'local executor: {len(specs)} run(s), {workers} at once'
        + (f', {settings.gpus_per_run} GPU(s) each' if gpus else ' (CPU)'))
    failed = []
    with context.Manager() as manager, concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker,
            initargs=(_gpu_slots(manager, gpus, workers, settings.gpus_per_run),)) as pool:
        futures = {pool.submit(BenchmarkJob(), spec, options): spec for spec in specs}
        for future in concurrent.futures.as_completed(futures):
            spec = futures[future]
            try:
                future.result()
                log(f'finished: {spec.key}')
            except Exception as exc:  # noqa: BLE001 - recorded (failed.json); others go on
                failed.append(f'{spec.key} ({last_error_line(exc)})')
                log(f'error: {spec.key} failed: {exc}')
    return failed


def submit_slurm(specs: Sequence[RunSpec], options: RunOptions, settings: ExecutorSettings,
                 log: Log = print) -> list:
    """One Slurm job array with a task per run of ``specs``; returns submitit's jobs."""
    import submitit

    if not specs:
        log('slurm: every run is done, nothing submitted')
        return []
    folder = settings.folder or os.path.join(options.work_dir, 'slurm')
    executor = submitit.SlurmExecutor(folder=os.path.join(folder, '%j'))
    parameters = dict(time=settings.time_min, gpus_per_node=settings.gpus_per_run,
                      ntasks_per_node=1, nodes=1, job_name='psfusion_benchmark',
                      array_parallelism=max(1, settings.max_parallel))
    if settings.partition:
        parameters['partition'] = settings.partition
    if settings.cpus_per_run:
        parameters['cpus_per_task'] = settings.cpus_per_run
    executor.update_parameters(**parameters)
    jobs = executor.map_array(BenchmarkJob(), list(specs), [options] * len(specs))
    if jobs:
        log(f'slurm: job array {jobs[0].job_id.split("_")[0]} with {len(jobs)} task(s), at '
            f'most {parameters["array_parallelism"]} at once; logs in {folder}/; follow '
            'with --status')
    for job, spec in zip(jobs, specs):
        log(f'  {job.job_id}: {spec.key}')
    return jobs
