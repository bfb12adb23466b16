"""The psfusion registry scope: children of mmengine's registries."""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS

from psfusion.registry import DATASETS, SCOPE, TRANSFORMS


def test_registries_are_children_of_mmengine():
    assert SCOPE == 'psfusion'
    assert DATASETS.parent is MMENGINE_DATASETS
    assert DATASETS.scope == 'psfusion'
    assert 'psfusion' in MMENGINE_DATASETS.children


def test_project_objects_resolve_from_mmengine_root_with_scope_prefix(tmp_path):
    from psfusion.data import MSRSDataset  # noqa: F401  (registers)
    assert MMENGINE_DATASETS.get('psfusion.MSRSDataset') is MSRSDataset
    assert MMENGINE_TRANSFORMS.get('psfusion.PadToMultiple') is TRANSFORMS.get('PadToMultiple')
