"""The ``psfusion`` registry scope.

Every registry here is a child of mmengine's root registry of the same kind, so that objects
registered in this project are found by an mmengine :class:`~mmengine.runner.Runner` whose
``default_scope`` is ``'psfusion'``, and mmengine's own objects (hooks, optimizers, schedulers,
...) stay reachable from it.  Under another default scope (e.g. ``'mmseg'``), refer to this
project's objects with the scope prefix: ``dict(type='psfusion.MSRSDataset', ...)``.

``locations`` lists the modules that register into each registry, so that mmengine imports them
on demand when a config names an object of this scope.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

SCOPE = 'psfusion'

DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope=SCOPE, locations=['psfusion.data'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE, locations=['psfusion.data'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=['psfusion.data'])
MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['psfusion.models'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope=SCOPE, locations=['psfusion.metrics'])
EVALUATOR = Registry(
    'evaluator', parent=MMENGINE_EVALUATOR, scope=SCOPE, locations=['psfusion.metrics'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['psfusion.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=SCOPE, locations=['psfusion.engine'])
OPTIM_WRAPPERS = Registry(
    'optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE, locations=['psfusion.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['psfusion.engine'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope=SCOPE, locations=['psfusion.engine'])
VISBACKENDS = Registry(
    'vis backend', parent=MMENGINE_VISBACKENDS, scope=SCOPE, locations=['psfusion.engine'])
