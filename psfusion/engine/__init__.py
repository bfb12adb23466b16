"""Training machinery (registered in the ``psfusion`` scope): weights-only, crash-safe
checkpoints, exact and honest resumption, the validation metric, the fused-sample hook, and
helpers for the tools."""
from .allocator import keep_freed_memory
from .binary_weights import (BinaryClassWeightHook, foreground_share,
                             use_dataset_binary_weights)
from .cpu_ddp import CPUSyncBNDistributedDataParallel
from .checkpoint import (AtomicCheckpointHook, WeightsOnlyCheckpointHook,
                         check_checkpoint_file, find_resume_checkpoint, from_weights_only,
                         load_checkpoint_checked, load_checkpoint_weights_only,
                         to_weights_only, use_atomic_checkpoints)
from .hooks import FusedSampleHook, sample_panel
from .resume import (RNGStateHook, ResumableIterBasedTrainLoop, capture_rng_state,
                     resolve_resume, restore_rng_state)
from .schedulers import ExponentialWarmupLR
from .splits import write_validation_split
from .val_metric import FusionValMetric

__all__ = [
    'keep_freed_memory', 'BinaryClassWeightHook', 'foreground_share',
    'use_dataset_binary_weights', 'CPUSyncBNDistributedDataParallel', 'AtomicCheckpointHook', 'WeightsOnlyCheckpointHook',
    'check_checkpoint_file', 'find_resume_checkpoint', 'from_weights_only',
    'load_checkpoint_checked', 'load_checkpoint_weights_only', 'to_weights_only',
    'use_atomic_checkpoints', 'FusedSampleHook', 'sample_panel', 'RNGStateHook',
    'ResumableIterBasedTrainLoop', 'capture_rng_state', 'resolve_resume', 'restore_rng_state',
    'write_validation_split', 'ExponentialWarmupLR', 'FusionValMetric'
]
