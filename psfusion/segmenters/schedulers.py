"""Exponential warm-up of a parameter (BANet's learning-rate warm-up in SeAFusion).

The reference raises the learning rate geometrically from ``warmup_start_lr`` to ``lr0`` over
``warmup_steps`` iterations, ``lr(it) = warmup_start_lr * (lr0 / warmup_start_lr) ** (it /
warmup_steps)`` for ``it = 0 .. warmup_steps`` (its ``optimizer.py``).  mmengine has no such
scheduler: ``LinearLR`` is linear, and ``ExponentialLR`` starts from the current value instead
of a factor of it.  :class:`ExponentialWarmupLR` is the missing piece: with ``begin``/``end``
and ``T = end - begin - 1`` it sets ``value = base * start_factor ** (1 - t / T)`` at step
``begin + t``, so the first step runs at ``start_factor * base`` and step ``end - 1`` at
``base`` exactly, where a following ``PolyLR`` (``begin = end - 1``) takes over.
"""
from __future__ import annotations

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class ExponentialWarmupParamScheduler(_ParamScheduler):
    """Raise a parameter geometrically from ``start_factor * base`` to ``base`` over
    ``[begin, end)`` (see the module docstring).

    Args:
        optimizer: the wrapped optimiser.
        param_name: the parameter to schedule (``lr``, ...).
        start_factor: the factor at ``begin`` (1e-3 for BANet: 1e-5 / 1e-2), in (0, 1].
        begin, end, last_step, by_epoch, verbose: as every mmengine scheduler.
    """

    def __init__(self, optimizer, param_name: str, start_factor: float = 1e-3, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False):
        if not 0 < start_factor <= 1:
            raise ValueError(f'start_factor must be in (0, 1], got {start_factor}')
        if end == INF:
            raise ValueError('an exponential warm-up needs a finite end')
        self.start_factor = start_factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list:
        """Chainable form: ``start_factor`` at the first step, then ``start_factor ** (-1/T)``
        per step."""
        if self.last_step == 0:
            factor = self.start_factor
        else:
            factor = self.start_factor ** (-1.0 / self.total_iters)
        return [group[self.param_name] * factor for group in self.optimizer.param_groups]

    def _get_closed_form(self) -> list:
        progress = self.last_step / self.total_iters if self.total_iters else 1.0
        return [base * self.start_factor ** (1.0 - progress) for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class ExponentialWarmupLR(LRSchedulerMixin, ExponentialWarmupParamScheduler):
    """:class:`ExponentialWarmupParamScheduler` of the learning rate (``start_factor``,
    ``begin``, ``end``, ``by_epoch``)."""
