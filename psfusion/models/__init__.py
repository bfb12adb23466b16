"""PSFusion's network (registered in the ``psfusion`` scope), one module per block of the
paper: encoder (SFEB + ResNet trunks), SDFM, PSFM, semantic branch (S2PM, S2P2), scene
restoration (SIM/PSIM, DSRM, image fusion and scene fidelity paths), the data preprocessor and
the ``BaseModel`` that wires them.  Importing it also registers the losses."""
from .. import losses  # noqa: F401  (registers PSFusionLoss in MODELS)
from .data_preprocessor import FusionDataPreprocessor
from .encoder import SFEB1, SFEB2, ModalityEncoder, PretrainedTrunkError, load_trunk_state_dict
from .layers import FReLU
from .psfm import PSFM, CrossModalAttention, DenseBlock, spatial_attention
from .psfusion import PSFusion
from .restoration import (DSRM, PSIM, SIM, ImageFusionPath, ModalityMask,
                          SceneFidelityPath)
from .sdfm import SDFM
from .sync_batchnorm import AllReduceSyncBN
from .semantic import S2P2, S2PM, SemanticGather

__all__ = [
    'FusionDataPreprocessor', 'SFEB1', 'SFEB2', 'ModalityEncoder', 'PretrainedTrunkError',
    'load_trunk_state_dict', 'FReLU', 'PSFM', 'CrossModalAttention', 'DenseBlock',
    'spatial_attention', 'PSFusion', 'DSRM', 'PSIM', 'SIM', 'ImageFusionPath', 'ModalityMask',
    'SceneFidelityPath', 'SDFM', 'AllReduceSyncBN', 'S2P2', 'S2PM', 'SemanticGather'
]
