"""A short schedule for CPU runs (the offline demo, smoke tests): 300 iterations.

Same optimiser family as the paper's schedule (AdamW, weight decay 0.01, head lr x10, linear
warm-up then poly decay), with a 20x larger learning rate (1.2e-3) because the backbone starts
from scratch and has only a few hundred steps (on the synthetic data, SegFormer-mini learned
clearly less in 300 steps at 6e-4, and no better at 2.4e-3).  Numbers from it are **not**
comparable with the paper's.
"""
schedule_settings = dict(
    name='quick',
    optim_wrapper=dict(
        _delete_=True,
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1.2e-3, betas=(0.9, 0.999), weight_decay=0.01),
        paramwise_cfg=dict(custom_keys={
            'pos_block': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
            'head': dict(lr_mult=10.0)
        })),
    param_scheduler=[
        dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=30),
        dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=30, end=300),
    ],
    train_cfg=dict(type='IterBasedTrainLoop', max_iters=300, val_interval=300),
    default_hooks=dict(
        logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
        checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=1,
                        save_last=True)),
)
