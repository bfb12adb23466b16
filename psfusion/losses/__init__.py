"""PSFusion's losses (paper eq. 16-23): one function per term, and :class:`PSFusionLoss`, the
weighted sum registered in the ``psfusion`` scope."""
from .fidelity import scene_fidelity_loss
from .fusion import (contrast_masks, correlation, correlation_loss, guarded_reciprocal,
                     intensity_loss, local_variance, texture_loss, windowed_mse)
from .gradients import second_order_abs_sum, sobel_abs
from .psfusion_loss import PSFusionLoss
from .semantic import (boundary_cross_entropy, enet_class_weights, ohem_cross_entropy,
                       ohem_min_kept, weighted_cross_entropy)

__all__ = [
    'scene_fidelity_loss', 'contrast_masks', 'correlation', 'correlation_loss',
    'guarded_reciprocal', 'intensity_loss', 'local_variance', 'texture_loss', 'windowed_mse',
    'second_order_abs_sum', 'sobel_abs', 'PSFusionLoss', 'boundary_cross_entropy',
    'enet_class_weights', 'ohem_cross_entropy', 'ohem_min_kept', 'weighted_cross_entropy'
]
