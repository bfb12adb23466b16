"""The authors' released PSFusion weights (``best_model.pth`` of github.com/Linfeng-Tang/PSFusion)
mapped onto this project's network.

The official checkpoint is ``{'MTAN': state_dict, 'optimizer': ..., 'ep': ..., 'total_it': ...,
'best_mIou': ...}`` (its ``saver.py``); the state dict's names follow the official ``PSF.py``
(``encoder_rgb_conv1.SFEB1.0.weight``, ``high_fuse6.obj_fuse.Q.basicconv.0.weight``, ...).
:func:`convert_official_state_dict` renames every key to this project's module names
(:data:`RULES`, applied in order, first match wins) and checks the result against the model of
``psfusion/configs/psfusion_r34_msrs_official.py``: the switches there make this network compute
what the official one computes with the same weights (see that config).

Two official layers are never used by the official forward pass (``classfier.boundary_conv1``
and ``classfier.boundary_conv2``, 9,474 parameters); they are dropped and reported.  Any other
key that no rule places, and any model weight no official key fills, is an error: nothing is
converted partially.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch

from ..errors import PsfusionError

#: Official modules whose weights the official forward pass never reads (dropped, reported).
UNUSED_PREFIXES = ('classfier.boundary_conv1.', 'classfier.boundary_conv2.')

# Sub-module renames inside the blocks (official index -> ours).
_SFEB1 = {'0': '0.conv', '1': '0.bn', '2.conv_frelu': '1.spatial.conv',
          '2.bn_frelu': '1.spatial.bn', '3': '2.conv', '4': '2.bn',
          '5.conv_frelu': '3.spatial.conv', '5.bn_frelu': '3.spatial.bn'}
_SFEB2 = {'0': '0.conv', '1': '0.bn', '2.conv_frelu': '1.spatial.conv',
          '2.bn_frelu': '1.spatial.bn', '3': '2'}
_GATE = {'1': '1.conv', '2': '1.bn', '4': '2.conv', '5': '2.bn'}  # GAP, conv, BN, ReLU, conv, BN
_LOCAL_SDFM = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn'}
_LOCAL_MASK = {'0': '0.conv', '1': '0.bn', '3': '1.conv', '4': '1.bn', '6': '2.conv', '7': '2.bn'}
_BASIC = {'basicconv.0': 'conv', 'basicconv.1': 'bn'}  # the official BBasicConv2d
_DOUBLE_BN = {'0.conv': '0.conv', '0.bn': '0.bn', '1': '1'}  # BasicConv2d (conv, bn), then BN
_GEFM = {'Q': 'query', 'RGB_K': 'key_vi', 'RGB_V': 'value_vi', 'INF_K': 'key_ir',
         'INF_V': 'value_ir', 'Second_reduce': 'fuse'}
_SIM = {'mlp_shared.0': 'shared.0', 'mlp_gamma.0': 'gamma', 'mlp_beta': 'beta', 'bn': 'norm'}


def _table(official: str, ours: str, table: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(rf'{official}\.{re.escape(k)}\.(weight|bias|running_mean|running_var|'
             rf'num_batches_tracked)$', rf'{ours}.{v}.\1') for k, v in table.items()]


def _rules() -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    for off, ours in (('rgb', 'vi'), ('thermal', 'ir')):
        enc = f'encoder_{ours}'
        rules += _table(f'encoder_{off}_conv1\\.SFEB1', f'{enc}.sfeb1', _SFEB1)
        rules += _table(f'encoder_{off}_conv1\\.SFEB2', f'{enc}.sfeb2', _SFEB2)
        rules.append((rf'encoder_{off}_bn1\.(.+)$', rf'{enc}.trunk.bn1.\1'))
        for level, layer in ((3, 1), (4, 2), (5, 3), (6, 4)):
            rules.append((rf'encoder_{off}_layer{level}\.(.+)$', rf'{enc}.trunk.layer{layer}.\1'))
    for level in (1, 2, 3):  # SDFM
        out, fuse = f'fuse_levels.{level - 1}', f'low_fuse{level}'
        for off, ours in (('RGBobj1_1', 'adapt_vi.0'), ('RGBobj1_2', 'adapt_vi.1'),
                          ('RGBspr', 'adapt_vi.2'), ('Infobj1_1', 'adapt_ir.0'),
                          ('Infobj1_2', 'adapt_ir.1'), ('Infspr', 'adapt_ir.2')):
            rules += _table(f'{fuse}\\.{off}', f'{out}.{ours}', _BASIC)
        rules += _table(f'{fuse}\\.obj_fuse\\.Recalibrate', f'{out}.reinforce_gate', _GATE)
        rules += _table(f'{fuse}\\.obj_fuse\\.channel_agg', f'{out}.aggregate',
                        {'0': 'conv', '1': 'bn'})
        rules += _table(f'{fuse}\\.obj_fuse\\.local_att', f'{out}.local_att', _LOCAL_SDFM)
        rules += _table(f'{fuse}\\.obj_fuse\\.global_att', f'{out}.global_att', _GATE)
    for level in (4, 5, 6):  # PSFM
        out, fuse = f'fuse_levels.{level - 1}', f'high_fuse{level}'
        for off, ours in (('RGBobj', 'dense_vi'), ('Infobj', 'dense_ir')):
            rules.append((rf'{fuse}\.{off}\.down\.(weight|bias)$', rf'{out}.{ours}.reduce.\1'))
            rules += [(rf'{fuse}\.{off}\.denseblock\.(\d+)\.basicconv\.0\.(.+)$',
                       rf'{out}.{ours}.layers.\1.conv.\2'),
                      (rf'{fuse}\.{off}\.denseblock\.(\d+)\.basicconv\.1\.(.+)$',
                       rf'{out}.{ours}.layers.\1.bn.\2')]
            rules += _table(f'{fuse}\\.{off}\\.fuse', f'{out}.{ours}.fuse', _BASIC)
        for off, ours in _GEFM.items():
            rules += _table(f'{fuse}\\.obj_fuse\\.{off}', f'{out}.attention.{ours}', _BASIC)
        rules += [(rf'{fuse}\.obj_fuse\.gamma1$', f'{out}.attention.gain_vi'),
                  (rf'{fuse}\.obj_fuse\.gamma2$', f'{out}.attention.gain_ir')]
    # SIM1(F2, F3) and SIM2(F1, .) are our PSIM's inject2 and inject1; SIM3 injects F_se.
    for off, ours in (('SIM1', 'psim.inject2'), ('SIM2', 'psim.inject1'), ('SIM3', 'sim')):
        rules += _table(off, ours, _SIM)
    rules.append((r'to_fused_seg\.(\d+)\.0\.(weight|bias)$', r'semantic_gather.convs.\1.\2'))
    for block in (1, 2, 3):
        rules += _table(f'seg_decoder\\.block{block}', f's2pm.{block - 1}', {
            '0.conv': '0.conv', '0.bn': '0.bn', '1': '1'})
    for off, ours in (('rec_decoder', 'dsrm1'), ('seg_rec_decoder', 'dsrm2')):
        for block in (1, 2, 3, 4):
            rules += _table(f'{off}\\.block{block}', f'{ours}.blocks.{block - 1}', _DOUBLE_BN)
    rules += _table('classfier\\.binary_conv1', 's2p2.binary.0', {'conv': 'conv', 'bnop': 'bn'})
    rules += _table('classfier', 's2p2', {'binary_conv2': 'binary.1',
                                          'semantic_conv2': 'semantic',
                                          'boundary_conv.3': 'boundary.1'})
    rules += _table('classfier\\.semantic_conv1', 's2p2.semantic_feat',
                    {'conv': 'conv', 'bnop': 'bn'})
    rules += _table('classfier\\.boundary_conv', 's2p2.boundary.0', {'0': 'conv', '1': 'bn'})
    rules += _table('pred_fusion', 'fusion_path', {'conv_block.0': 'conv'})
    for off, ours in (('pred_vi', 'fidelity_vi'), ('pred_ir', 'fidelity_ir')):
        rules += _table(f'{off}\\.mask\\.local_att', f'{ours}.mask.local_att', _LOCAL_MASK)
        rules += _table(f'{off}\\.mask\\.global_att', f'{ours}.mask.global_att', _GATE)
        rules += _table(off, ours, {'mask.conv_block': 'mask.norm', 'conv_block.0': 'conv'})
    return [(re.compile('^' + pattern), target) for pattern, target in rules]


#: ``(compiled pattern, replacement)`` pairs from official names to ours, tried in order.
RULES = _rules()


class OfficialCheckpointError(PsfusionError, ValueError):
    """The official state dict does not map one-to-one onto the model."""


def official_state_dict(checkpoint: Mapping) -> dict:
    """The network weights inside an official checkpoint: its ``MTAN`` entry (``saver.py``),
    a ``state_dict`` entry, or the mapping itself; a ``module.`` prefix (DataParallel) is
    removed."""
    state = checkpoint.get('MTAN', checkpoint.get('state_dict', checkpoint))
    if not isinstance(state, Mapping):
        raise OfficialCheckpointError('the checkpoint holds no state dict (expected the '
                                      "official saver's {'MTAN': state_dict, ...})")
    return {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state.items()}


def dropped_layers(dropped: list[str]) -> list[str]:
    """The unused official layers (:data:`UNUSED_PREFIXES`, without the dot) ``dropped`` holds."""
    return [p.rstrip('.') for p in UNUSED_PREFIXES if any(k.startswith(p) for k in dropped)]


def rename_official_key(key: str) -> str | None:
    """Our name for an official key, or None when no rule places it."""
    for pattern, target in RULES:
        if pattern.match(key):
            return pattern.sub(target, key)
    return None


def convert_official_state_dict(official: Mapping[str, torch.Tensor],
                                model_state: Mapping[str, torch.Tensor]
                                ) -> tuple[dict, list[str]]:
    """Rename the official weights to ``model_state``'s names and check them one to one.

    Args:
        official: the official network's state dict (:func:`official_state_dict`).
        model_state: the state dict of the model to load (the official config's), for the names
            and shapes to check against.

    Returns:
        ``(converted state dict, dropped official keys)``; the dropped keys are the weights of
        the official code's unused layers (:data:`UNUSED_PREFIXES`).

    Raises:
        OfficialCheckpointError: a key no rule places, a key placed twice, a shape that differs,
            or a model weight left unfilled; the message lists them (up to ten of each).
    """
    converted, dropped, unplaced, clashes, shapes = {}, [], [], [], []
    for key, value in official.items():
        if key.startswith(UNUSED_PREFIXES):
            dropped.append(key)
            continue
        ours = rename_official_key(key)
        if ours is None or ours not in model_state:
            unplaced.append(key if ours is None else f'{key} -> {ours} (not in the model)')
            continue
        if ours in converted:
            clashes.append(f'{key} -> {ours}')
            continue
        if tuple(value.shape) != tuple(model_state[ours].shape):
            shapes.append(f'{key} {tuple(value.shape)} -> {ours} {tuple(model_state[ours].shape)}')
            continue
        converted[ours] = value
    missing = [key for key in model_state if key not in converted]
    problems = []
    for title, items in (('official keys no rule places', unplaced),
                         ('official keys placed twice', clashes),
                         ('shape differences', shapes),
                         ('model weights no official key fills', missing)):
        if items:
            shown = ', '.join(items[:10]) + (f' ... ({len(items)} in all)'
                                             if len(items) > 10 else '')
            problems.append(f'{len(items)} {title}: {shown}')
    if problems:
        raise OfficialCheckpointError(
            '; '.join(problems) + '. Is it the official PSFusion checkpoint (PSF.py, ResNet-34, '
            '9 classes), converted for psfusion/configs/psfusion_r34_msrs_official.py?')
    return converted, dropped
