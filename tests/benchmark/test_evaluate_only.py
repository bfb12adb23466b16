"""tools/benchmark_downstream.py --load-from: a trained segmenter evaluated without training.

The PSFusion authors' SegFormer is NVIDIA's code (``mit_b2`` + the all-MLP ``SegFormerHead``),
their SegNeXt the SegNeXt authors' mmseg 0.24 code.  The tests write a SegFormer-mini's weights in
NVIDIA's key layout with this file's own renaming (:func:`to_nvlabs`, written from NVIDIA's
``mix_transformer.py`` and the PSFusion ``segformer_head.py``, independently of
``psfusion.benchmark.legacy_checkpoints``), with mmseg-0.24-style ``meta``, and check that
evaluating it gives exactly what the same weights in mmseg 1.x layout give; that NVIDIA's head and
attention, computed from the NVIDIA-layout weights, match mmseg's modules loaded with the
converted ones; and that every key of SegNeXt's own MSCAN + LightHamHead lands on mmseg 1.x's.
"""
from __future__ import annotations

import json
import os
import re
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from psfusion.benchmark.catalog import config_path
from psfusion.benchmark.legacy_checkpoints import (BN_EPS, LegacyCheckpointError, check_fits,
                                                   convert_state_dict, detect_layout)
from psfusion.benchmark.results import read_results
from psfusion.benchmark.run_config import load_config
from psfusion.benchmark.run_paths import run_folder_of
from psfusion.data.io import read_label
from psfusion.data.layouts import MSRS_CLASSES, MSRS_PALETTE
from psfusion.metrics.segmentation import load_per_image

from ._data import cached_mmseg_metainfo, make_synthetic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools'))
import benchmark_downstream  # noqa: E402

#: What an mmseg 0.24 (mmcv 1.x) training run stores beside the weights.
LEGACY_META = dict(
    mmseg_version='0.24.1+1d6f3c1', mmcv_version='1.5.0', time='Mon Jun  5 10:00:00 2023',
    config="model = dict(type='EncoderDecoder', backbone=dict(type='mit_b2', style='pytorch'), "
           "decode_head=dict(type='SegFormerHead', decoder_params=dict(embed_dim=768)))",
    CLASSES=MSRS_CLASSES, PALETTE=[list(c) for c in MSRS_PALETTE], epoch=1, iter=160000,
    hook_msgs=dict(last_ckpt='/data/work_dirs/segformer/iter_160000.pth'))
#: NVIDIA's head is a Linear per scale (no activation): mmseg's per-scale convs without one.
NVLABS_OPTIONS = ['--cfg-options', 'model.decode_head.act_cfg=None']


@pytest.fixture(scope='module', autouse=True)
def _fast_mmseg_bases():
    with cached_mmseg_metainfo():
        yield


def build_model(config: str, **changes):
    """The mmseg 1.x model of ``mmseg_configs/<config>.py`` with ``model.<a.b>=value`` changes."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    cfg = load_config(str(config_path(*config.rsplit('_', 1))))
    cfg.merge_from_dict({f'model.{k}': v for k, v in changes.items()})
    init_default_scope('mmseg')
    return MODELS.build(cfg.model).eval()


def nvlabs_like_segformer(seed: int = 0):
    """SegFormer-mini with random weights (PyTorch's default initialisation, random BN
    statistics) that NVIDIA's layout can hold: no activation after the per-scale convs, and
    their BNs the identity plus a bias (NVIDIA's Linear bias)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model('segformer_mini_synthetic', **{'decode_head.act_cfg': None})
    generator = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for key, value in state.items():
        if key.endswith('running_var'):
            state[key] = torch.rand(value.shape, generator=generator) + 0.5
        elif key.endswith('running_mean'):
            state[key] = torch.randn(value.shape, generator=generator) * 0.1
    for i in range(4):
        bn = f'decode_head.convs.{i}.bn.'
        state[bn + 'weight'] = torch.ones_like(state[bn + 'weight'])
        state[bn + 'bias'] = torch.randn(state[bn + 'bias'].shape, generator=generator) * 0.1
        state[bn + 'running_mean'] = torch.zeros_like(state[bn + 'running_mean'])
        state[bn + 'running_var'] = torch.full_like(state[bn + 'running_var'], 1 - BN_EPS)
    model.load_state_dict(state)
    return model


def to_nvlabs(state: dict) -> dict:
    """An mmseg 1.x SegFormer state dict in NVIDIA's layout (``patch_embed<s>``, ``block<s>``,
    ``attn.q``/``attn.kv``, ``mlp.fc1``/``dwconv.dwconv``/``fc2`` Linears, ``norm<s>``;
    ``linear_c<i>.proj`` Linears, ``linear_fuse`` over (c4, c3, c2, c1), ``linear_pred``, and
    the base head's unused ``conv_seg``)."""
    out = {}
    for key, value in state.items():
        if found := re.match(r'backbone\.layers\.(\d)\.0\.(projection|norm)\.(\w+)$', key):
            part = 'proj' if found[2] == 'projection' else 'norm'
            out[f'backbone.patch_embed{int(found[1]) + 1}.{part}.{found[3]}'] = value
        elif found := re.match(r'backbone\.layers\.(\d)\.1\.(\d+)\.(.+)$', key):
            block, rest = f'backbone.block{int(found[1]) + 1}.{found[2]}.', found[3]
            if rest.startswith('attn.attn.in_proj_'):
                kind, dim = rest.rsplit('_', 1)[1], value.shape[0] // 3
                out[f'{block}attn.q.{kind}'], out[f'{block}attn.kv.{kind}'] = value[:dim], \
                    value[dim:]
            elif rest.startswith('attn.attn.out_proj.'):
                out[f'{block}attn.proj.{rest.rsplit(".", 1)[1]}'] = value
            elif rest.startswith('ffn.layers.'):
                index, kind = rest.split('.')[2:4]
                name = {'0': 'mlp.fc1', '1': 'mlp.dwconv.dwconv', '4': 'mlp.fc2'}[index]
                linear = index != '1' and kind == 'weight'
                out[f'{block}{name}.{kind}'] = value.flatten(1) if linear else value
            else:
                out[block + rest] = value
        elif found := re.match(r'backbone\.layers\.(\d)\.2\.(\w+)$', key):
            out[f'backbone.norm{int(found[1]) + 1}.{found[2]}'] = value
        elif found := re.match(r'decode_head\.convs\.(\d)\.(conv|bn)\.(\w+)$', key):
            linear = f'decode_head.linear_c{int(found[1]) + 1}.proj.'
            if found[2] == 'conv':
                out[linear + 'weight'] = value.flatten(1)
            elif found[3] == 'bias':
                out[linear + 'bias'] = value
        elif key == 'decode_head.fusion_conv.conv.weight':
            out['decode_head.linear_fuse.conv.weight'] = torch.cat(value.chunk(4, 1)[::-1], 1)
        elif key.startswith('decode_head.fusion_conv.bn.'):
            out[key.replace('fusion_conv.bn.', 'linear_fuse.bn.')] = value
        elif key.startswith('decode_head.conv_seg.'):
            out[key.replace('conv_seg.', 'linear_pred.')] = value
        else:
            raise AssertionError(f'no NVIDIA name for {key}')
    out['decode_head.conv_seg.weight'] = torch.zeros(9, 128, 1, 1)  # channels=128, unused
    out['decode_head.conv_seg.bias'] = torch.zeros(9)
    return out


def legacy_checkpoint(path, state: dict) -> str:
    """Save ``state`` as an mmseg 0.24 training run does (meta, state_dict, optimizer)."""
    torch.save(dict(meta=LEGACY_META, state_dict=state,
                    optimizer=dict(state={}, param_groups=[dict(lr=6e-5, params=[0, 1])])),
               str(path))
    return str(path)


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp('evaluate_only')
    data = make_synthetic(root / 'data', num_train=2, num_test=2, size=(64, 80))
    state = nvlabs_like_segformer().state_dict()
    nvlabs = legacy_checkpoint(root / 'segformer_nvlabs.pth', to_nvlabs(state))
    current = root / 'segformer_mmseg1.pth'
    torch.save(dict(meta=dict(mmseg_version='1.2.2'), state_dict=state), str(current))
    work = root / 'work'
    argv = ['--seg', 'segformer_mini', '--dataset', 'synthetic', '--data-root', str(data),
            '--sources', 'vi', '--work-dir', str(work), '--workers', '0',
            '--image-size', '64x80']
    assert benchmark_downstream.main(argv + ['--load-from', nvlabs]) == 0
    assert benchmark_downstream.main(argv + ['--load-from', str(current)] + NVLABS_OPTIONS) == 0
    return dict(root=root, data=data, work=work, argv=argv, nvlabs=nvlabs, state=state,
                current=str(current))


def rows(bench) -> pd.DataFrame:
    return read_results(str(bench['work'] / 'results.csv'))


def test_row_is_marked_evaluated_only(bench):
    legacy, current = (row for row in rows(bench).to_dict('records'))
    assert (legacy['segmenter'], legacy['source'], legacy['seed'], legacy['tta']) == \
        ('segformer_mini', 'vi', 0, False)
    assert legacy['schedule'] == 'evaluated' and legacy['iters'] == 0
    assert legacy['batch_size'] == 0
    size = os.path.getsize(bench['nvlabs'])
    assert legacy['pretrained'] == f'segformer_nvlabs.pth:{size}'
    assert current['pretrained'].startswith('segformer_mmseg1.pth:')
    assert legacy['params'] == 879_609 and legacy['macs'] > 0 and legacy['seconds'] > 0
    folder = run_folder_of(str(bench['work']), legacy).path
    record = json.loads(open(os.path.join(folder, 'evaluated_from.json')).read())
    assert record['layout'] == 'segformer_nvlabs'
    assert record['checkpoint'] == os.path.abspath(bench['nvlabs'])
    assert record['dropped'] == ['decode_head.conv_seg.weight', 'decode_head.conv_seg.bias']
    assert record['model_settings'] == {'model.decode_head.channels': 64,
                                        'model.decode_head.act_cfg': None}
    assert record['meta']['mmseg_version'].startswith('0.24') and \
        record['meta']['CLASSES'] == list(MSRS_CLASSES)
    assert not any(name.endswith('.pth') for name in os.listdir(folder))  # nothing trained


def test_conversion_is_exact(bench):
    """The NVIDIA-layout checkpoint scores exactly as the same weights in mmseg 1.x layout:
    the same predictions, per-image histograms, metrics."""
    legacy, current = (row for row in rows(bench).to_dict('records'))
    assert legacy['config_hash'] != current['config_hash']  # two checkpoints, two rows
    for column in ('mIoU', 'mAcc', 'aAcc') + MSRS_CLASSES:
        assert (pd.isna(legacy[column]) and pd.isna(current[column])) or \
            legacy[column] == current[column], column
    folders = [run_folder_of(str(bench['work']), row) for row in (legacy, current)]
    first, second = (load_per_image(folder.per_image()) for folder in folders)
    for name in ('names', 'intersect', 'union', 'label'):
        np.testing.assert_array_equal(first[name], second[name])
    predicted = set()
    for stem in first['names'].tolist():
        a, b = (read_label(os.path.join(folder.predictions(), f'{stem}.png'))
                for folder in folders)
        np.testing.assert_array_equal(a, b)
        predicted |= set(np.unique(a).tolist())
    assert len(predicted) > 1  # not a degenerate one-class output


def test_rerun_skips_the_evaluated_checkpoint(bench, capsys):
    assert benchmark_downstream.main(bench['argv'] + ['--load-from', bench['nvlabs']]) == 0
    assert 'segformer_nvlabs.pth evaluated already' in capsys.readouterr().out
    assert len(rows(bench)) == 2


def test_unknown_keys_are_refused(bench, capsys):
    state = to_nvlabs(bench['state'])
    state['backbone.block1.0.attn.extra.weight'] = torch.zeros(3)
    state['decode_head.aux_classifier.weight'] = torch.zeros(3)
    path = legacy_checkpoint(bench['root'] / 'extra.pth', state)
    assert benchmark_downstream.main(bench['argv'] + ['--load-from', path]) == 2
    err = capsys.readouterr().err
    assert f'checkpoint {path} (NVIDIA\'s SegFormer code' in err
    assert '2 checkpoint keys have no place in it: backbone.block1.0.attn.extra.weight, ' \
        'decode_head.aux_classifier.weight' in err
    assert 'Nothing was loaded' in err and '--seg' in err
    assert len(rows(bench)) == 2


def test_load_from_takes_one_segmenter_and_one_source(bench, capsys, tmp_path):
    argv = list(bench['argv']) + ['--load-from', bench['nvlabs']]
    argv[argv.index('--work-dir') + 1] = str(tmp_path / 'work')
    argv[argv.index('--seg') + 1] = 'segformer_mini,segformer_b2'
    assert benchmark_downstream.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: --load-from evaluates one trained segmenter on one source')
    assert '(got 2 segmenters (segformer_mini, segformer_b2) and 1 source (vi))' in err
    assert err.count('\n') == 1  # one line
    argv[argv.index('--seg') + 1] = 'segformer_mini'
    argv[argv.index('--sources') + 1] = 'ir,vi'
    assert benchmark_downstream.main(argv) == 2
    assert '1 segmenter (segformer_mini) and 2 sources (ir, vi)' in capsys.readouterr().err
    assert not (tmp_path / 'work').exists()


def test_checkpoint_file_problems_stop_before_any_work(bench, capsys, tmp_path):
    argv = list(bench['argv'])
    argv[argv.index('--work-dir') + 1] = str(tmp_path / 'work')
    missing = tmp_path / 'missing.pth'
    assert benchmark_downstream.main(argv + ['--load-from', str(missing)]) == 2
    assert f'error: checkpoint {missing} not found' in capsys.readouterr().err
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(open(bench['nvlabs'], 'rb').read()[:5000])
    assert benchmark_downstream.main(argv + ['--load-from', str(cut)]) == 2
    assert f'corrupt or incomplete checkpoint {cut}' in capsys.readouterr().err
    archive = tmp_path / 'res_MSRS.zip'
    with zipfile.ZipFile(archive, 'w') as handle:
        handle.write(bench['nvlabs'], 'res_MSRS/iter_160000.pth')
    assert benchmark_downstream.main(argv + ['--load-from', str(archive)]) == 2
    assert f'{archive} is a zip archive, not a torch checkpoint: unzip it' in \
        capsys.readouterr().err
    assert not (tmp_path / 'work').exists()


# ------------------------------------------------------------------ the key mappings themselves
def test_nvlabs_head_and_attention_compute_what_nvidia_code_computes():
    """NVIDIA's head and attention, computed from NVIDIA-layout weights as its code does, equal
    mmseg's SegformerHead and attention loaded with the converted weights."""
    model = nvlabs_like_segformer(seed=1)
    nv = to_nvlabs(model.state_dict())
    conversion = convert_state_dict(nv, LEGACY_META)
    assert conversion.layout == 'segformer_nvlabs'
    converted = build_model('segformer_mini_synthetic', **{
        k[len('model.'):]: v for k, v in conversion.model_settings.items()})
    check_fits(conversion, converted.state_dict(), 'nv.pth', 'segformer_mini')
    converted.load_state_dict(conversion.state_dict, strict=True)
    generator = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, c, 16 // 2**i, 20 // 2**i, generator=generator)
             for i, c in enumerate((16, 32, 80, 128))]
    size = feats[0].shape[2:]
    parts = []
    for i in (4, 3, 2, 1):  # NVIDIA: _c4, _c3, _c2, _c1
        x = feats[i - 1]
        y = F.linear(x.flatten(2).transpose(1, 2), nv[f'decode_head.linear_c{i}.proj.weight'],
                     nv[f'decode_head.linear_c{i}.proj.bias'])
        y = y.permute(0, 2, 1).reshape(x.shape[0], -1, *x.shape[2:])
        parts.append(F.interpolate(y, size=size, mode='bilinear', align_corners=False)
                     if i != 1 else y)
    fuse = 'decode_head.linear_fuse.'
    y = F.conv2d(torch.cat(parts, 1), nv[fuse + 'conv.weight'])
    y = F.relu(F.batch_norm(y, nv[fuse + 'bn.running_mean'], nv[fuse + 'bn.running_var'],
                            nv[fuse + 'bn.weight'], nv[fuse + 'bn.bias'], False, 0.0, 1e-5))
    expected = F.conv2d(y, nv['decode_head.linear_pred.weight'],
                        nv['decode_head.linear_pred.bias'])
    with torch.no_grad():
        got = converted.decode_head(feats)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)

    # stage 1, block 0: q, kv (keys first, then values), spatial reduction 8, out projection
    x = torch.randn(2, 16 * 20, 16, generator=generator)
    p = 'backbone.block1.0.attn.'
    heads, reduce = 1, 8
    q = F.linear(x, nv[p + 'q.weight'], nv[p + 'q.bias']).reshape(2, -1, heads, 16)
    r = F.conv2d(x.transpose(1, 2).reshape(2, 16, 16, 20), nv[p + 'sr.weight'],
                 nv[p + 'sr.bias'], stride=reduce).flatten(2).transpose(1, 2)
    r = F.layer_norm(r, (16, ), nv[p + 'norm.weight'], nv[p + 'norm.bias'], 1e-5)
    kv = F.linear(r, nv[p + 'kv.weight'], nv[p + 'kv.bias']).reshape(2, -1, 2, heads, 16)
    k, v = kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(1, 2)
    attention = (q.transpose(1, 2) @ k.transpose(-2, -1) * 16**-0.5).softmax(-1)
    out = (attention @ v).transpose(1, 2).reshape(2, -1, 16)
    expected = x + F.linear(out, nv[p + 'proj.weight'], nv[p + 'proj.bias'])
    with torch.no_grad():
        got = converted.backbone.layers[0][1][0].attn(x, (16, 20))
    # NVIDIA's reduction LayerNorm has eps 1e-5, mmseg's MiT 1e-6 (its only difference)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def segnext_keys(depths) -> list[str]:
    """The state-dict keys of the SegNeXt authors' MSCAN + LightHamHead (their mscan.py and
    ham_head.py): a StemConv (conv, BN, GELU, conv, BN) then OverlapPatchEmbeds (proj, BN norm),
    blocks with layer scales, BN norms, the multi-scale attention and an MLP whose depth-wise
    conv sits in a DWConv wrapper, a LayerNorm per stage; the head's squeeze, hamburger and align
    ConvModules (GN), the classifier."""
    bn = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    wb = ['weight', 'bias']
    keys = []
    for stage, depth in enumerate(depths, 1):
        embed = f'backbone.patch_embed{stage}.'
        if stage == 1:
            keys += [f'{embed}proj.{i}.{n}' for i, names in ((0, wb), (1, bn), (3, wb), (4, bn))
                     for n in names]
        else:
            keys += [f'{embed}proj.{n}' for n in wb] + [f'{embed}norm.{n}' for n in bn]
        for j in range(depth):
            block = f'backbone.block{stage}.{j}.'
            keys += [block + 'layer_scale_1', block + 'layer_scale_2']
            keys += [f'{block}{norm}.{n}' for norm in ('norm1', 'norm2') for n in bn]
            convs = ['proj_1', 'proj_2'] + [f'spatial_gating_unit.{c}' for c in (
                'conv0', 'conv0_1', 'conv0_2', 'conv1_1', 'conv1_2', 'conv2_1', 'conv2_2',
                'conv3')]
            keys += [f'{block}attn.{c}.{n}' for c in convs for n in wb]
            keys += [f'{block}mlp.{c}.{n}' for c in ('fc1', 'dwconv.dwconv', 'fc2') for n in wb]
        keys += [f'backbone.norm{stage}.{n}' for n in wb]
    head = 'decode_head.'
    keys += [f'{head}squeeze.conv.weight', f'{head}squeeze.gn.weight', f'{head}squeeze.gn.bias',
             f'{head}hamburger.ham_in.conv.weight', f'{head}hamburger.ham_in.conv.bias',
             f'{head}hamburger.ham_out.conv.weight', f'{head}hamburger.ham_out.gn.weight',
             f'{head}hamburger.ham_out.gn.bias', f'{head}align.conv.weight',
             f'{head}align.gn.weight', f'{head}align.gn.bias', f'{head}conv_seg.weight',
             f'{head}conv_seg.bias']
    return keys


def test_segnext_keys_land_on_mmseg_mscan():
    """Every key of SegNeXt's own layout, converted, lands on mmseg 1.x's MSCAN +
    LightHamHead (tiny settings of mmseg_configs/segnext_b_synthetic.py) with its shape, and
    the model has no key left over; the NMF rank comes from the checkpoint's config or is
    SegNeXt's default, 64."""
    depths = [1, 2, 1, 1]
    model = build_model('segnext_b_synthetic', **{
        'backbone.embed_dims': [8, 16, 32, 32], 'backbone.depths': depths,
        'decode_head.in_channels': [16, 32, 32], 'decode_head.channels': 32,
        'decode_head.ham_channels': 32})
    target = model.state_dict()
    legacy_keys = segnext_keys(depths)
    renamed = {k: k.replace('.mlp.dwconv.dwconv.', '.mlp.dwconv.') for k in legacy_keys}
    legacy = {k: torch.randn(target[renamed[k]].shape).to(target[renamed[k]].dtype)
              if renamed[k] in target else torch.zeros(1) for k in legacy_keys}
    assert detect_layout(legacy) == 'segnext'
    conversion = convert_state_dict(legacy, dict(config='x = dict(ham_kwargs=dict(MD_R=16))'))
    assert sorted(conversion.state_dict) == sorted(target)
    check_fits(conversion, target, 'segnext.pth', 'segnext_b')
    model.load_state_dict(conversion.state_dict, strict=True)
    assert conversion.renamed == 2 * sum(depths)  # the dwconv weight and bias of each block
    assert conversion.model_settings == {'model.decode_head.ham_kwargs.MD_R': 16}
    assert convert_state_dict(legacy, LEGACY_META).model_settings == {
        'model.decode_head.ham_kwargs.MD_R': 64}
    for key in legacy_keys:
        assert torch.equal(conversion.state_dict[renamed[key]], legacy[key])
    # a module. prefix (a checkpoint saved from a distributed wrapper) is dropped
    wrapped = convert_state_dict({f'module.{k}': v for k, v in legacy.items()})
    assert sorted(wrapped.state_dict) == sorted(target)


def test_a_checkpoint_of_another_architecture_is_refused_with_its_shapes():
    """SegNeXt-B-like depths against a model with other depths, and 15 classes against 9."""
    model = build_model('segnext_b_synthetic', **{
        'backbone.embed_dims': [8, 16, 32, 32], 'backbone.depths': [1, 1, 1, 1],
        'decode_head.in_channels': [16, 32, 32], 'decode_head.channels': 32,
        'decode_head.ham_channels': 32})
    target = model.state_dict()
    legacy = {}
    for key in segnext_keys([1, 1, 2, 1]):
        new = key.replace('.mlp.dwconv.dwconv.', '.mlp.dwconv.')
        shape = target.get(new, target.get(new.replace('block3.1.', 'block3.0.'))).shape
        legacy[key] = torch.zeros(shape)
    legacy['decode_head.conv_seg.weight'] = torch.zeros(15, 32, 1, 1)
    legacy['decode_head.conv_seg.bias'] = torch.zeros(15)
    with pytest.raises(LegacyCheckpointError) as caught:
        check_fits(convert_state_dict(legacy), target, 'other.pth', 'segnext_b')
    message = str(caught.value)
    assert '38 checkpoint keys have no place in it: backbone.block3.1.layer_scale_1, ' \
        'backbone.block3.1.layer_scale_2, ' in message and 'and 26 more' in message
    assert 'decode_head.conv_seg.weight (15, 32, 1, 1) vs (9, 32, 1, 1)' in message
    assert 'The checkpoint has blocks per stage [1, 1, 2, 1], the model blocks per stage ' \
        '[1, 1, 1, 1].' in message
