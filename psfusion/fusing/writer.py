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
own, so results do not depend on the batch size.  A call never gets more than ``max_pixels``
padded pixels (default: from the available memory, :mod:`.memory`): a batch is cut shorter,
and a pair larger than that is fused in overlapping tiles blended with cosine ramps
(:mod:`.tiling`; the manifest records each such file's ``tiles``).  Each pair's size is read
from its file header first: a pair that cannot be fused in the available memory even in tiles
is refused before it is loaded.  A fused luma is turned into colour with the
visible image's Cb/Cr (BT.601, :func:`~psfusion.color.merge_luma`); RGB is written as given,
rounded to uint8.

Every file is written atomically (:mod:`psfusion.fileio`) and recorded with its SHA-256 in
``OUT/manifest.json`` (:mod:`.manifest`) together with the method, its identity (e.g. config,
checkpoint hash), the source and the code version.  Rerunning the same command after an
interruption skips the files the manifest lists (checksums verified) and writes the rest;
rerunning with another method, model or source into the same ``OUT`` is refused.  One ``OUT``
may hold several splits of the same source (``split='train,test'``, or one run per split, also
at the same time: the manifest is merged under a lock).  ``OUT`` may not be, contain or lie
inside any folder the source is read from (nothing is written then).  Temporary files of a
killed run are removed when the next run starts (:mod:`.stale`).

The manifest also records the method's size for the benchmark's complexity column: ``params``
and ``macs`` (multiply-adds for one pair of the size in ``complexity_input_hw``; FLOPs would be
``2 x macs``), counted once per ``OUT``, before the first pair is fused (so PSFusion counts its
own network before folding its BatchNorms, without building a second one).

With ``workers > 0`` the next pairs are read and the previous batches' PNGs written in threads
while the method fuses (:mod:`.pipeline`): the same files, each still written atomically and
listed in the manifest only once complete.
"""
from __future__ import annotations

import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image

from ..color import merge_luma
from ..data.layouts import DatasetLayout, build_layout
from ..data.transforms import LoadFusionPair
from ..fileio import copy_file
from ..fusers import Fuser, FusingError, build_fuser
from .manifest import MANIFEST_FORMAT, Manifest, code_version, peak_rss_mib
from .memory import MemoryBudget, auto_max_pixels, available_memory, check_fits
from .pipeline import PngWriter, read_ahead
from .stale import RunLock
from .tiling import TilePlan, fuse_tiled, plan_tiles, round_up

__all__ = ['FuseSummary', 'fuse_dataset', 'parse_splits', 'to_uint8', 'fused_rgb',
           'size_batches', 'check_output_folder', 'input_folders', 'Sizing']


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
    max_pixels: int = 0
    tiled: int = 0
    removed_temporaries: int = 0


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


@dataclass(frozen=True)
class Sizing:
    """How large a piece of image one call of the method may get: ``max_pixels`` (padded to
    ``multiple``), tiles overlapping by ``overlap``; ``budget``: the memory a pair may need."""
    max_pixels: int
    multiple: int = 1
    overlap: int = 0
    bytes_per_pixel: float = 0.0
    budget: Optional[MemoryBudget] = None

    def plan(self, path: str, height: int, width: int) -> TilePlan:
        """The tiles of a ``height x width`` pair; refuses, before it is loaded, a pair that
        cannot be fused within the budget even in tiles."""
        try:
            plan = plan_tiles(height, width, self.max_pixels, self.overlap, self.multiple)
        except FusingError as exc:
            raise FusingError(f'{path}: a {width} x {height} pair needs tiles, but {exc}') \
                from exc
        if self.budget is not None:
            tile = round_up(plan.tile_h, self.multiple) * round_up(plan.tile_w, self.multiple)
            check_fits(path, height, width, tile, self.bytes_per_pixel, self.budget)
        return plan

    def per_batch(self, height: int, width: int) -> int:
        """How many pairs of this size one call may take (1 for a tiled pair)."""
        return max(1, self.max_pixels //
                   (round_up(height, self.multiple) * round_up(width, self.multiple)))


def image_size(path: str) -> tuple[int, int]:
    """``(height, width)`` of an image file, from its header (nothing decoded)."""
    from ..data.io import DataError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError) as exc:
        raise DataError(f'{path}: cannot read the image ({exc}).') from exc
    return height, width


def fused_rgb_rows(fused: torch.Tensor, vi: torch.Tensor, method: str,
                   rows: int = 256) -> np.ndarray:
    """:func:`fused_rgb` of one large pair, ``rows`` rows at a time (the colour merge is per
    pixel, so the result is the same) from a uint8 visible image: the float copies it needs
    stay the size of a strip."""
    out = np.empty((fused.shape[0], fused.shape[-2], fused.shape[-1], 3), np.uint8)
    for top in range(0, fused.shape[-2], rows):
        strip = vi[..., top:top + rows, :].to(fused.device).float().div_(255)
        out[:, top:top + rows] = fused_rgb(fused[..., top:top + rows, :], strip, method)
    return out


def _uint8(batch: list[dict], key: str) -> torch.Tensor:
    """``H x W x C`` uint8 arrays -> a ``B x C x H x W`` uint8 tensor (a view for one pair)."""
    if len(batch) == 1:
        return torch.from_numpy(batch[0][key]).permute(2, 0, 1)[None]
    return torch.from_numpy(np.stack([pair[key] for pair in batch])).permute(0, 3, 1, 2)


def size_batches(records: Sequence[dict], batch_size: int,
                 sizing: Optional[Sizing] = None, workers: int = 0) -> Iterator[list[dict]]:
    """Load ``records`` in order (:class:`~psfusion.data.transforms.LoadFusionPair`: ``ir``
    ``H x W x 1``, ``vi`` ``H x W x 3`` uint8) and group them into batches of at most
    ``batch_size`` consecutive pairs of one size (and, with ``sizing``, at most
    :meth:`Sizing.per_batch`; each pair's size is checked by :meth:`Sizing.plan` from the file
    header before it is loaded: the pair gets ``plan``).  ``workers > 0``: that many threads
    load the next pairs while the caller fuses (:func:`.pipeline.read_ahead`; the same
    batches, in the same order)."""
    load = LoadFusionPair()

    def checked(record: dict) -> tuple:
        plan = None
        if sizing is not None:
            height, width = image_size(record['ir_path'])
            plan = sizing.plan(record['ir_path'], height, width)
        return record, plan

    def load_pair(item: tuple) -> dict:
        record, plan = item
        pair = load(dict(record))
        pair['plan'] = plan
        return pair

    def pixels(item: tuple) -> float:
        plan = item[1]
        return float(plan.height * plan.width) if plan is not None else 0.0

    # in flight: two batches' worth of pairs (at least two per worker), and at most twice the
    # pixels one call of the method may get
    depth = max(2 * batch_size, 2 * workers)
    max_cost = 2.0 * sizing.max_pixels if sizing is not None else float('inf')
    checked_records = (checked(record) for record in records)  # in order, before loading
    batch: list[dict] = []
    for pair in read_ahead(checked_records, load_pair, workers, depth, pixels, max_cost):
        height, width = pair['ir'].shape[:2]
        limit = batch_size if sizing is None else \
            min(batch_size, sizing.per_batch(height, width))
        if batch and (len(batch) >= limit or batch[0]['ir'].shape != pair['ir'].shape):
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


def input_folders(layout: DatasetLayout, records: dict) -> dict[str, str]:
    """``{real path: what it is}`` of every folder the source is read from: the root and the
    folders of the listed infrared, visible and label files (and the layout's label folders)."""
    folders = {os.path.realpath(layout.root): 'the source root'}
    kinds = (('ir_path', 'the infrared folder'), ('vi_path', 'the visible folder'),
             ('seg_map_path', 'the label folder'))
    for split, listed in records.items():
        label = layout.label_folder(split)
        if label:
            folders.setdefault(os.path.realpath(osp.join(layout.root, label)), 'the label folder')
        for record in listed:
            for key, what in kinds:
                if record.get(key):
                    folders.setdefault(os.path.realpath(osp.dirname(record[key])), what)
    return folders


def check_output_folder(out: str, folders: dict[str, str]) -> None:
    """Refuse an output folder that is, contains or lies inside an input folder: fused images
    and carried files would overwrite or mix with the sources."""
    target = os.path.realpath(out)
    found = []  # (rank, tie-break, relation): the most telling relation first
    for folder, what in folders.items():
        if target == folder:
            found.append((0, 0, f'is {what}'))
        elif target.startswith(folder.rstrip(os.sep) + os.sep):  # the deepest folder first
            found.append((1, -len(folder), f'lies inside {what} {folder}'))
        elif folder.startswith(target.rstrip(os.sep) + os.sep):  # the shallowest first
            found.append((2, len(folder), f'contains {what} {folder}'))
    if found:
        relation = min(found)[2]
        raise FusingError(f'--out {out} {relation}: fusing there would overwrite or mix with '
                          f'the source files. Choose an output folder outside the source '
                          f'dataset.')


def _progress_bar(total: int, out: str):
    from tqdm import tqdm
    return tqdm(total=total, unit='pair', desc=f'fusing into {out}', smoothing=0.1)


def _record_written(manifest: Manifest, out: str, written: list, fused_dir: str, bar) -> None:
    """Put the files a :class:`.pipeline.PngWriter` finished in the manifest and save it; the
    progress bar counts a pair when its fused image is written."""
    if not written:
        return
    for rel, digest, extra in written:
        manifest.record(out, rel, sha256=digest, **extra)
    manifest.save()
    if bar is not None:
        bar.update(sum(rel.startswith(fused_dir + os.sep) for rel, _, _ in written))


def fuse_split(fuser: Fuser, manifest: Manifest, layout: DatasetLayout, out: str,
               split: Optional[str], records: list[dict], save_seg: bool, batch_size: int,
               progress: bool, limit: Optional[int],
               sizing: Optional[Sizing] = None,
               workers: int = 0) -> tuple[int, int, float, int]:
    """Fuse one split's ``records`` into ``out``; returns ``(written, skipped, seconds,
    tiled)``.  ``workers > 0``: that many threads read the next pairs and as many write the
    PNGs of the previous batches while the method fuses (:mod:`.pipeline`)."""
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
    tiled = 0
    with PngWriter(out, workers) as png:
        for batch in size_batches(todo, batch_size, sizing, workers):
            tiled += _fuse_batch(fuser, png, batch, fused_dir, seg_dir, save_seg)
            _record_written(manifest, out, png.finished(), fused_dir, bar)
        while png.pending:  # a failed write is raised after the files written before it
            _record_written(manifest, out, png.drain(), fused_dir, bar)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    manifest.mark_split(split, len(records), complete=len(chosen) == len(records))
    manifest.save()
    return len(todo), len(chosen) - len(todo), seconds, tiled


def _fuse_batch(fuser: Fuser, png: PngWriter, batch: list[dict], fused_dir: str, seg_dir: str,
                save_seg: bool) -> int:
    """Fuse one batch and queue its PNGs on ``png``; returns 1 for a tiled pair, else 0."""
    plan = batch[0]['plan']
    tiled = 0
    extra = {}
    if plan is not None and plan.tiled:  # alone in its batch (Sizing.per_batch)
        vi = _uint8(batch, 'vi')  # the whole pair stays uint8; tiles are converted
        result = fuse_tiled(fuser, _uint8(batch, 'ir'), vi, plan, save_seg)
        images = {fused_dir: fused_rgb_rows(result.fused, vi, fuser.name)}
        extra = dict(tiles=[len(plan.ys), len(plan.xs)])
        tiled += 1
    else:
        vi = _stack(batch, 'vi', fuser.device)
        result = fuser.fuse(_stack(batch, 'ir', fuser.device), vi, semantic=save_seg)
        images = {fused_dir: fused_rgb(result.fused, vi, fuser.name)}
    result.fused = vi = None  # free the float images before the PNGs are encoded
    if save_seg:
        if result.semantic is None:
            raise FusingError(f'fusion method {fuser.name!r} returned no semantic '
                              f'prediction although asked for one')
        images[seg_dir] = result.semantic.to(torch.uint8).cpu().numpy()
    for folder, arrays in images.items():
        for pair, array in zip(batch, arrays):
            png.submit(array, osp.join(folder, f'{pair["name"]}.png'), **extra)
    del images
    return tiled


#: The largest tile the complexity of a tiled first pair is counted on (512 x 512).
COUNT_PIXELS = 1 << 18


def record_complexity(manifest: Manifest, fuser: Fuser, record: Optional[dict],
                      sizing: Optional[Sizing] = None) -> None:
    """Put the method's ``params`` / ``macs`` for one pair of ``record``'s size in the
    manifest, unless a previous run already did (for a pair fused in tiles: one tile's)."""
    if 'macs' in manifest.header or record is None:
        return
    height, width = image_size(record['ir_path'])
    note = ''
    if sizing is not None:
        fused = plan_tiles(height, width, sizing.max_pixels, sizing.overlap, sizing.multiple)
        if fused.tiled:  # counted on a tile of at most COUNT_PIXELS: tracing the
            # training-form network needs about twice the memory of fusing
            tile = plan_tiles(height, width, min(sizing.max_pixels, COUNT_PIXELS),
                              sizing.overlap, sizing.multiple)
            note = (f'counted on one {tile.tile_w} x {tile.tile_h} piece of the {width} x '
                    f'{height} image (fused in {fused.count} tiles of {fused.tile_w} x '
                    f'{fused.tile_h})')
            height, width = tile.tile_h, tile.tile_w
    counts = fuser.complexity(height, width)
    manifest.header.update(params=int(counts['params']), macs=int(counts['macs']),
                           complexity_input_hw=list(counts.get('input_hw', [height, width])))
    note = '; '.join(text for text in (counts.get('note'), note) if text)
    if note:
        manifest.header['complexity_note'] = note


def fuse_dataset(fuser: Union[Fuser, str, dict], src: str, layout: Union[str, DatasetLayout],
                 out: str, split: Union[str, Sequence[Optional[str]], None] = 'test',
                 save_seg: bool = False, batch_size: int = 1, progress: bool = True,
                 limit: Optional[int] = None,
                 layout_options: Optional[dict] = None,
                 max_pixels: Optional[int] = None, workers: int = 0,
                 before_fusing: Optional[Callable[[], None]] = None) -> FuseSummary:
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
        max_pixels: the largest padded image area fused in one call of the method (a batch
            of same-sized pairs counts together); a larger pair is fused in overlapping tiles
            (:mod:`.tiling`).  ``None``: from the available memory
            (:func:`~psfusion.fusing.memory.auto_max_pixels`).
        workers: threads reading the next pairs, and as many writing the previous batches'
            PNGs, while the method fuses (:mod:`.pipeline`; a speed setting: the files are
            the same).  0: all in the calling thread.
        before_fusing: called once after the complexity count, before the first pair is
            fused (``tools/fuse.py`` switches glibc to keeping freed memory there: under that
            setting the count's traced forward would leave about 1 GB more resident).

    Raises:
        FusingError: a bad argument; ``out`` is, contains or lies inside an input folder; ``out``
            holds another method's or source's output or a corrupt manifest; a pair that cannot
            be fused in the available memory even in tiles.
        psfusion.data.io.DataError: a problem with the source dataset's files.
    """
    if batch_size < 1:
        raise FusingError(f'batch size must be at least 1, got {batch_size}')
    if max_pixels is not None and max_pixels < 1:
        raise FusingError(f'max pixels must be at least 1, got {max_pixels}')
    if workers < 0:
        raise FusingError(f'workers must be 0 or more, got {workers}')
    if not isinstance(layout, DatasetLayout):
        layout = build_layout(layout, src, **(layout_options or {}))
    splits = parse_splits(split)
    records = {name: layout.samples(name, with_label=False) for name in splits}
    check_output_folder(out, input_folders(layout, records))
    fuser = build_fuser(fuser)
    if save_seg:
        fuser.check_semantic()
    budget = available_memory()
    multiple = int(fuser.size_multiple)
    pixels = max_pixels or auto_max_pixels(fuser.bytes_per_pixel(), budget, multiple)
    sizing = Sizing(pixels, multiple, int(fuser.tile_overlap), fuser.bytes_per_pixel(), budget)

    header = dict(format=MANIFEST_FORMAT, layout=layout.name, source=osp.abspath(layout.root),
                  method=fuser.name, identity=fuser.identity(), **fuser.describe(),
                  code_version=code_version(), colour=fuser.colour, geometry=fuser.geometry,
                  tiling=dict(max_pixels=pixels, max_pixels_from='given' if max_pixels else
                              f'auto: {budget.mib} MiB available ({budget.source})',
                              overlap=sizing.overlap, multiple=multiple,
                              blend='raised-cosine ramps across each overlap'))
    os.makedirs(out, exist_ok=True)
    written = skipped = tiled = 0
    seconds = 0.0
    with RunLock(out) as lock:
        removed = lock.acquire()  # temporary files of killed runs
        manifest = Manifest.open(out, header)
        # counted before the first fuse: a method that rewrites its network for inference
        # (PSFusion folds its BatchNorms) counts its own network, not a second one built for
        # it; the count (one traced forward of the training-form network) needs less memory
        # than fusing
        first = next((r[0] for r in records.values() if r), None)
        record_complexity(manifest, fuser, first, sizing)  # saved with the first split
        if before_fusing is not None:
            before_fusing()
        for name in splits:
            done = fuse_split(fuser, manifest, layout, out, name, records[name], save_seg,
                              batch_size, progress, limit, sizing, workers)
            written, skipped, seconds = written + done[0], skipped + done[1], seconds + done[2]
            tiled += done[3]
        peak = peak_rss_mib()
    return FuseSummary(method=fuser.name, written=written, skipped=skipped, seconds=seconds,
                       pairs_per_second=written / seconds if seconds > 0 else 0.0,
                       peak_rss_mib=peak, out=out, max_pixels=pixels, tiled=tiled,
                       removed_temporaries=len(removed))
