"""Make mmsegmentation importable on ``mmcv-lite`` (mmcv without compiled ops).

mmsegmentation 1.2.2 imports ``mmcv.ops`` unguarded in four modules (``point_sample`` and
``sigmoid_focal_loss``), so ``import mmseg.models`` fails when only ``mmcv-lite`` is installed,
although the segmenters this project benchmarks (SegFormer, SegNeXt) use no compiled op.
Building full mmcv takes about 23 minutes on a 2-core machine, so instead, **only when mmcv's
compiled extension is absent**, :func:`install_light_mmcv_ops` registers a light ``mmcv.ops``:

* pure-Python submodules of the real ``mmcv/ops`` folder (``mmcv.ops.point_sample``, ...) stay
  importable and work as usual;
* every other name resolves to a placeholder that raises :class:`MissingCompiledOpError` when it
  is called or instantiated, saying which op is missing and how to get it.

It must run before the first ``import mmseg``: ``psfusion/__init__.py`` calls it, configs list
``psfusion`` in ``custom_imports`` and the test suite's ``conftest.py`` imports ``psfusion``.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types
import warnings
from typing import Any

from .errors import PsfusionError

# Names exported by mmcv.ops that are implemented in pure Python, mapped to their submodule.
PURE_PYTHON_OPS = {
    'point_sample': 'point_sample',
    'bilinear_grid_sample': 'point_sample',
    'rel_roi_point_to_rel_img_point': 'point_sample',
    'SimpleRoIAlign': 'point_sample',
    'conv2d': 'conv2d_gradfix',
    'conv_transpose2d': 'conv2d_gradfix',
}

HOW_TO_FIX = (
    "mmcv-lite ships no compiled ops. Either choose a model that does not need it (SegFormer and "
    "SegNeXt do not), or install full mmcv 2.1.0 built with its ops: "
    "`MMCV_WITH_OPS=1 FORCE_CUDA=0 pip install --no-build-isolation mmcv==2.1.0` "
    "(about 23 minutes on 2 cores; on a GPU machine install the matching prebuilt wheel).")


class MissingCompiledOpError(PsfusionError, RuntimeError):
    """Raised when code calls an mmcv op that needs mmcv's compiled extension."""


def has_compiled_mmcv_ops() -> bool:
    """True when full mmcv (with its compiled ``mmcv._ext``) is installed.

    Looks in mmcv's folder without importing mmcv (which imports torch: seconds).
    """
    try:
        spec = importlib.util.find_spec('mmcv')
        if spec is None or not spec.submodule_search_locations:
            return False
        return importlib.machinery.PathFinder.find_spec(
            'mmcv._ext', list(spec.submodule_search_locations)) is not None
    except (ImportError, ValueError):
        return False


def _missing_op(name: str) -> Any:
    """A placeholder for a compiled op: importable, but raising a clear error when used."""
    message = f'mmcv.ops.{name} needs mmcv\'s compiled extension (mmcv._ext), which is absent. '

    class _MissingOpMeta(type):

        def __call__(cls, *args, **kwargs):  # calling a function or building a module
            raise MissingCompiledOpError(message + HOW_TO_FIX)

    return _MissingOpMeta(name, (), {'__doc__': message + HOW_TO_FIX, '__module__': 'mmcv.ops'})


class _LightOpsModule(types.ModuleType):
    """``mmcv.ops`` without compiled code: see the module docstring."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith('__'):
            raise AttributeError(name)
        if name in PURE_PYTHON_OPS:
            submodule = importlib.import_module(f'mmcv.ops.{PURE_PYTHON_OPS[name]}')
            value = getattr(submodule, name)
        else:
            value = _missing_op(name)
        setattr(self, name, value)
        return value


class _OpsAttributeLoader:
    """mmcv's own loader, which sets ``mmcv.ops`` to the light module once mmcv has run."""

    def __init__(self, loader: Any, finder: '_SetOpsWhenImported'):
        self._loader, self._finder = loader, finder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        module.__loader__ = module.__spec__.loader = self._loader  # the real loader from now on
        self._loader.exec_module(module)
        module.ops = self._finder.ops


class _SetOpsWhenImported:
    """A ``sys.meta_path`` finder for ``mmcv`` alone: the spec the other finders give, with a
    loader that sets ``mmcv.ops`` after the import (``sys.modules['mmcv.ops']`` is already the
    light module).  It leaves ``sys.meta_path`` when mmcv is imported."""

    def __init__(self, ops: types.ModuleType):
        self.ops = ops

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != 'mmcv':
            return None
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            spec = None if finder is self or find is None else find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _OpsAttributeLoader(spec.loader, self)
                return spec
        return None


def install_light_mmcv_ops() -> bool:
    """Register the light ``mmcv.ops`` if mmcv's compiled ops are absent.

    Returns True when the light module was installed (now or earlier), False when full mmcv is
    present (then nothing is changed) or mmcv is not installed at all.
    """
    existing = sys.modules.get('mmcv.ops')
    if isinstance(existing, _LightOpsModule):
        return True
    spec = importlib.util.find_spec('mmcv')
    if spec is None or not spec.submodule_search_locations or has_compiled_mmcv_ops():
        return False
    ops_dir = os.path.join(list(spec.submodule_search_locations)[0], 'ops')
    module = _LightOpsModule('mmcv.ops', __doc__)
    module.__path__ = [ops_dir]  # lets `import mmcv.ops.point_sample` find the real file
    module.__file__ = os.path.join(ops_dir, '__init__.py')
    module.__package__ = 'mmcv.ops'
    sys.modules['mmcv.ops'] = module
    if 'mmcv' in sys.modules:
        sys.modules['mmcv'].ops = module
    else:
        # mmcv imports torch (seconds): importing `psfusion` must not import it, so the
        # attribute `mmcv.ops` is set when something imports mmcv (see _SetOpsWhenImported).
        sys.meta_path.insert(0, _SetOpsWhenImported(module))
    # mmcv.cnn warns on import that the deformable attention op is missing; this module
    # already explains it (and raises) where such an op is actually used.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    return True
