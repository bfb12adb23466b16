"""Write a fused dataset: every pair of a source dataset through a trained PSFusion model.

Output rule (the benchmark reads ``OUT`` as a drop-in source laid out like the source):

=========  =================================================  =====================================
layout     fused images                                       carried over
=========  =================================================  =====================================
msrs       ``OUT/<split>/fused/<stem>.png``                   ``OUT/<split>/<label dir>/`` (same
                                                              name as the source's), ``OUT/*.txt``
mfnet      ``OUT/fused/<stem>.png``                           ``OUT/labels/``, ``OUT/*.txt``
folders    ``OUT/fused/<stem>.png``                           ``OUT/<label dir>/`` if given
=========  =================================================  =====================================

With ``save_seg`` the semantic head's class ids go to ``seg_pred/`` beside ``fused/`` (uint8
PNG, like the labels).  Images keep their stem; they are always PNG (lossless), whatever the
source format.  Each image is padded (reflect) to a multiple of 32, fused, and cropped back: no
resizing.  Colour: fused Y + the visible image's Cb/Cr (BT.601), rounded to uint8.

Every file is written to a temporary name and renamed, and recorded with its SHA-256 in
``OUT/manifest.json`` (also rewritten atomically) together with the config, the checkpoint's
hash and the code version.  Rerunning the same command after an interruption skips the files the
manifest lists (their checksums verified) and writes the rest; rerunning with another model or
source into the same ``OUT`` is refused.  One ``OUT`` may hold several splits of the same source
(``split='train,test'``, or one run per split): the manifest lists them under ``splits``.

The manifest also records the fusion network's size for the benchmark's complexity column:
``params`` and ``macs`` (multiply-adds, mmengine's count, for inference on one pair of the size in
``complexity_input_hw``, padded to a multiple of 32; multiplies and adds counted separately
would be ``2 x macs``).
"""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from PIL import Image
from torch.utils.data import DataLoader, Subset

from . import __version__
from .color import merge_luma
from .data import FolderPairDataset, MFNetDataset, MSRSDataset
from .data.datasets import MSRS_LABEL_DIRS
from .engine.checkpoint import load_checkpoint_weights_only
from .models.inference import prepare_for_inference
from .registry import MODELS

LAYOUTS = ('msrs', 'mfnet', 'folders')
MANIFEST = 'manifest.json'
MANIFEST_FORMAT = 'psfusion-fused-dataset/1'
SOURCE_PIPELINE = [dict(type='LoadFusionPair'), dict(type='PackFusionInputs')]


class FusingError(RuntimeError):
    """A problem with the fusing run's inputs or output folder."""


# --------------------------------------------------------------------------- small helpers
def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, then rename ``tmp_path`` to ``path`` (same folder)."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    tmp = osp.join(osp.dirname(path), f'.{osp.basename(path)}.tmp-{os.getpid()}')
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def save_png(array: np.ndarray, path: str) -> None:
    """Write a uint8 image atomically as PNG (format fixed: temporary names have no suffix)."""
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format='PNG'))


def code_version() -> dict:
    """The package version and, when run from a git checkout, its commit (``-dirty`` when the
    working tree has changes)."""
    info = {'psfusion': __version__}
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    try:
        commit = subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', root, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info['git'] = commit + ('-dirty' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- model
def load_fusion_model(config: Union[str, Config], checkpoint: Optional[str],
                      device: str = 'cpu', seed: int = 0) -> tuple[torch.nn.Module, dict]:
    """Build the config's model and load ``checkpoint`` weights-only (``None`` / ``'none'``:
    random weights from ``seed``, for timing and tests).  Returns the model (train mode,
    untouched otherwise) and a description for the manifest."""
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    model_cfg = cfg.model.copy()
    model_cfg.backbone_pretrained = None  # the checkpoint (or nothing) sets every weight
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    info = {'config': cfg.filename, 'model': json.loads(json.dumps(cfg.model.to_dict(),
                                                                   default=str))}
    if checkpoint and checkpoint.lower() != 'none':
        state = load_checkpoint_weights_only(checkpoint)
        state = state.get('state_dict', state)
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in state.items()}
        model.load_state_dict(state, strict=True)
        info['checkpoint'] = {'path': osp.abspath(checkpoint), 'sha256': sha256_file(checkpoint)}
    else:
        info['checkpoint'] = {'path': None, 'sha256': None, 'random_seed': seed}
    return model.to(device), info


# --------------------------------------------------------------------------- source / output
def build_source(src: str, layout: str, split: Optional[str] = None,
                 ir_dir: str = 'ir', vi_dir: str = 'vi', label_dir: Optional[str] = None):
    """The source dataset (images only: labels are copied, not read) of one layout."""
    if layout == 'msrs':
        return MSRSDataset(data_root=src, split=split or 'test', with_label=False,
                           pipeline=SOURCE_PIPELINE)
    if layout == 'mfnet':
        return MFNetDataset(data_root=src, split=split, with_label=False,
                            pipeline=SOURCE_PIPELINE)
    if layout == 'folders':
        return FolderPairDataset(data_root=src, ir_dir=ir_dir, vi_dir=vi_dir,
                                 pipeline=SOURCE_PIPELINE)
    raise FusingError(f'unknown layout {layout!r}; use one of {LAYOUTS}')


def output_dir(layout: str, split: Optional[str], kind: str = 'fused') -> str:
    """Folder (relative to OUT) of the fused images (``kind='fused'``) or predictions
    (``'seg_pred'``)."""
    return osp.join(split or 'test', kind) if layout == 'msrs' else kind


def carried_files(src: str, layout: str, split: Optional[str], stems: Iterable[str],
                  label_dir: Optional[str] = None) -> dict[str, str]:
    """Files copied unchanged: relative output path -> source path (labels of the fused stems,
    the root's split files)."""
    files = {}
    stems = set(stems)
    label_folder = None
    if layout == 'msrs':
        split_dir = osp.join(src, split or 'test')
        name = next((n for n in MSRS_LABEL_DIRS if osp.isdir(osp.join(split_dir, n))), None)
        if name:
            label_folder = (osp.join(split_dir, name), osp.join(split or 'test', name))
    elif layout == 'mfnet' and osp.isdir(osp.join(src, 'labels')):
        label_folder = (osp.join(src, 'labels'), 'labels')
    elif layout == 'folders' and label_dir:
        label_folder = (osp.join(src, label_dir), label_dir)
    if label_folder:
        for name in sorted(os.listdir(label_folder[0])):
            if osp.splitext(name)[0] in stems:
                files[osp.join(label_folder[1], name)] = osp.join(label_folder[0], name)
    if layout in ('msrs', 'mfnet'):
        for name in sorted(os.listdir(src)):
            if name.endswith('.txt') and osp.isfile(osp.join(src, name)):
                files[name] = osp.join(src, name)
    return files


# --------------------------------------------------------------------------- manifest
def _identity(header: dict) -> dict:
    """What must match for a rerun to continue a folder (not the checkpoint's location)."""
    ckpt = header.get('checkpoint') or {}
    return dict(format=header.get('format'), layout=header.get('layout'),
                source=header.get('source'),
                model=header.get('model'), checkpoint=ckpt.get('sha256'),
                seed=ckpt.get('random_seed'))


@dataclass
class Manifest:
    """``OUT/manifest.json``: what produced the folder, and every finished file's checksum."""
    path: str
    header: dict
    files: dict = field(default_factory=dict)

    @classmethod
    def open(cls, out: str, header: dict) -> 'Manifest':
        """Load the manifest of ``out`` (resuming) or start one.  Refuses a folder written by a
        different model, checkpoint, source or layout."""
        path = osp.join(out, MANIFEST)
        if not osp.isfile(path):
            return cls(path, header)
        with open(path, encoding='utf-8') as handle:
            old = json.load(handle)
        changed = [k for k, v in _identity(header).items() if _identity(old).get(k) != v]
        if changed:
            raise FusingError(
                f'{out} already holds a fused dataset made with different {", ".join(changed)} '
                f'(see {path}). Use another --out, or delete the folder to start over.')
        merged = dict(header)
        for key in ('splits', 'params', 'macs', 'complexity_input_hw'):
            if key in old:
                merged.setdefault(key, old[key])
        merged['splits'] = dict(old.get('splits', {}), **header.get('splits', {}))
        return cls(path, merged, old.get('files', {}))

    def done(self, out: str, rel: str) -> bool:
        """True when ``rel`` is recorded and the file on disk still has its checksum."""
        entry = self.files.get(rel)
        full = osp.join(out, rel)
        return bool(entry) and osp.isfile(full) and sha256_file(full) == entry['sha256']

    def record(self, out: str, rel: str, **extra) -> None:
        self.files[rel] = dict(sha256=sha256_file(osp.join(out, rel)), **extra)

    def mark_split(self, split: Optional[str], pairs: int, complete: bool) -> None:
        """Record one split's pair count and whether all of it has been fused."""
        self.header.setdefault('splits', {})[split or 'all'] = dict(pairs=pairs,
                                                                   complete=complete)

    def save(self) -> None:
        """Write the manifest; ``complete`` is true when every recorded split is complete."""
        splits = self.header.get('splits', {})
        complete = bool(splits) and all(info.get('complete') for info in splits.values())
        data = dict(self.header, complete=complete, files=dict(sorted(self.files.items())))
        def write(tmp: str) -> None:
            with open(tmp, 'w', encoding='utf-8') as handle:
                json.dump(data, handle, indent=1)

        atomic_write(self.path, write)


# --------------------------------------------------------------------------- the run
def copy_carried(manifest: Manifest, out: str, files: dict[str, str]) -> None:
    """Copy (atomically) and record the carried-over files not already done."""
    for rel, source in files.items():
        if not manifest.done(out, rel):
            atomic_write(osp.join(out, rel), lambda tmp, s=source: shutil.copyfile(s, tmp))
            manifest.record(out, rel, source=source)


def _progress_bar(total: int, out: str):
    from tqdm import tqdm
    return tqdm(total=total, unit='pair', desc=f'fusing into {out}', smoothing=0.1)


@dataclass
class FuseSummary:
    written: int
    skipped: int
    seconds: float
    pairs_per_second: float
    peak_rss_mib: float
    out: str


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``C x H x W`` float in [0, 1] -> ``H x W x C`` (or ``H x W``) uint8, rounded."""
    array = (image.float() * 255).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


@torch.inference_mode()
def fuse_batch(model: torch.nn.Module, batch: dict, with_seg: bool,
               channels_last: bool = True) -> list[dict]:
    """Fuse one collated batch: per sample ``name``, ``fused`` (uint8 RGB) and ``seg``."""
    data = model.data_preprocessor(batch, False)
    ir, vi = data['inputs']['ir'], data['inputs']['vi']
    if channels_last:
        ir, vi = (t.contiguous(memory_format=torch.channels_last) for t in (ir, vi))
    out = model.run(ir, vi, semantic=with_seg, fidelity=False)
    rgb = merge_luma(out['fused'], vi)
    results = []
    for i, sample in enumerate(data['data_samples']):
        h, w = sample.metainfo['img_shape']
        item = dict(name=sample.metainfo['name'], fused=to_uint8(rgb[i, :, :h, :w]))
        if with_seg and 'semantic' in out:
            item['seg'] = out['semantic'][i, :, :h, :w].argmax(0).to(torch.uint8).cpu().numpy()
        results.append(item)
    return results


def parse_splits(layout: str, split: Union[str, Sequence[Optional[str]], None]) -> list:
    """The splits to fuse: ``'train,test'`` or a sequence -> names; ``folders`` -> ``[None]``;
    ``None`` (MFNet: every image) -> ``[None]``."""
    if layout == 'folders' or split is None:
        return [None]
    names = split.split(',') if isinstance(split, str) else list(split)
    names = [n.strip() if isinstance(n, str) else n for n in names]
    if not names or any(n == '' for n in names) or len(set(names)) != len(names):
        raise FusingError(f'bad split list {split!r}: give names separated by commas, e.g. '
                          "'train,test'")
    return names


def record_complexity(manifest: Manifest, config: Union[str, Config], dataset) -> None:
    """Put ``params`` / ``macs`` of inference on the first pair's (padded) size in the manifest,
    unless a previous run already did.  Counted on a freshly built network in its training form
    (the counts do not depend on the weights; BatchNorm folding would hide the BN parameters)."""
    if 'macs' in manifest.header or len(dataset) == 0:
        return
    from .engine.complexity import model_complexity
    h, w = dataset[0]['data_samples'].metainfo['img_shape']
    h, w = -(-h // 32) * 32, -(-w // 32) * 32
    model, _ = load_fusion_model(config, None)
    counts = model_complexity(model, h, w, semantic=False, fidelity=False)
    manifest.header.update(params=int(counts.params), macs=int(counts.macs),
                           complexity_input_hw=[h, w],
                           complexity_note='macs: multiply-adds (mmengine count) of fusion '
                           'inference, semantic and fidelity heads excluded; FLOPs = 2 x macs')


def fuse_split(model: torch.nn.Module, manifest: Manifest, dataset, src: str, layout: str,
               out: str, split: Optional[str], save_seg: bool, batch_size: int,
               optimise: bool, progress: bool, limit: Optional[int],
               label_dir: Optional[str]) -> tuple[int, int, float]:
    """Fuse one split into ``out``; returns ``(written, skipped, seconds)``."""
    fused_dir, seg_dir = output_dir(layout, split), output_dir(layout, split, 'seg_pred')
    count = len(dataset) if limit is None else min(limit, len(dataset))
    stems = [dataset.get_data_info(i)['name'] for i in range(count)]
    copy_carried(manifest, out, carried_files(src, layout, split, stems, label_dir))
    todo = [i for i, stem in enumerate(stems)
            if not manifest.done(out, osp.join(fused_dir, f'{stem}.png'))
            or (save_seg and not manifest.done(out, osp.join(seg_dir, f'{stem}.png')))]
    manifest.mark_split(split, len(dataset), complete=False)
    manifest.save()
    loader = DataLoader(Subset(dataset, todo), batch_size=batch_size, shuffle=False,
                        num_workers=0, collate_fn=pseudo_collate)
    bar = _progress_bar(len(todo), osp.join(out, fused_dir)) if progress else None
    start = time.perf_counter()
    for batch in loader:
        for item in fuse_batch(model, batch, save_seg, channels_last=optimise):
            for key, folder in (('fused', fused_dir), ('seg', seg_dir)):
                if key in item:
                    rel = osp.join(folder, f'{item["name"]}.png')
                    save_png(item[key], osp.join(out, rel))
                    manifest.record(out, rel)
        manifest.save()
        if bar is not None:
            bar.update(len(batch['data_samples']))
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    manifest.mark_split(split, len(dataset), complete=count == len(dataset))
    manifest.save()
    return len(todo), len(stems) - len(todo), seconds


def fuse_dataset(config: Union[str, Config], checkpoint: Optional[str], src: str, layout: str,
                 out: str, split: Union[str, Sequence[Optional[str]], None] = 'test',
                 save_seg: bool = False, batch_size: int = 1, device: str = 'cpu',
                 optimise: bool = True, progress: bool = True, limit: Optional[int] = None,
                 folder_dirs: Optional[dict] = None) -> FuseSummary:
    """Fuse every pair of ``src`` into ``out`` (see the module doc for the layout rule).

    Args:
        config, checkpoint: the model (``checkpoint`` ``None``/``'none'``: random weights).
        src, layout, split: the source dataset.  ``split``: one name, several (``'train,test'``
            or a list; all go into the same ``out``); ignored for ``folders``; for ``mfnet``
            ``None`` means every image.
        save_seg: also write the semantic head's predictions.
        optimise: fold BatchNorms and use channels-last tensors (same results up to float
            rounding); ``False`` runs the eager training-form network.  (``tools/fuse.py`` also
            calls :func:`~psfusion.engine.allocator.keep_freed_memory` for the optimised path.)
        limit: fuse only the first ``limit`` pairs of each split (timing).
        folder_dirs: ``ir_dir`` / ``vi_dir`` / ``label_dir`` for the ``folders`` layout.
    """
    if layout not in LAYOUTS:
        raise FusingError(f'unknown layout {layout!r}; use one of {LAYOUTS}')
    splits = parse_splits(layout, split)
    folder_dirs = folder_dirs or {}
    datasets = [build_source(src, layout, name, **folder_dirs) for name in splits]
    model, model_info = load_fusion_model(config, checkpoint, device)
    if save_seg and getattr(model, 's2p2', None) is None:
        raise FusingError('--save-seg needs a model with the semantic head (with_s2p2=True)')

    header = dict(format=MANIFEST_FORMAT, layout=layout, source=osp.abspath(src),
                  **model_info, code_version=code_version(),
                  colour='fused Y + visible CbCr (BT.601), rounded to uint8',
                  geometry='reflect-padded to a multiple of 32, cropped back; no resizing')
    os.makedirs(out, exist_ok=True)
    manifest = Manifest.open(out, header)
    if optimise:
        prepare_for_inference(model, channels_last=True)
    else:
        model.eval()

    written = skipped = 0
    seconds = 0.0
    for name, dataset in zip(splits, datasets):
        done = fuse_split(model, manifest, dataset, src, layout, out, name, save_seg,
                          batch_size, optimise, progress, limit, folder_dirs.get('label_dir'))
        written, skipped, seconds = written + done[0], skipped + done[1], seconds + done[2]
    peak = peak_rss_mib()  # of the fusing itself, before the complexity count below
    del model
    record_complexity(manifest, config, datasets[0])
    manifest.save()
    return FuseSummary(written=written, skipped=skipped, seconds=seconds,
                       pairs_per_second=written / seconds if seconds > 0 else 0.0,
                       peak_rss_mib=peak, out=out)
