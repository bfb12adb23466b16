"""Learning-rate schedulers of fusion training in the ``psfusion`` scope.

``ExponentialWarmupLR`` (the geometric warm-up of the authors' ``optimizer.py``, for
``warmup='exp'``) is the benchmark's BANet scheduler (:mod:`psfusion.segmenters.schedulers`,
registered in mmseg's scope); it is registered here too so that fusion configs find it.
"""
from ..registry import PARAM_SCHEDULERS
from ..segmenters.schedulers import ExponentialWarmupLR

PARAM_SCHEDULERS.register_module(name='ExponentialWarmupLR', module=ExponentialWarmupLR)

__all__ = ['ExponentialWarmupLR']
