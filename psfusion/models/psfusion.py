"""PSFusion (Tang et al., Information Fusion 2023, Fig. 4) as an mmengine ``BaseModel``: wiring
only; every block lives in its own module.

Data flow (``F^i`` = fused feature of level ``i``)::

    vi (RGB), ir -> ModalityEncoder x 2 -> levels 1..6 per modality
    levels 1-3 -> SDFM, levels 4-6 -> PSFM                      -> F^1 .. F^6
    F^3..F^6 -> SemanticGather -> S2PM -> F_se -> S2P2 -> semantic / binary / boundary logits
    PSIM(F^1, F^2, F^3) -> DSRM -> SIM(., F_se) -> DSRM -> F_sr
    F_sr -> image fusion path -> fused Y;  F_sr -> scene fidelity paths -> vi Y^, ir^

Modes: ``tensor`` returns the raw output dict, ``loss`` the weighted loss terms (eq. 22),
``predict`` the samples with ``pred_fused`` (Y), ``pred_fused_rgb`` (fused Y + visible CbCr) and
``pred_sem_seg`` cropped back to each sample's ``img_shape``.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement, PixelData
from torch import nn

from ..color import merge_luma, rgb_to_y
from ..registry import MODELS
from .encoder import ModalityEncoder
from .psfm import PSFM
from .restoration import DSRM, PSIM, SIM, ImageFusionPath, SceneFidelityPath
from .sdfm import SDFM
from .semantic import S2P2, S2PM, SemanticGather

DEEP_FUSIONS = ('psfm', 'sdfm')


@MODELS.register_module()
class PSFusion(BaseModel):
    """Progressive semantic injection and scene fidelity fusion network.

    Args:
        num_classes: semantic classes of the S2P2 semantic head (9 for MSRS / MFNet).
        depth: ResNet depth of the two trunks (34 in the paper; 18 for the light variant).
        trunk_channels: base width of the trunks (64: standard ResNet; smaller only for tiny
            test models, which cannot use ImageNet weights).
        backbone_pretrained: path or URL of an ImageNet ResNet checkpoint (torchvision or
            mmpretrain format) loaded weights-only into both trunks by :meth:`init_weights`;
            ``None``: random trunks.
        stem_channels: SFEB1 width (level 1).
        rec_channels: width of fused levels 1-2 and of the scene restoration branch.
        fuse_channels: width of fused levels 3-6.
        seg_channels: width of the semantic branch (``F_se``).
        sim_hidden: hidden width of the SIMs.
        deep_fusion: ``'psfm'`` (paper) or ``'sdfm'`` (ablation "PSFM replaced by SDFM").
        attn_scale: PSFM attention logit scale (``1.0`` = none, as the paper and reference;
            ``None`` = ``1/sqrt(C)``).
        sdfm_reinforce: ``'cross'`` (paper eq. 4) or ``'self'`` (reference code).
        sim_pre_conv: a Conv_BN before the reference-form SIM's normalisation (the reference
            has none).
        sim_form: ``'reference'`` (the official SIM, default) or ``'paper'`` (eq. 15 exactly:
            ``gamma * IN(Conv_BN(x)) + beta``; see :class:`~.restoration.SIM`).
        attention: PSFM attention, ``'paper'`` (eq. 9, ``softmax(Q K^T) V``) or ``'reference'``
            (the official ``softmax(K Q^T) V``).
        dense_order: the PSFM dense layers' concatenation, ``'input_first'`` or
            ``'input_last'`` (official).
        fuse_order: the PSFM fuse convolution's input, ``'vi_ir'`` or ``'ir_vi'`` (official).
        double_bn: Conv-BN-BN-ReLU blocks in the S2PM and DSRMs (official; adds BatchNorms).
        align_corners: bilinear upsampling of the semantic branch (gathering and S2P2) with
            ``align_corners=True`` (official).
        with_sfp: build the scene fidelity path (ablation "w/o SFP": ``False``).
        with_s2p2: build the sparse semantic perception path's heads and losses (ablation
            "w/o S2P2": ``False``; ``F_se`` is still computed and injected).
        channels_last: keep weights and activations channels-last (NHWC); a speed switch
            (``tools/train_fusion.py --channels-last``), not a different network.
        loss: config of the objective (:class:`~psfusion.losses.PSFusionLoss`).
        data_preprocessor: config of the batching step.
    """

    def __init__(self, num_classes: int = 9, depth: int = 34, trunk_channels: int = 64,
                 backbone_pretrained: Optional[str] = None, stem_channels: int = 32,
                 rec_channels: int = 32, fuse_channels: int = 64, seg_channels: int = 64,
                 sim_hidden: int = 32, deep_fusion: str = 'psfm',
                 attn_scale: Optional[float] = 1.0, sdfm_reinforce: str = 'cross',
                 sim_pre_conv: bool = False, sim_form: str = 'reference',
                 attention: str = 'paper', dense_order: str = 'input_first',
                 fuse_order: str = 'vi_ir', double_bn: bool = False,
                 align_corners: bool = False, with_sfp: bool = True, with_s2p2: bool = True,
                 channels_last: bool = False,
                 loss: Union[dict, nn.Module] = dict(type='PSFusionLoss'),
                 data_preprocessor: Union[dict, nn.Module] = dict(type='FusionDataPreprocessor'),
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if deep_fusion not in DEEP_FUSIONS:
            raise ValueError(f'deep_fusion must be one of {DEEP_FUSIONS}, got {deep_fusion!r}')
        self.num_classes = num_classes
        self.backbone_pretrained = backbone_pretrained
        self.with_sfp, self.with_s2p2 = with_sfp, with_s2p2

        self.encoder_vi = ModalityEncoder(3, depth, stem_channels, trunk_channels)
        self.encoder_ir = ModalityEncoder(1, depth, stem_channels, trunk_channels)
        enc = self.encoder_vi.out_channels
        widths = (rec_channels, rec_channels) + (fuse_channels, ) * 4

        def deep(level: int) -> nn.Module:
            if deep_fusion == 'psfm':
                return PSFM(enc[level], widths[level], attn_scale, attention, dense_order,
                            fuse_order)
            return SDFM(enc[level], widths[level], reinforce=sdfm_reinforce)

        self.fuse_levels = nn.ModuleList(
            [SDFM(enc[i], widths[i], reinforce=sdfm_reinforce) for i in range(3)] +
            [deep(i) for i in range(3, 6)])

        self.semantic_gather = SemanticGather(widths[2:], seg_channels, align_corners)
        self.s2pm = S2PM(self.semantic_gather.out_channels, seg_channels, double_bn=double_bn)
        self.s2p2 = S2P2(seg_channels, num_classes, align_corners) if with_s2p2 else None

        self.psim = PSIM(rec_channels, widths[2], sim_hidden, sim_pre_conv, sim_form)
        self.dsrm1 = DSRM(rec_channels, double_bn=double_bn)
        self.sim = SIM(rec_channels, seg_channels, sim_hidden, sim_pre_conv, sim_form)
        self.dsrm2 = DSRM(rec_channels, double_bn=double_bn)
        self.fusion_path = ImageFusionPath(rec_channels)
        self.fidelity_vi = SceneFidelityPath(rec_channels) if with_sfp else None
        self.fidelity_ir = SceneFidelityPath(rec_channels) if with_sfp else None

        self.loss_module = MODELS.build(loss) if isinstance(loss, dict) else loss
        #: NHWC weights and activations (``channels_last=True``): the layout tensor cores and
        #: oneDNN convolve fastest in; the values are the same up to float rounding.
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    # ----------------------------------------------------------------- weights
    def init_weights(self) -> None:
        """Default initialisation, then the pretrained trunks (fails fast if unreadable)."""
        super().init_weights()
        if self.backbone_pretrained:
            self.encoder_vi.load_pretrained(self.backbone_pretrained)
            self.encoder_ir.load_pretrained(self.backbone_pretrained)

    # ----------------------------------------------------------------- network
    def run(self, ir: torch.Tensor, vi: torch.Tensor, semantic: bool = True,
            fidelity: bool = True) -> dict:
        """The network on float inputs (``ir`` ``B x 1``, ``vi`` ``B x 3`` RGB, in [0, 1], sides
        divisible by 32).  ``semantic`` / ``fidelity`` = ``False`` skip the heads not needed
        (inference).  Returns a dict of ``fused`` and, when computed, ``vi_rec``, ``ir_rec``,
        ``semantic``, ``binary``, ``boundary``."""
        size = ir.shape[-2:]
        if self.channels_last:
            ir = ir.contiguous(memory_format=torch.channels_last)
            vi = vi.contiguous(memory_format=torch.channels_last)
        feats_vi, feats_ir = self.encoder_vi(vi), self.encoder_ir(ir)
        fused = [fuse(v, i) for fuse, v, i in zip(self.fuse_levels, feats_vi, feats_ir)]
        del feats_vi, feats_ir
        f_se = self.s2pm(self.semantic_gather(fused[2:]))
        out = {}
        if semantic and self.s2p2 is not None:
            out['semantic'], out['binary'], out['boundary'] = self.s2p2(f_se, size)
        rec = self.dsrm1(self.psim(fused[0], fused[1], fused[2]))
        del fused
        rec = self.dsrm2(self.sim(rec, f_se))
        out['fused'] = self.fusion_path(rec)
        if fidelity and self.fidelity_vi is not None:
            out['vi_rec'] = self.fidelity_vi(rec)
            out['ir_rec'] = self.fidelity_ir(rec)
        return out

    def forward(self, inputs: dict, data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[dict, list]:
        ir, vi = inputs['ir'], inputs['vi']
        if mode == 'tensor':
            return self.run(ir, vi)
        if mode == 'loss':
            return self.loss(ir, vi, data_samples)
        if mode == 'predict':
            return self.predict(ir, vi, data_samples)
        raise RuntimeError(f'invalid mode {mode!r}: use tensor, loss or predict')

    # ----------------------------------------------------------------- modes
    def loss(self, ir: torch.Tensor, vi: torch.Tensor, data_samples: Sequence) -> dict:
        """Weighted loss terms of eq. 22 (see :class:`~psfusion.losses.PSFusionLoss`)."""
        if self.training and ir.shape[0] < 2:
            raise ValueError('training needs at least 2 samples per process and batch: the '
                             'SDFM / scene-fidelity gates apply BatchNorm after global pooling, '
                             'as the reference network does. Raise train_dataloader.batch_size.')
        labels = stack_labels(data_samples, ir.shape[0], ir.device)
        if self.s2p2 is not None:
            self.loss_module.check_semantic_labels(labels)  # before the costly forward
        outputs = self.run(ir, vi, semantic=True, fidelity=True)
        if labels['target'] is not None:
            labels['target'] = (labels['target'] == 1).float().unsqueeze(1)
        # the objective in float32 also under bf16 autocast (--amp): its means, variances and
        # correlations need more than bf16's 8 mantissa bits
        with torch.autocast(ir.device.type, enabled=False):
            outputs = {key: _at_least_float32(value) for key, value in outputs.items()}
            return self.loss_module(outputs, _at_least_float32(ir),
                                    rgb_to_y(_at_least_float32(vi)), labels)

    @torch.no_grad()
    def predict(self, ir: torch.Tensor, vi: torch.Tensor,
                data_samples: Optional[Sequence] = None, semantic: bool = True) -> list:
        """Fused images (and semantic predictions) per sample, cropped to ``img_shape``.

        ``semantic=False`` skips the semantic head (no ``pred_sem_seg``; the fused image is
        the same, since ``F_se`` is computed either way)."""
        outputs = self.run(ir, vi, semantic=semantic, fidelity=False)
        fused_rgb = merge_luma(outputs['fused'], vi)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(ir.shape[0])]
        for i, sample in enumerate(data_samples):
            h, w = sample.metainfo.get('img_shape', ir.shape[-2:])
            sample.pred_fused = PixelData(data=outputs['fused'][i, :, :h, :w])
            sample.pred_fused_rgb = PixelData(data=fused_rgb[i, :, :h, :w])
            if 'semantic' in outputs:
                seg = outputs['semantic'][i:i + 1, :, :h, :w].argmax(dim=1)
                sample.pred_sem_seg = PixelData(data=seg)
        return list(data_samples)


def _at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` in float32, or float64 when it is float64."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


LABEL_KEYS = {'sem_seg': 'gt_sem_seg', 'binary': 'gt_binary', 'boundary': 'gt_boundary',
              'target': 'gt_target'}


def stack_labels(data_samples: Optional[Sequence], batch: int, device: torch.device) -> dict:
    """``B x H x W`` int64 label batches from the samples' label fields (``None`` when absent)."""
    labels = {}
    for key, field in LABEL_KEYS.items():
        if data_samples and all(field in s for s in data_samples) and len(data_samples) == batch:
            labels[key] = torch.stack([getattr(s, field).data[0] for s in data_samples]).to(
                device=device, dtype=torch.long)
        else:
            labels[key] = None
    return labels
