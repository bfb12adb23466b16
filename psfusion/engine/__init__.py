"""Training machinery (registered in the ``psfusion`` scope): weights-only checkpoints, exact
resumption, the validation metric, the fused-sample hook, and helpers for the tools."""
from .allocator import keep_freed_memory
from .checkpoint import (WeightsOnlyCheckpointHook, from_weights_only,
                         load_checkpoint_weights_only, to_weights_only)
from .hooks import FusedSampleHook, sample_panel
from .resume import RNGStateHook, ResumableIterBasedTrainLoop, capture_rng_state, restore_rng_state
from .splits import write_validation_split
from .val_metric import FusionValMetric

__all__ = [
    'keep_freed_memory', 'WeightsOnlyCheckpointHook', 'from_weights_only',
    'load_checkpoint_weights_only', 'to_weights_only',
    'FusedSampleHook', 'sample_panel', 'RNGStateHook', 'ResumableIterBasedTrainLoop',
    'capture_rng_state', 'restore_rng_state', 'write_validation_split', 'FusionValMetric'
]
