"""Trained segmenters saved by mmseg 0.x code, as state dicts of this benchmark's mmseg 1.x models.

The PSFusion authors released their downstream segmenters (SegNeXt for MSRS and MFNet, SegFormer
for MSRS) as checkpoints of their mmseg-0.24-based code.  :func:`convert_state_dict` recognises a
checkpoint's key layout (:func:`detect_layout`) and renames its keys to mmseg 1.x's; the result is
loaded strictly into the configured model after :func:`check_fits` compared every key and shape.
The layouts (``LAYOUTS``), from reading each code base against mmseg 1.2.2:

``mmseg`` - mmseg 1.x, and mmseg 0.24's own ``MixVisionTransformer`` + ``SegformerHead`` (the
    0.24.1 and 1.2.2 files differ only in imports and registries: same module names).  No key is
    renamed.

``segnext`` - the SegNeXt authors' code (``Visual-Attention-Network/SegNeXt``, mmseg 0.24.1),
    ``MSCAN`` + ``LightHamHead``, which the PSFusion authors' SegNeXt configs use.  One rename:
    ``backbone.block<s>.<j>.mlp.dwconv.dwconv.{weight,bias}`` ->
    ``backbone.block<s>.<j>.mlp.dwconv.{weight,bias}`` (mmseg 1.x dropped the ``DWConv`` wrapper;
    mmseg's pull request #2653 converted the MSCAN ImageNet weights the same way).  Every other
    name (stem ``proj.0/1/3/4``, ``patch_embed<s>.proj/norm``, ``norm1/2``, ``layer_scale_1/2``,
    ``attn.proj_1/proj_2/spatial_gating_unit.conv*``, ``mlp.fc1/fc2``, ``norm<s>``, and the
    head's ``squeeze``, ``hamburger.ham_in/ham_out``, ``align``, ``conv_seg``) is the same.
    Model setting: the head's NMF rank.  SegNeXt's code defaults to ``MD_R=64``
    (``ham_head.py``, ``args.setdefault('MD_R', 64)``) and its Base/Large configs, like the PSFusion
    authors', set none; mmseg 1.x's SegNeXt configs (and this benchmark's ``segnext_b``/``_l``)
    use 16.  The rank has no weights, so it is taken from the checkpoint's config text
    (``meta['config']``) when that names it, else 64: ``model.decode_head.ham_kwargs.MD_R``.

``segformer_nvlabs`` - NVIDIA's SegFormer code (``NVlabs/SegFormer``: backbone ``mit_b<N>``, the
    all-MLP ``SegFormerHead`` with ``decoder_params.embed_dim``), which the PSFusion authors'
    ``local_configs/segformer/B2`` config uses (``type='mit_b2'``, ``embed_dim=768``) - not
    mmseg 0.24's MiT.  Backbone renames (as mmseg's ``tools/model_converters/mit2mmseg.py``)::

        patch_embed<s>.proj.*        -> layers.<s-1>.0.projection.*
        patch_embed<s>.norm.*        -> layers.<s-1>.0.norm.*
        block<s>.<j>.attn.q.* + .kv.* -> layers.<s-1>.1.<j>.attn.attn.in_proj_{weight,bias}
                                        (q's rows, then kv's)
        block<s>.<j>.attn.proj.*     -> layers.<s-1>.1.<j>.attn.attn.out_proj.*
        block<s>.<j>.mlp.fc1.*       -> layers.<s-1>.1.<j>.ffn.layers.0.* (Linear -> 1x1 conv)
        block<s>.<j>.mlp.dwconv.dwconv.* -> layers.<s-1>.1.<j>.ffn.layers.1.*
        block<s>.<j>.mlp.fc2.*       -> layers.<s-1>.1.<j>.ffn.layers.4.* (Linear -> 1x1 conv)
        block<s>.<j>.{norm1,norm2,attn.sr,attn.norm}.* -> layers.<s-1>.1.<j>.<same>.*
        norm<s>.*                    -> layers.<s-1>.2.*

    and the head (all under ``decode_head.``)::

        linear_c<i>.proj.weight      -> convs.<i-1>.conv.weight (Linear -> 1x1 conv)
        linear_c<i>.proj.bias        -> convs.<i-1>.bn.bias, with an identity BN (weight 1,
                                        running mean 0, running var 1 - eps: exact in float32)
        linear_fuse.conv.weight      -> fusion_conv.conv.weight, input blocks reordered from
                                        NVIDIA's concatenation (c4, c3, c2, c1) to (c1, ..., c4)
        linear_fuse.bn.*             -> fusion_conv.bn.*
        linear_pred.*                -> conv_seg.*
        conv_seg.*                   dropped (mmseg 0.x's base-head classifier, which NVIDIA's
                                     head creates but never uses)

    Model settings: ``model.decode_head.channels`` = the MLP width (768 for the authors' B2) and
    ``model.decode_head.act_cfg=None`` (NVIDIA's per-scale MLPs have no activation; mmseg's
    fusion conv keeps its ReLU, as NVIDIA's ``linear_fuse``).  The converted model computes what
    NVIDIA's does, but for one constant mmseg's MiT does not expose: NVIDIA's patch-embedding and
    spatial-reduction LayerNorms use eps 1e-5, mmseg's MiT uses 1e-6 for all its LayerNorms (a
    relative difference of about 1e-5 / variance in those norms' outputs).

A ``module.`` prefix on every key (a checkpoint saved from a distributed wrapper) is removed
first.  Keys that no rule covers keep their names; :func:`check_fits` then reports any that the
model lacks, with every missing key and shape difference, and nothing is loaded.  BANet's
released ``model_PSFusion.pth`` comes from plain PyTorch code (SeAFusion's ``model_TII.py``),
not from mmseg; none of these layouts covers it.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import torch

from ..errors import CheckpointError

#: What each layout is (messages and the run folder's ``evaluated_from.json``).
LAYOUTS = {
    'mmseg': 'mmseg 1.x (or mmseg 0.24 MiT/SegFormer) names, no renaming',
    'segnext': "SegNeXt authors' mmseg 0.24 code (Visual-Attention-Network/SegNeXt)",
    'segformer_nvlabs': "NVIDIA's SegFormer code (NVlabs/SegFormer mit_b* + MLP head)",
}
#: The BN eps of mmseg's ConvModule (the identity BN of the converted SegFormer MLPs).
BN_EPS = 1e-5
#: The NMF rank of SegNeXt's own LightHamHead when a config gives none (its ham_head.py).
SEGNEXT_DEFAULT_MD_R = 64
_SHOWN = 12

_NV_ATTN = re.compile(r'^backbone\.block\d+\.\d+\.attn\.(q|kv)\.')
_SEGNEXT_DW = re.compile(r'^(backbone\.block\d+\.\d+\.mlp\.dwconv)\.dwconv\.(weight|bias)$')
_NV_PATCH = re.compile(r'^backbone\.patch_embed(\d+)\.(proj|norm)\.(weight|bias)$')
_NV_BLOCK = re.compile(r'^backbone\.block(\d+)\.(\d+)\.(.+)$')
_NV_NORM = re.compile(r'^backbone\.norm(\d+)\.(weight|bias)$')
_NV_MLP = re.compile(r'^decode_head\.linear_c(\d+)\.proj\.(weight|bias)$')
#: Parts of an NVIDIA MiT block that keep their names (under ``layers.<s-1>.1.<j>.``).
_NV_SAME = ('norm1.', 'norm2.', 'attn.sr.', 'attn.norm.')
#: NVIDIA MiT block parts renamed (prefix -> mmseg prefix); Linear weights become 1x1 convs.
_NV_RENAMED = {'attn.proj.': 'attn.attn.out_proj.', 'mlp.fc1.': 'ffn.layers.0.',
               'mlp.dwconv.dwconv.': 'ffn.layers.1.', 'mlp.fc2.': 'ffn.layers.4.'}
_MD_R = re.compile(r"""['"]?MD_R['"]?\s*[=:]\s*(\d+)""")


class LegacyCheckpointError(CheckpointError):
    """A checkpoint whose weights do not fit the configured segmenter (nothing was loaded)."""


@dataclass
class Conversion:
    """A checkpoint's state dict under mmseg 1.x names.

    Attributes:
        layout: a key of :data:`LAYOUTS`.
        state_dict: the renamed (and, where a layout says so, reshaped) tensors.
        origin: each converted key -> the checkpoint key(s) it came from.
        renamed: how many checkpoint keys were given another name.
        dropped: checkpoint keys left out on purpose (see the module docstring).
        model_settings: ``--cfg-options``-style keys the architecture needs (no weights say
            them), e.g. ``{'model.decode_head.channels': 768}``.
    """
    layout: str
    state_dict: 'OrderedDict[str, torch.Tensor]'
    origin: dict = field(default_factory=dict)
    renamed: int = 0
    dropped: tuple = ()
    model_settings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the log: the layout, what was renamed or dropped, the settings."""
        settings = ', '.join(f'{k}={v!r}' for k, v in self.model_settings.items()) or 'none'
        return (f'{LAYOUTS[self.layout]}: {self.renamed} keys renamed, {len(self.dropped)} '
                f'dropped; model settings: {settings}')


def state_dict_of(checkpoint: Any, path: str) -> tuple[dict, dict]:
    """``(state_dict, meta)`` of a loaded checkpoint: mmcv/mmengine's ``{'state_dict', 'meta',
    ...}``, a ``{'model': ...}`` file, or a plain state dict."""
    if isinstance(checkpoint, Mapping):
        meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), Mapping) else {}
        for name in ('state_dict', 'model'):
            inner = checkpoint.get(name)
            if isinstance(inner, Mapping) and inner and all(
                    isinstance(v, torch.Tensor) for v in inner.values()):
                return dict(inner), dict(meta)
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return dict(checkpoint), {}
    raise CheckpointError(
        f'checkpoint {path} holds no state dict of tensors (expected a "state_dict" entry, as '
        f'mmseg and mmengine write, or a plain state dict): give the trained segmenter\'s .pth')


def _strip_wrapper(state_dict: Mapping) -> dict:
    if state_dict and all(key.startswith('module.') for key in state_dict):
        return {key[len('module.'):]: value for key, value in state_dict.items()}
    return dict(state_dict)


def detect_layout(keys) -> str:
    """The layout (:data:`LAYOUTS`) of a state dict's keys."""
    keys = list(keys)
    if any(_NV_ATTN.match(k) or k.startswith('decode_head.linear_c') for k in keys):
        return 'segformer_nvlabs'
    if any(_SEGNEXT_DW.match(k) for k in keys):
        return 'segnext'
    return 'mmseg'


def config_md_r(meta: Optional[Mapping]) -> Optional[int]:
    """The ``MD_R`` a checkpoint's config text (mmseg 0.x ``meta['config']``) sets, if any."""
    text = (meta or {}).get('config')
    found = _MD_R.search(text) if isinstance(text, str) else None
    return int(found.group(1)) if found else None


def _as_conv(weight: torch.Tensor) -> torch.Tensor:
    """A Linear weight ``(out, in)`` as a 1x1 conv weight ``(out, in, 1, 1)``."""
    return weight.reshape(*weight.shape, 1, 1) if weight.dim() == 2 else weight


def _moved(origin: Mapping) -> int:
    """How many checkpoint keys ``origin`` (new key -> source key(s)) gives another name."""
    return len({source for new, sources in origin.items()
                for source in (sources if isinstance(sources, list) else [sources])
                if source != new})


def _convert_segnext(state: dict) -> Conversion:
    out, origin = OrderedDict(), {}
    for key, value in state.items():
        found = _SEGNEXT_DW.match(key)
        new = f'{found.group(1)}.{found.group(2)}' if found else key
        out[new], origin[new] = value, key
    return Conversion('segnext', out, origin, _moved(origin))


def _nv_block_key(stage: int, index: str, rest: str) -> Optional[str]:
    prefix = f'backbone.layers.{stage - 1}.1.{index}.'
    if rest.startswith(_NV_SAME):
        return prefix + rest
    for old, new in _NV_RENAMED.items():
        if rest.startswith(old):
            return prefix + new + rest[len(old):]
    return None


def _convert_segformer_nvlabs(state: dict) -> Conversion:
    out, origin, dropped = OrderedDict(), {}, []

    def put(new: str, value: torch.Tensor, *sources: str) -> None:
        out[new], origin[new] = value, sources[0] if len(sources) == 1 else list(sources)

    mlp_inputs = sorted({int(m.group(1)) for m in map(_NV_MLP.match, state) if m})
    for key, value in state.items():
        patch, block, norm, mlp = (_NV_PATCH.match(key), _NV_BLOCK.match(key),
                                   _NV_NORM.match(key), _NV_MLP.match(key))
        if patch:
            stage, part, kind = int(patch.group(1)), patch.group(2), patch.group(3)
            part = 'projection' if part == 'proj' else part
            put(f'backbone.layers.{stage - 1}.0.{part}.{kind}', value, key)
        elif block:
            stage, index, rest = int(block.group(1)), block.group(2), block.group(3)
            prefix = f'backbone.layers.{stage - 1}.1.{index}.'
            if rest.startswith('attn.q.'):
                kind = rest[len('attn.q.'):]
                kv = key.replace('.attn.q.', '.attn.kv.')
                if kv not in state:  # left for check_fits to report
                    put(key, value, key)
                    continue
                put(f'{prefix}attn.attn.in_proj_{kind}', torch.cat([value, state[kv]]), key, kv)
            elif rest.startswith('attn.kv.'):
                if key.replace('.attn.kv.', '.attn.q.') not in state:
                    put(key, value, key)
            else:
                new = _nv_block_key(stage, index, rest)
                if new is None:
                    put(key, value, key)
                else:
                    is_linear = rest.startswith(('mlp.fc1.weight', 'mlp.fc2.weight'))
                    put(new, _as_conv(value) if is_linear else value, key)
        elif norm:
            put(f'backbone.layers.{int(norm.group(1)) - 1}.2.{norm.group(2)}', value, key)
        elif mlp:
            conv = f'decode_head.convs.{int(mlp.group(1)) - 1}'
            if mlp.group(2) == 'weight':
                put(f'{conv}.conv.weight', _as_conv(value), key)
            else:  # the Linear's bias, added by an identity BN
                put(f'{conv}.bn.bias', value, key)
                put(f'{conv}.bn.weight', torch.ones_like(value), key)
                put(f'{conv}.bn.running_mean', torch.zeros_like(value), key)
                put(f'{conv}.bn.running_var', torch.full_like(value, 1 - BN_EPS), key)
                put(f'{conv}.bn.num_batches_tracked', torch.tensor(0, dtype=torch.long), key)
        elif key == 'decode_head.linear_fuse.conv.weight':
            blocks = value.chunk(len(mlp_inputs), dim=1) if mlp_inputs else (value, )
            put('decode_head.fusion_conv.conv.weight', torch.cat(blocks[::-1], dim=1), key)
        elif key.startswith('decode_head.linear_fuse.bn.'):
            put(key.replace('linear_fuse.bn.', 'fusion_conv.bn.'), value, key)
        elif key.startswith('decode_head.linear_pred.'):
            put(key.replace('linear_pred.', 'conv_seg.'), value, key)
        elif key.startswith('decode_head.conv_seg.'):
            dropped.append(key)
        else:
            put(key, value, key)
    settings = {}
    width = state.get('decode_head.linear_c1.proj.weight')
    if width is not None:
        settings = {'model.decode_head.channels': int(width.shape[0]),
                    'model.decode_head.act_cfg': None}
    return Conversion('segformer_nvlabs', out, origin, _moved(origin), tuple(dropped), settings)


def convert_state_dict(state_dict: Mapping[str, torch.Tensor],
                       meta: Optional[Mapping] = None) -> Conversion:
    """The state dict under mmseg 1.x names (see the module docstring for every rename)."""
    state = _strip_wrapper(state_dict)
    layout = detect_layout(state)
    if layout == 'segformer_nvlabs':
        return _convert_segformer_nvlabs(state)
    if layout == 'segnext':
        conversion = _convert_segnext(state)
        rank = config_md_r(meta)
        conversion.model_settings = {
            'model.decode_head.ham_kwargs.MD_R': rank or SEGNEXT_DEFAULT_MD_R}
        return conversion
    return Conversion('mmseg', OrderedDict(state), {k: k for k in state})


def _listed(items: list) -> str:
    shown = ', '.join(items[:_SHOWN])
    return shown + (f' and {len(items) - _SHOWN} more' if len(items) > _SHOWN else '')


def _stage_depths(keys, pattern: str) -> list[int]:
    blocks = {}
    for key in keys:
        found = re.match(pattern, key)
        if found:
            blocks.setdefault(int(found.group(1)), set()).add(int(found.group(2)))
    return [len(blocks[s]) for s in sorted(blocks)]


def describe(state_dict: Mapping) -> str:
    """The blocks per stage of an MSCAN / MiT state dict (mmseg 1.x names), e.g.
    ``blocks per stage [3, 5, 27, 3]``; empty when it has neither."""
    for pattern in (r'^backbone\.block(\d+)\.(\d+)\.', r'^backbone\.layers\.(\d+)\.1\.(\d+)\.'):
        depths = _stage_depths(state_dict, pattern)
        if depths:
            return f'blocks per stage {depths}'
    return ''


def check_fits(conversion: Conversion, model_state: Mapping[str, torch.Tensor], path: str,
               target: str) -> None:
    """Refuse a conversion that does not match the model key for key and shape for shape.

    Raises:
        LegacyCheckpointError: keys with no place in the model (under the checkpoint's own
            names), model keys the checkpoint lacks, or different shapes; nothing is loaded.
    """
    state = conversion.state_dict
    unplaced = [k for k in state if k not in model_state]
    missing = [k for k in model_state if k not in state]
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(model_state[k].shape)}'
              for k in state if k in model_state and state[k].shape != model_state[k].shape]
    if not (unplaced or missing or shapes):
        return

    def named(key: str) -> str:
        source = conversion.origin.get(key, key)
        source = ' + '.join(source) if isinstance(source, list) else source
        return key if source == key else f'{source} (as {key})'

    parts = []
    if unplaced:
        parts.append(f'{len(unplaced)} checkpoint keys have no place in it: '
                     f'{_listed([named(k) for k in unplaced])}')
    if missing:
        parts.append(f'{len(missing)} of its keys are not in the checkpoint: {_listed(missing)}')
    if shapes:
        parts.append(f'{len(shapes)} shapes differ (checkpoint vs model): {_listed(shapes)}')
    have, want = describe(state), describe(model_state)
    shape_note = (f' The checkpoint has {have}, the model {want}.'
                  if have and want and have != want else '')
    raise LegacyCheckpointError(
        f'checkpoint {path} ({LAYOUTS[conversion.layout]}) does not fit {target}: '
        + '; '.join(parts) + f'.{shape_note} Nothing was loaded. Choose the --seg whose '
        f'architecture the checkpoint has and the --dataset with its classes (conv_seg has one '
        f'row per class), or set the model with --cfg-options (e.g. model.decode_head.channels='
        f'...). A layout this tool does not know needs its renaming in '
        f'psfusion/benchmark/legacy_checkpoints.py.')
