# Runtime shared by every PSFusion training config (mmengine Runner).
default_scope = 'psfusion'
custom_imports = dict(
    imports=['psfusion', 'psfusion.models', 'psfusion.engine'], allow_failed_imports=False)

env_cfg = dict(
    # fixed-size training crops: let cuDNN time its algorithms once per shape
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train_fusion.py switches to gloo when no GPU is present
    dist_cfg=dict(backend='nccl'))

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # best checkpoint on the *validation* split's semantic-head mIoU (never the test split)
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2,
                    save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))

custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),  # checkpoints load with torch.load(weights_only=True)
    dict(type='RNGStateHook'),  # generator states in checkpoints, for exact resumption
    dict(type='FusedSampleHook', num_samples=4),  # infrared | visible | fused panels
]

log_processor = dict(by_epoch=False)
log_level = 'INFO'
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
randomness = dict(seed=0)
load_from = None
resume = False
