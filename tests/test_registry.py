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


def test_builds_in_own_scope_after_another_scope_became_current():
    """An mmseg Runner leaves 'mmseg' as the current default scope; our registries must still
    resolve plain names in the psfusion scope."""
    from mmengine.registry import DefaultScope
    import psfusion.data  # noqa: F401  (registers the transforms)
    DefaultScope.get_instance('test-mmseg-scope-left-current', scope_name='mmseg')
    assert DefaultScope.get_current_instance().scope_name == 'mmseg'
    step = TRANSFORMS.build(dict(type='PadToMultiple', divisor=16))
    assert type(step).__name__ == 'PadToMultiple' and step.divisor == 16
    assert DefaultScope.get_current_instance().scope_name == 'mmseg'  # restored afterwards
