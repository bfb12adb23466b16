"""Training hooks: save a few fused validation samples as images."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from PIL import Image

from ..registry import HOOKS
from .val_metric import _batch_images


def sample_panel(ir: torch.Tensor, vi: torch.Tensor, fused_rgb: torch.Tensor,
                 gap: int = 4) -> np.ndarray:
    """``infrared | visible | fused`` side by side (uint8 ``H x W x 3``), white gaps.

    ``ir`` (1 x H x W) and ``vi`` (3 x H x W) are uint8; ``fused_rgb`` is float in [0, 1].
    """
    h, w = fused_rgb.shape[-2:]
    ir = ir[:, :h, :w].expand(3, h, w).cpu()
    vi = vi[:, :h, :w].cpu()
    fused = (fused_rgb.detach().float().cpu() * 255).round().clamp(0, 255).to(torch.uint8)
    sep = torch.full((3, h, gap), 255, dtype=torch.uint8)
    panel = torch.cat([ir, sep, vi, sep, fused], dim=2)
    return panel.permute(1, 2, 0).numpy()


@HOOKS.register_module()
class FusedSampleHook(Hook):
    """After each validation, write the first ``num_samples`` samples as
    ``WORK_DIR/<out_dir>/iter_<N>/<name>.png`` panels (infrared | visible | fused).

    Args:
        num_samples: how many validation samples to save each time.
        out_dir: folder under the work directory.
    """

    priority = 'LOW'

    def __init__(self, num_samples: int = 4, out_dir: str = 'fused_samples') -> None:
        self.num_samples = num_samples
        self.out_dir = out_dir
        self._saved = 0

    def before_val_epoch(self, runner) -> None:
        self._saved = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        if not is_main_process() or not outputs or self._saved >= self.num_samples:
            return
        folder = os.path.join(runner.work_dir, self.out_dir, f'iter_{runner.iter}')
        os.makedirs(folder, exist_ok=True)
        irs, vis = _batch_images(data_batch, 'ir'), _batch_images(data_batch, 'vi')
        for sample, ir, vi in zip(outputs, irs, vis):
            if self._saved >= self.num_samples:
                break
            name = sample.metainfo.get('name', f'sample_{self._saved}')
            panel = sample_panel(ir, vi, sample.pred_fused_rgb.data)
            Image.fromarray(panel).save(os.path.join(folder, f'{name}.png'))
            self._saved += 1
