"""Shared fixtures.  ``psfusion`` is imported first: it makes mmseg importable on mmcv-lite."""
from __future__ import annotations

import os
from pathlib import Path

import psfusion  # noqa: F401  (must precede any mmseg import)
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('PSFUSION_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """The real reference images (``../shared/data``); tests using it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f'real reference data not found at {SHARED_DATA} (it exists only on the '
                    f'project machines; set PSFUSION_SHARED_DATA to point elsewhere)')
    return SHARED_DATA


def shared_subdir(shared: Path, name: str) -> Path:
    path = shared / name
    if not path.is_dir():
        pytest.skip(f'{path} not found')
    return path


@pytest.fixture(autouse=True)
def _isolated_default_scope():
    """Forget the mmengine default scopes a test created (a Runner makes its scope, e.g.
    ``psfusion``, the current one for the rest of the process), so that a later test building
    from mmseg's registries does not depend on which tests ran before it."""
    from mmengine.registry import DefaultScope

    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)
