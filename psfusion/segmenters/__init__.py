"""Segmenters the benchmark trains that mmsegmentation does not ship, as mmseg models.

* :mod:`.banet`: BANet (Peng et al., "Bilateral attention decoder: a lightweight decoder for
  real-time semantic segmentation", Neural Networks 137, 2021), the segmenter SeAFusion trains on
  MSRS: attention refinement at 1/8, 1/16 and 1/32 of a ResNet-18 (:class:`BANetNeck`), the
  bilateral attention decoder with its main output (:class:`BANetHead`) and the auxiliary output
  on the 1/16 refinement (:class:`BANetAuxHead`).
* :mod:`.cmx`: CMX (Zhang, Liu et al., "CMX: Cross-Modal Fusion for RGB-X Semantic Segmentation
  with Transformers", T-ITS 2023), feature-level RGB-thermal fusion: two MiT streams with
  rectification and fusion modules after every stage (:class:`CMXBackbone`).
* :mod:`.early_fusion`: SegFormer's MiT on the 4-channel (R, G, B, T) input
  (:class:`EarlyFusionMiT`).
* :mod:`.ohem`: the OHEM cross-entropy of its training (:class:`BatchOhemCrossEntropyLoss`).
* :mod:`.schedulers`: its exponential learning-rate warm-up (:class:`ExponentialWarmupLR`).

Everything registers in **mmseg's** registries (``MODELS``, ``PARAM_SCHEDULERS``), so configs
name the types plainly inside the mmseg model (``_scope_='mmseg'``), as mmseg's own heads.  The
``psfusion`` scope's ``MODELS`` would import :mod:`psfusion.models` (the fusion network) on every
look-up, and the benchmark must not depend on the fusion network.  Configs import this package
through ``custom_imports`` (``mmseg_configs/_base_/datasets/msrs.py``).
"""
from .banet import AttentionRefinement, BANetAuxHead, BANetHead, BANetNeck
from .cmx import CMXBackbone, FeatureFusion, FeatureRectification
from .early_fusion import EarlyFusionMiT
from .ohem import BatchOhemCrossEntropyLoss, ohem_cross_entropy
from .schedulers import ExponentialWarmupLR, ExponentialWarmupParamScheduler

__all__ = [
    'AttentionRefinement', 'BANetAuxHead', 'BANetHead', 'BANetNeck', 'BatchOhemCrossEntropyLoss',
    'CMXBackbone', 'EarlyFusionMiT', 'FeatureFusion', 'FeatureRectification',
    'ohem_cross_entropy', 'ExponentialWarmupLR', 'ExponentialWarmupParamScheduler'
]
