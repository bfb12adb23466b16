"""Whether a segmenter starts from its pretrained backbone checkpoint (``--pretrained``).

The paper's segmenters start from ImageNet backbones; a machine without network access may not
reach them.  :func:`resolve_pretrained` decides before any training: ``on`` (the tool's default)
insists and stops with :class:`PretrainedUnavailable`, ``auto`` trains from scratch with a
warning, ``off`` always trains from scratch.  A checkpoint counts as reachable when it is a
local file, already in torch's hub cache, or answers an HTTP ``HEAD``.  A local (or cached)
file is loaded once, weights-only, by :func:`check_pretrained_file`: a corrupt or incomplete
one stops with :class:`PretrainedCorrupt` naming it (``on`` and ``auto`` alike), instead of a
``KeyError`` from inside the segmenter's initialisation.
"""
from __future__ import annotations

import os
import urllib.request
from typing import Callable, Optional

from mmengine.config import Config

from ..errors import CheckpointError, PsfusionError

PRETRAINED_MODES = ('auto', 'on', 'off')
Log = Callable[[str], None]


class PretrainedUnavailable(PsfusionError, RuntimeError):
    """The segmenter's pretrained backbone checkpoint cannot be read (``--pretrained on``)."""


class PretrainedCorrupt(PretrainedUnavailable, CheckpointError):
    """A pretrained checkpoint is present but corrupt, incomplete or refused weights-only."""


def hub_dir() -> str:
    """torch's checkpoint cache (where a downloaded backbone is looked up first)."""
    import torch.hub

    return os.path.join(torch.hub.get_dir(), 'checkpoints')


def local_copy(checkpoint: str) -> Optional[str]:
    """The file a checkpoint is read from without a download: the path itself, or for a URL
    its copy in torch's hub cache; None when there is none."""
    if os.path.isfile(checkpoint):
        return checkpoint
    if checkpoint.startswith(('http://', 'https://')):
        cached = os.path.join(hub_dir(), os.path.basename(checkpoint))
        if os.path.isfile(cached):
            return cached
    return None


def check_pretrained_file(checkpoint: str, what: str = 'pretrained checkpoint',
                          fix: str = '') -> None:
    """Load the local copy of ``checkpoint`` (if any) weights-only, as training will, so that a
    corrupt or incomplete file is named now rather than failing inside model initialisation.

    Raises:
        PretrainedCorrupt: the file is empty, truncated, garbled or refused weights-only.
    """
    from ..engine.checkpoint import load_checkpoint_checked

    path = local_copy(checkpoint)
    if path is None:
        return
    advice = (f'Delete it and download it again (or copy a complete one there){fix}.')
    try:
        load_checkpoint_checked(path, advice=advice)
    except CheckpointError as exc:
        raise PretrainedCorrupt(f'{what}: {exc}') from exc


def checkpoint_reachable(checkpoint: str, timeout: float = 5.0) -> bool:
    """A local file, a file in torch's hub cache, or a URL that answers ``HEAD``."""
    if os.path.isfile(checkpoint):
        return True
    if not checkpoint.startswith(('http://', 'https://')):
        return False
    if os.path.isfile(os.path.join(hub_dir(), os.path.basename(checkpoint))):
        return True
    try:
        request = urllib.request.Request(checkpoint, method='HEAD')
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status < 400
    except (OSError, ValueError):
        return False


def resolve_pretrained(cfg: Config, mode: str, log: Log = print) -> str:
    """Keep or drop ``cfg.model.backbone.init_cfg``'s checkpoint; returns what was decided.

    Raises:
        PretrainedUnavailable: ``mode='on'`` and the checkpoint cannot be reached (``cfg`` is
            left untouched).
        PretrainedCorrupt: ``mode`` ``'on'`` or ``'auto'`` and the local (or hub-cached) file
            is corrupt or incomplete: a broken file is never silently replaced by scratch
            training.
        ValueError: an unknown mode.
    """
    if mode not in PRETRAINED_MODES:
        raise ValueError(f'unknown --pretrained {mode!r}; valid: {", ".join(PRETRAINED_MODES)}')
    init_cfg = cfg.model.backbone.get('init_cfg')
    checkpoint = init_cfg.get('checkpoint') if init_cfg else None
    if not checkpoint:
        return 'none in config (trained from scratch)'
    if mode in ('on', 'auto') and checkpoint_reachable(checkpoint):
        check_pretrained_file(checkpoint, 'pretrained backbone (init_cfg.checkpoint)',
                              ', or run --pretrained off to train from scratch')
        return f'on: {checkpoint}'
    name = os.path.basename(checkpoint)
    if mode == 'on':
        raise PretrainedUnavailable(
            f'the pretrained backbone {checkpoint} cannot be reached from this machine. '
            f'Download it elsewhere and copy it to {hub_dir()}/{name} '
            f'(or pass --cfg-options model.backbone.init_cfg.checkpoint=PATH), or run '
            f'--pretrained off to train from scratch (numbers then not comparable with the '
            f"paper's).")
    cfg.model.backbone.init_cfg = None
    if mode == 'auto':
        log(f'pretrained backbone {checkpoint} cannot be reached: training from scratch '
            f"(numbers are then not comparable with the paper's; use --pretrained on to "
            f'insist, or place the file in {hub_dir()})')
        return 'off (unreachable)'
    return 'off'
