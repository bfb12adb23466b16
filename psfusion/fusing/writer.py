"""The fused-dataset writer: every pair of a source dataset through one fusion method.

The source dataset's layout (:mod:`psfusion.data.layouts`) lists the pairs of each split, says
where their fused images go (:meth:`~psfusion.data.layouts.DatasetLayout.output_dir`) and which
files (labels, split lists) the fused copy carries over
(:meth:`~psfusion.data.layouts.DatasetLayout.carried_files`), so the output reads as a drop-in
source laid out like the original (e.g. MSRS / FMB: ``OUT/<split>/fused/<stem>.png``; MFNet
and plain folders: ``OUT/fused/<stem>.png``).  With ``save_seg`` the method's semantic
predictions (class ids, uint8 PNG like the labels) go to ``seg_pred/`` beside ``fused/``.
Images keep their stem and are always PNG, whatever the source format; they keep their size.

The method (a :class:`~psfusion.fusers.Fuser`) gets batches of up to ``batch_size``
consecutive pairs of one size (a size change starts a new batch) and pads what it needs on its
own, so results do not depend on the batch size.  A fused luma is turned into colour with the
visible image's Cb/Cr (BT.601, :func:`~psfusion.color.merge_luma`); RGB is written as given,
rounded to uint8.

Every file is written atomically (:mod:`psfusion.fileio`) and recorded with its SHA-256 in
``OUT/manifest.json`` (:mod:`.manifest`) together with the method, its identity (e.g. config,
checkpoint hash), the source and the code version.  Rerunning the same command after an
interruption skips the files the manifest lists (checksums verified) and writes the rest;
rerunning with another method, model or source into the same ``OUT`` is refused.  One ``OUT``
may hold several splits of the same source (``split='train,test'``, or one run per split).

The manifest also records the method's size for the benchmark's complexity column: ``params``
and ``macs`` (multiply-adds for one pair of the size in ``complexity_input_hw``; FLOPs would be
``2 x macs``), counted once per ``OUT``.
"""
from __future__ import annotations

import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image

from ..color import merge_luma
from ..data.layouts import DatasetLayout, build_layout
from ..data.transforms import LoadFusionPair
from ..fileio import copy_file, save_png
from ..fusers import Fuser, FusingError, build_fuser
from .manifest import MANIFEST_FORMAT, Manifest, code_version, peak_rss_mib

__all__ = ['FuseSummary', 'fuse_dataset', 'parse_splits', 'to_uint8', 'fused_rgb',
           'size_batches']


@dataclass
class FuseSummary:
    """What one :func:`fuse_dataset` call did (``seconds``: loading, fusing and writing)."""
    method: str
    written: int
    skipped: int
    seconds: float
    pairs_per_second: float
    peak_rss_mib: float
    out: str


def parse_splits(split: Union[str, Sequence[Optional[str]], None]) -> list:
    """The splits to fuse: ``'train,test'`` or a sequence -> names; ``None`` -> ``[None]``
    (the layout's listing without a split: e.g. every MFNet image)."""
    if split is None:
        return [None]
    names = split.split(',') if isinstance(split, str) else list(split)
    names = [n.strip() if isinstance(n, str) else n for n in names]
    if not names or any(n == '' for n in names) or len(set(names)) != len(names):
        raise FusingError(f'bad split list {split!r}: give names separated by commas, e.g. '
                          "'train,test'")
    return names


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``B x C x H x W`` float in [0, 1] (rounded) or uint8 -> ``B x H x W x C`` (``C`` = 1:
    ``B x H x W``) uint8."""
    if images.dtype != torch.uint8:
        images = (images.float() * 255).round_().clamp_(0, 255).to(torch.uint8)
    array = images.cpu().numpy().transpose(0, 2, 3, 1)
    return array[..., 0] if array.shape[-1] == 1 else array


def fused_rgb(fused: torch.Tensor, vi: torch.Tensor, method: str) -> np.ndarray:
    """A fuser's ``fused`` output as ``B x H x W x 3`` uint8: luma merged with the visible
    image's Cb/Cr, RGB as is."""
    if fused.ndim != 4 or fused.shape[1] not in (1, 3) or fused.shape[0] != vi.shape[0] \
            or fused.shape[-2:] != vi.shape[-2:]:
        raise FusingError(f'fusion method {method!r} returned a {tuple(fused.shape)} image '
                          f'batch for inputs of {tuple(vi.shape)}; expected B x 1 (Y) or '
                          f'B x 3 (RGB) x H x W')
    if fused.shape[1] == 1:
        luma = fused.float() / 255 if fused.dtype == torch.uint8 else fused.float()
        fused = merge_luma(luma, vi)
    return to_uint8(fused)


def size_batches(records: Sequence[dict], batch_size: int) -> Iterator[list[dict]]:
    """Load ``records`` in order (:class:`~psfusion.data.transforms.LoadFusionPair`: ``ir``
    ``H x W x 1``, ``vi`` ``H x W x 3`` uint8) and group them into batches of at most
    ``batch_size`` consecutive pairs of one size."""
    load = LoadFusionPair()
    batch: list[dict] = []
    for record in records:
        pair = load(dict(record))
        if batch and (len(batch) == batch_size or batch[0]['ir'].shape != pair['ir'].shape):
            yield batch
            batch = []
        batch.append(pair)
    if batch:
        yield batch


def _stack(batch: list[dict], key: str, device: torch.device) -> torch.Tensor:
    """``H x W x C`` uint8 arrays -> ``B x C x H x W`` float32 in [0, 1] on ``device``."""
    array = np.stack([pair[key] for pair in batch]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(array)).to(device).float().div_(255)


def copy_carried(manifest: Manifest, out: str, files: dict[str, str]) -> None:
    """Copy (atomically) and record the carried-over files not already done."""
    for rel, source in files.items():
        if not manifest.done(out, rel):
            copy_file(source, osp.join(out, rel))
            manifest.record(out, rel, source=source)


def _progress_bar(total: int, out: str):
    from tqdm import tqdm
    return tqdm(total=total, unit='pair', desc=f'fusing into {out}', smoothing=0.1)


def fuse_split(fuser: Fuser, manifest: Manifest, layout: DatasetLayout, out: str,
               split: Optional[str], records: list[dict], save_seg: bool, batch_size: int,
               progress: bool, limit: Optional[int]) -> tuple[int, int, float]:
    """Fuse one split's ``records`` into ``out``; returns ``(written, skipped, seconds)``."""
    fused_dir, seg_dir = layout.output_dir(split), layout.output_dir(split, 'seg_pred')
    chosen = records if limit is None else records[:limit]
    copy_carried(manifest, out, layout.carried_files(split, [r['name'] for r in chosen]))
    todo = [r for r in chosen
            if not manifest.done(out, osp.join(fused_dir, f'{r["name"]}.png'))
            or (save_seg and not manifest.done(out, osp.join(seg_dir, f'{r["name"]}.png')))]
    manifest.mark_split(split, len(records), complete=False)
    manifest.save()
    bar = _progress_bar(len(todo), osp.join(out, fused_dir)) if progress else None
    start = time.perf_counter()
    for batch in size_batches(todo, batch_size):
        vi = _stack(batch, 'vi', fuser.device)
        result = fuser.fuse(_stack(batch, 'ir', fuser.device), vi, semantic=save_seg)
        images = {fused_dir: fused_rgb(result.fused, vi, fuser.name)}
        if save_seg:
            if result.semantic is None:
                raise FusingError(f'fusion method {fuser.name!r} returned no semantic '
                                  f'prediction although asked for one')
            images[seg_dir] = result.semantic.to(torch.uint8).cpu().numpy()
        for folder, arrays in images.items():
            for pair, array in zip(batch, arrays):
                rel = osp.join(folder, f'{pair["name"]}.png')
                save_png(array, osp.join(out, rel))
                manifest.record(out, rel)
        manifest.save()
        if bar is not None:
            bar.update(len(batch))
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    manifest.mark_split(split, len(records), complete=len(chosen) == len(records))
    manifest.save()
    return len(todo), len(chosen) - len(todo), seconds


def record_complexity(manifest: Manifest, fuser: Fuser, record: Optional[dict]) -> None:
    """Put the method's ``params`` / ``macs`` for one pair of ``record``'s size in the
    manifest, unless a previous run already did."""
    if 'macs' in manifest.header or record is None:
        return
    with Image.open(record['ir_path']) as image:
        width, height = image.size
    counts = fuser.complexity(height, width)
    manifest.header.update(params=int(counts['params']), macs=int(counts['macs']),
                           complexity_input_hw=list(counts.get('input_hw', [height, width])))
    if counts.get('note'):
        manifest.header['complexity_note'] = counts['note']


def fuse_dataset(fuser: Union[Fuser, str, dict], src: str, layout: Union[str, DatasetLayout],
                 out: str, split: Union[str, Sequence[Optional[str]], None] = 'test',
                 save_seg: bool = False, batch_size: int = 1, progress: bool = True,
                 limit: Optional[int] = None,
                 layout_options: Optional[dict] = None) -> FuseSummary:
    """Fuse every pair of the dataset at ``src`` into ``out`` (see the module docstring).

    Args:
        fuser: the fusion method: a built :class:`~psfusion.fusers.Fuser`, a registered name
            (``'average'``) or a config dict (``dict(type='psfusion', config=..., ...)``).
        src, layout: the source dataset's root and layout name (``psfusion.data.layouts``),
            or a layout object (then ``src`` is its root).
        split: one split name, several (``'train,test'`` or a list; all go into the same
            ``out``), or ``None`` for the layout's listing without a split (e.g. every MFNet
            image).  Layouts without splits (``folders``) ignore it.
        save_seg: also write the method's semantic predictions (it must have a semantic head).
        batch_size: pairs per call of the method (a speed setting; results do not change).
        limit: fuse only the first ``limit`` pairs of each split (timing).
        layout_options: the layout's own options (e.g. ``ir_dir``, ``vi_dir``, ``label_dir``
            for ``folders``).

    Raises:
        FusingError: a bad argument, or ``out`` holds another method's or source's output.
        psfusion.data.io.DataError: a problem with the source dataset's files.
    """
    if batch_size < 1:
        raise FusingError(f'batch size must be at least 1, got {batch_size}')
    if not isinstance(layout, DatasetLayout):
        layout = build_layout(layout, src, **(layout_options or {}))
    splits = parse_splits(split)
    records = {name: layout.samples(name, with_label=False) for name in splits}
    fuser = build_fuser(fuser)
    if save_seg:
        fuser.check_semantic()

    header = dict(format=MANIFEST_FORMAT, layout=layout.name, source=osp.abspath(layout.root),
                  method=fuser.name, identity=fuser.identity(), **fuser.describe(),
                  code_version=code_version(), colour=fuser.colour, geometry=fuser.geometry)
    os.makedirs(out, exist_ok=True)
    manifest = Manifest.open(out, header)
    written = skipped = 0
    seconds = 0.0
    for name in splits:
        done = fuse_split(fuser, manifest, layout, out, name, records[name], save_seg,
                          batch_size, progress, limit)
        written, skipped, seconds = written + done[0], skipped + done[1], seconds + done[2]
    peak = peak_rss_mib()  # of the fusing itself, before the complexity count below
    first = next((r[0] for r in records.values() if r), None)
    record_complexity(manifest, fuser, first)
    manifest.save()
    return FuseSummary(method=fuser.name, written=written, skipped=skipped, seconds=seconds,
                       pairs_per_second=written / seconds if seconds > 0 else 0.0,
                       peak_rss_mib=peak, out=out)
