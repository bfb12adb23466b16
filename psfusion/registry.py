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
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import DefaultScope, Registry

SCOPE = 'psfusion'


class ScopedRegistry(Registry):
    """A registry that builds in its own scope, whatever mmengine's current default scope is.

    mmengine resolves a plain type name in the *current default scope*, which is global state:
    after an mmseg Runner has run in the same process (the benchmark does this), building
    ``dict(type='LoadFusionPair')`` through this registry would look in ``mmseg::transform``
    and fail.  Building through a ``psfusion`` registry therefore always resolves plain names
    in the ``psfusion`` scope (other scopes stay reachable with a prefix, e.g.
    ``'mmseg.LoadAnnotations'``).
    """

    def build(self, cfg, *args, **kwargs):
        with DefaultScope.overwrite_default_scope(self.scope):
            return super().build(cfg, *args, **kwargs)

DATASETS = ScopedRegistry(
    'dataset', parent=MMENGINE_DATASETS, scope=SCOPE, locations=['psfusion.data.datasets'])
DATA_SAMPLERS = ScopedRegistry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE,
    locations=['psfusion.data.datasets'])
TRANSFORMS = ScopedRegistry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE,
    locations=['psfusion.data.transforms'])
MODELS = ScopedRegistry(
    'model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['psfusion.models'])
MODEL_WRAPPERS = ScopedRegistry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=SCOPE, locations=['psfusion.engine'])
METRICS = ScopedRegistry(
    'metric', parent=MMENGINE_METRICS, scope=SCOPE, locations=['psfusion.metrics.evaluator'])
EVALUATOR = ScopedRegistry(
    'evaluator', parent=MMENGINE_EVALUATOR, scope=SCOPE, locations=['psfusion.metrics'])
HOOKS = ScopedRegistry(
    'hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['psfusion.engine'])
LOOPS = ScopedRegistry(
    'loop', parent=MMENGINE_LOOPS, scope=SCOPE, locations=['psfusion.engine'])
OPTIM_WRAPPERS = ScopedRegistry(
    'optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE, locations=['psfusion.engine'])
PARAM_SCHEDULERS = ScopedRegistry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['psfusion.engine'])
VISUALIZERS = ScopedRegistry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope=SCOPE, locations=['psfusion.engine'])
VISBACKENDS = ScopedRegistry(
    'vis backend', parent=MMENGINE_VISBACKENDS, scope=SCOPE, locations=['psfusion.engine'])
# Fusion methods for the fused-dataset writer (psfusion.fusers): no mmengine counterpart.
FUSERS = ScopedRegistry('fuser', scope=SCOPE, locations=['psfusion.fusers'])
