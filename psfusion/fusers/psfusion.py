"""PSFusion as a fusion method: a trained network fusing through :meth:`PSFusion.predict`.

The model is built from its config and loaded weights-only from the checkpoint (``None`` or
``'none'``: random weights from ``seed``, for timing and tests).  Each batch goes through the
model's own :class:`~psfusion.models.data_preprocessor.FusionDataPreprocessor` (reflection
padding to a multiple of 32; the writer's batches hold one image size, so each image is padded
on its own) and :meth:`~psfusion.models.psfusion.PSFusion.predict` (fused Y + the visible
image's Cb/Cr, semantic class ids, cropped back to each image's size): there is no second copy
of the network's inference here.

``optimise=True`` (default) folds every BatchNorm into its convolution and runs channels-last
(:func:`~psfusion.models.inference.prepare_for_inference`): the same function up to float
rounding, fewer passes over memory.  On CUDA the network runs in full float32 unless
``tf32=True``: with TF32 convolutions (PyTorch's cuDNN default) the written pixels of the
reference-size network (random weights, 480 x 640, H200) moved by up to 45 levels against
float32, and by up to 6 between batch sizes 1 and 4 (float32: at most 1).

``amp=True`` runs the network under bf16 autocast (``torch.autocast``; meant for CUDA, where
``tools/fuse.py --amp`` offers it): the GPU's bf16 convolutions, but the written pixels differ
from the float32 ones by rounding (``benchmarks/bench_fuse.py`` counts the changed
pixels); the manifest records ``math`` and, since the images differ, a folder fused in one
math is not continued in the other.

Model code is imported when a fuser is built, so the package (and the parameter-free methods)
import without it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os.path as osp
from typing import Iterator, Optional, Union

import torch
from mmengine.config import Config

from ..registry import FUSERS
from .base import Y_COLOUR, Fuser, FusingError, FusionOutput


def load_fusion_model(config: Union[str, Config], checkpoint: Optional[str],
                      device: Union[str, torch.device] = 'cpu',
                      seed: int = 0) -> tuple[torch.nn.Module, dict]:
    """Build the config's model and load ``checkpoint`` weights-only (``None`` / ``'none'``:
    random weights from ``seed``).  Returns the model (train mode, untouched otherwise) and a
    description for the manifest: ``config``, ``model`` (the config's model dict) and
    ``checkpoint`` (``path`` and ``sha256``, or ``random_seed``)."""
    from ..engine.checkpoint import load_checkpoint_weights_only
    from ..fusing.manifest import sha256_file
    from ..registry import MODELS

    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    model_cfg = cfg.model.copy()
    model_cfg.backbone_pretrained = None  # the checkpoint (or nothing) sets every weight
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    info = {'config': cfg.filename,
            'model': json.loads(json.dumps(cfg.model.to_dict(), default=str))}
    if checkpoint and checkpoint.lower() != 'none':
        try:
            state = load_checkpoint_weights_only(checkpoint)
        except (OSError, RuntimeError) as exc:
            raise FusingError(str(exc)) from exc
        state = state.get('state_dict', state)
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in state.items()}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise FusingError(f'{checkpoint}: its weights do not fit the model of '
                              f'{cfg.filename} ({str(exc).splitlines()[0]}). Give the config '
                              f'the checkpoint was trained with.') from exc
        info['checkpoint'] = {'path': osp.abspath(checkpoint), 'sha256': sha256_file(checkpoint)}
    else:
        info['checkpoint'] = {'path': None, 'sha256': None, 'random_seed': seed}
    return model.to(device), info


@contextlib.contextmanager
def float32_math(enabled: bool = True) -> Iterator[None]:
    """Within the block, no TF32 in cuDNN convolutions and CUDA matrix products (restored
    after)."""
    if not enabled:
        yield
        return
    conv, matmul = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = conv, matmul


@FUSERS.register_module(name='psfusion')
class PSFusionFuser(Fuser):
    """A trained PSFusion network (see the module docstring).

    Args:
        config: the model's config (file or :class:`~mmengine.config.Config`).
        checkpoint: its weights (``None`` / ``'none'``: random weights from ``seed``).
        device: where the network runs.
        optimise: fold BatchNorms and run channels-last (at the first :meth:`fuse`);
            ``False`` runs the training-form network in eval mode.
        seed: seed of the random weights when there is no checkpoint.
        tf32: allow TF32 math on CUDA (faster on recent GPUs, but the written images move by
            several levels and depend on the batch size); default full float32.
        amp: run the network under bfloat16 autocast (see the module docstring).
    """

    name = 'psfusion'
    colour = Y_COLOUR
    geometry = 'reflect-padded to a multiple of 32 per image, cropped back; no resizing'
    uses_model_files = True
    #: Tiles overlap by two cells of the deepest level (1/32): the blend hides the seam; the
    #: global attention still sees only its tile (difference measured in README).
    tile_overlap = 64
    #: Working memory per padded pixel and per channel of the fusion path (``fuse_channels``):
    #: measured peak RSS growth at 1024 x 1024 on the CPU was 36.5 (light, 32 channels: 1168 B)
    #: and 36.1 (paper, 64 channels: 2309 B) bytes; rounded up.
    BYTES_PER_PIXEL_PER_CHANNEL = 40

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 device: Union[str, torch.device] = 'cpu', optimise: bool = True,
                 seed: int = 0, tf32: bool = False, amp: bool = False) -> None:
        super().__init__(device)
        self.config = config if isinstance(config, Config) else Config.fromfile(config)
        self.model, self.info = load_fusion_model(self.config, checkpoint, self.device, seed)
        self.model.eval()
        self.optimise, self.tf32, self.amp = optimise, tf32, amp
        self._folded = False
        self._counts: dict = {}  # complexity by padded size

    @property
    def has_semantic(self) -> bool:
        return getattr(self.model, 's2p2', None) is not None

    def check_semantic(self) -> None:
        if not self.has_semantic:
            raise FusingError('--save-seg needs a PSFusion model with the semantic head '
                              f'(with_s2p2=True); {self.info["config"]} has none.')

    def identity(self) -> dict:
        model = json.dumps(self.info['model'], sort_keys=True).encode()
        checkpoint = self.info['checkpoint']
        identity = dict(model_sha256=hashlib.sha256(model).hexdigest(),
                        checkpoint_sha256=checkpoint['sha256'],
                        random_seed=checkpoint.get('random_seed'))
        if self.amp:  # only then: folders fused in float32 before this option keep resuming
            identity['math'] = 'bf16 autocast'
        return identity

    def describe(self) -> dict:
        if self.amp:
            math = 'bf16 autocast'
        else:
            math = 'tf32 allowed' if self.tf32 and self.device.type == 'cuda' else 'float32'
        return dict(self.info, math=math)

    @property
    def size_divisor(self) -> int:
        return int(self.model.data_preprocessor.size_divisor)

    @property
    def size_multiple(self) -> int:  # type: ignore[override]
        return self.size_divisor

    def bytes_per_pixel(self) -> float:
        channels = int(self.config.model.get('fuse_channels', 64))
        return float(self.BYTES_PER_PIXEL_PER_CHANNEL * channels)

    def complexity(self, height: int, width: int) -> dict:
        """Counted on the training-form network (the counts do not depend on the weights;
        folding would hide the BatchNorm parameters): this fuser's own before its first
        :meth:`fuse` with ``optimise`` (the writer asks then), and remembered per padded size.
        Only a size first asked for after folding needs a training-form network built afresh
        on the CPU (and freed): that costs a second model's memory and a traced forward."""
        from ..complexity import fusion_complexity

        div = self.size_divisor
        h, w = -(-int(height) // div) * div, -(-int(width) // div) * div
        if (h, w) not in self._counts:
            model = load_fusion_model(self.config, None)[0] if self._folded else self.model
            counts = fusion_complexity(model, h, w, semantic=False, fidelity=False)
            del model
            # the count's tracing wrapper restores its own (train) mode onto the network
            self.model.eval()
            self._counts[h, w] = (int(counts.params), int(counts.macs))
        params, macs = self._counts[h, w]
        return dict(params=params, macs=macs, input_hw=[h, w],
                    note='macs: multiply-adds (mmengine count) of fusion inference on one '
                    'pair padded to input_hw, semantic and fidelity heads excluded; '
                    'FLOPs = 2 x macs')

    def _prepare(self) -> None:
        if self.optimise and not self._folded:
            from ..models.inference import prepare_for_inference

            prepare_for_inference(self.model, channels_last=True)
            self._folded = True

    def fuse(self, ir: torch.Tensor, vi: torch.Tensor, semantic: bool = False) -> FusionOutput:
        from mmengine.structures import BaseDataElement

        if semantic:
            self.check_semantic()
        self._prepare()  # outside inference mode: the folded weights stay ordinary tensors
        with torch.inference_mode(), float32_math(not self.tf32), \
                torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            size = tuple(ir.shape[-2:])
            samples = [BaseDataElement(metainfo=dict(img_shape=size)) for _ in range(len(ir))]
            data = self.model.data_preprocessor(
                dict(inputs=dict(ir=ir, vi=vi), data_samples=samples), False)
            ir, vi = data['inputs']['ir'], data['inputs']['vi']
            if self.optimise:
                ir, vi = (t.contiguous(memory_format=torch.channels_last) for t in (ir, vi))
            results = self.model.predict(ir, vi, data['data_samples'], semantic=semantic)
            fused = torch.stack([sample.pred_fused_rgb.data.float() for sample in results])
            seg = torch.cat([sample.pred_sem_seg.data for sample in results]) if semantic \
                else None
        return FusionOutput(fused, seg)
