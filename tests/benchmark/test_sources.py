"""Source parsing and the resolution of fused-image folders."""
from __future__ import annotations

import os

import numpy as np
import pytest

from psfusion.benchmark.sources import Source, parse_source, parse_sources, \
    resolve_fused_images
from psfusion.data.io import DataError

from ._data import save


def _images(folder, stems):
    for stem in stems:
        save(folder / f'{stem}.png', np.zeros((4, 4), np.uint8))


def test_parse_sources(tmp_path):
    sources = parse_sources(f'ir, vi,psfusion={tmp_path}')
    assert sources == [Source('ir', 'ir'), Source('vi', 'vi'),
                       Source('psfusion', 'fused', str(tmp_path))]
    assert sources[2].is_fused and not sources[0].is_fused


def test_builtin_fusion_methods_are_sources():
    """Registered fusers that need no model files are sources by name; PSFusion (a config and
    a checkpoint) is not."""
    assert parse_source('avg') == Source('avg', 'fused', None, method='avg')
    assert parse_source('average').is_builtin
    with pytest.raises(ValueError, match=r"unknown source 'psfusion'.*built-in fusion method "
                       r"\(.*avg"):
        parse_source('psfusion')
    given = parse_source('gtf=/tmp')  # a folder of the method's own outputs: read, not fused
    assert given == Source('gtf', 'fused', '/tmp') and not given.is_builtin


@pytest.mark.parametrize('text, message', [
    ('rgb', "unknown source 'rgb'"),
    ('ir=somewhere', 'reserved'),
    ('bad name=x', 'source name'),
    ('x=', 'no folder'),
])
def test_parse_source_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_source(text)


def test_parse_source_missing_folder_and_duplicates(tmp_path):
    with pytest.raises(DataError, match='nowhere.*not found'):
        parse_source(f'seafusion={tmp_path}/nowhere')
    with pytest.raises(ValueError, match='given twice: vi'):
        parse_sources('vi,ir,vi')
    with pytest.raises(ValueError, match='no source'):
        parse_sources(' , ')


@pytest.mark.parametrize('layout', ['test/fused', 'test', 'fused', 'images', '.'])
def test_each_layout_is_found(tmp_path, layout):
    _images(tmp_path / layout, ['00001D', '00002N'])
    found = resolve_fused_images(str(tmp_path), 'test', ['00001D', '00002N'])
    assert found == {s: os.path.normpath(str(tmp_path / layout / f'{s}.png'))
                     for s in ['00001D', '00002N']}


def test_first_complete_folder_wins(tmp_path):
    _images(tmp_path / 'test' / 'fused', ['00001D'])  # incomplete: skipped
    _images(tmp_path / 'test', ['00001D', '00002N'])
    _images(tmp_path, ['00001D', '00002N'])
    found = resolve_fused_images(str(tmp_path), 'test', ['00001D', '00002N'])
    assert found['00002N'] == str(tmp_path / 'test' / '00002N.png')


def test_missing_fused_image_names_stem_and_folder(tmp_path):
    _images(tmp_path / 'test' / 'fused', ['00001D', '00002N'])
    with pytest.raises(DataError) as info:
        resolve_fused_images(str(tmp_path), 'test', ['00001D', '00002N', '00003D'])
    message = str(info.value)
    assert '00003D' in message and str(tmp_path / 'test' / 'fused') in message
    assert '00001D' not in message.split('not found')[0]
    with pytest.raises(DataError, match='no fused images'):
        resolve_fused_images(str(tmp_path), 'train', ['00001D'])


def test_split_placeholder_for_splits_fused_into_separate_folders(tmp_path):
    _images(tmp_path / 'fused_train' / 'train' / 'fused', ['00001D'])
    _images(tmp_path / 'fused_test' / 'test' / 'fused', ['00002N'])
    source = parse_source(f'psfusion={tmp_path}/fused_{{split}}')
    assert source.folder == f'{tmp_path}/fused_{{split}}'
    assert resolve_fused_images(source.folder, 'train', ['00001D']) == {
        '00001D': str(tmp_path / 'fused_train' / 'train' / 'fused' / '00001D.png')}
    assert resolve_fused_images(source.folder, 'test', ['00002N'])['00002N'].endswith(
        'fused_test/test/fused/00002N.png')
    with pytest.raises(DataError, match="fused_val: fused-image folder not found \\(split 'val'"):
        resolve_fused_images(source.folder, 'val', ['00003D'])


def test_the_layouts_output_folder_is_searched_first(tmp_path):
    """A dataset's own fused-output folder (``layout.output_dir``) wins over the candidates."""
    _images(tmp_path / 'test' / 'fused', ['00001D'])
    _images(tmp_path / 'fused', ['00001D'])
    found = resolve_fused_images(str(tmp_path), 'test', ['00001D'], layout_dir='fused')
    assert found == {'00001D': str(tmp_path / 'fused' / '00001D.png')}
    assert resolve_fused_images(str(tmp_path), 'test', ['00001D'])['00001D'] == \
        str(tmp_path / 'test' / 'fused' / '00001D.png')


def test_fusion_identity_comes_from_the_manifests_and_splits_must_agree(tmp_path):
    import json

    from psfusion.benchmark.sources import Source, fusion_identity

    assert fusion_identity(Source('ir', 'ir')) == ''
    for split, checkpoint in (('train', 'a' * 64), ('test', 'a' * 64)):
        folder = tmp_path / f'fused_{split}'
        folder.mkdir()
        (folder / 'manifest.json').write_text(json.dumps(dict(
            method='psfusion', identity=dict(checkpoint_sha256=checkpoint, random_seed=0))))
    source = Source('psfusion', 'fused', str(tmp_path / 'fused_{split}'))
    assert fusion_identity(source) == 'psfusion checkpoint_sha256=aaaaaaaaaaaa random_seed=0'
    (tmp_path / 'fused_test' / 'manifest.json').write_text(json.dumps(dict(
        method='psfusion', identity=dict(checkpoint_sha256='b' * 64, random_seed=0))))
    with pytest.raises(DataError, match=r"source 'psfusion': its splits were fused by different "
                       r'methods or checkpoints \(train: psfusion checkpoint_sha256=aaaaaaaaaaaa '
                       r'random_seed=0; test: psfusion checkpoint_sha256=bbbbbbbbbbbb'):
        fusion_identity(source)
    (tmp_path / 'plain').mkdir()
    assert fusion_identity(Source('other', 'fused', str(tmp_path / 'plain'))) == 'no manifest'
