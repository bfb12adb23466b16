"""Exact resumption of iteration-based training.

mmengine restores the model, optimizer, schedulers and iteration, then *replays* the data
loader for every iteration already trained (loading and augmenting each batch again: hours for a
long MSRS run), and it does not store the random number generators.  Here:

* :class:`RNGStateHook` stores the Python, numpy and torch (CPU and CUDA) generator states in
  each checkpoint;
* :class:`ResumableIterBasedTrainLoop` fast-forwards mmengine's ``InfiniteSampler`` by index
  arithmetic (no data is loaded), then restores the stored generator states, so the next batch
  is drawn and augmented exactly as in the uninterrupted run.

With ``num_workers=0`` (all augmentation randomness in the main process) a killed and resumed
run reproduces the uninterrupted run's losses; with worker processes, each worker's generators
are re-seeded when the loader restarts, so augmentation differs (in distribution, not in kind).
In multi-process training every rank restores rank 0's stored state.

:func:`resolve_resume` decides what ``--resume`` means (see there): a bare ``--resume`` with
nothing to resume is an error, ``--resume auto`` then starts from iteration 0.
"""
from __future__ import annotations

import itertools
import logging
import random
from typing import Callable, Optional, Union

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from ..errors import CheckpointError
from ..registry import HOOKS, LOOPS
from .checkpoint import find_resume_checkpoint, load_checkpoint_checked

RNG_KEY = 'rng_state'
PENDING_KEY = 'psfusion_pending_rng_state'


def capture_rng_state() -> dict:
    """Python, numpy and torch generator states, as tensors and plain containers."""
    np_state = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=(np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
               int(np_state[3]), float(np_state[4])),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state['python'])
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the generator states with each checkpoint; on load, hand them to the train loop
    (through the message hub, not saved again) to restore once the data position is set."""

    priority = 'NORMAL'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = capture_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if RNG_KEY in checkpoint:
            runner.message_hub.update_info(PENDING_KEY, checkpoint[RNG_KEY], resumed=False)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that resumes by sampler arithmetic and restores the RNG state.

    Falls back to mmengine's replay when the sampler is not an ``InfiniteSampler``-like one.
    """

    def run(self) -> torch.nn.Module:
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._fast_forward()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _fast_forward(self) -> None:
        sampler = self.dataloader.sampler
        skip = self._iter * (self.dataloader.batch_size or 1)
        if hasattr(sampler, '_indices_of_rank') and hasattr(sampler, 'indices'):
            sampler.indices = itertools.islice(sampler._indices_of_rank(), skip, None)
            self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
            print_log(f'Resuming at iteration {self._iter}: sampler advanced by {skip} indices '
                      f'(no data replayed)', logger='current')
        else:
            print_log(f'Sampler {type(sampler).__name__} cannot skip ahead: replaying '
                      f'{self._iter} batches', logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
        state: Optional[dict] = self.runner.message_hub.get_info(PENDING_KEY)
        if state is not None:
            restore_rng_state(state)
            self.runner.message_hub.pop_info(PENDING_KEY)


def resolve_resume(work_dir: str, resume: Union[bool, str], log: Callable[[str], None] = print
                   ) -> Optional[str]:
    """What ``--resume`` asks for: the checkpoint to resume from, or None to start at 0.

    * ``False``: None (a new run);
    * ``True`` (bare ``--resume``): the latest complete checkpoint of ``work_dir``
      (:func:`~.checkpoint.find_resume_checkpoint`: a partial file of a killed write is
      skipped); none there is an error, since the user expected to continue;
    * ``'auto'``: the same, but with nothing to resume training starts from iteration 0 (said
      through ``log``);
    * a path: that checkpoint, loaded once here to check it.

    Raises:
        CheckpointError: nothing to resume with a bare ``--resume``, or a missing, corrupt or
            incomplete ``--resume FILE``.
    """
    if not resume:
        return None
    if resume is True or resume == 'auto':
        found = find_resume_checkpoint(work_dir, log)
        if found is not None:
            return found
        if resume == 'auto':
            log(f'--resume auto: no checkpoint to resume from in {work_dir}: starting from '
                f'iteration 0')
            return None
        raise CheckpointError(
            f'--resume: nothing to resume in {work_dir} (no complete checkpoint there). Drop '
            f'--resume to start a new run, pass --resume auto to start from iteration 0 when '
            f'there is nothing to resume, or check --work-dir.')
    try:
        load_checkpoint_checked(str(resume))
    except CheckpointError as exc:
        raise CheckpointError(f'--resume: {exc}') from exc
    return str(resume)
