"""The paper's 160k-iteration schedule (also mmseg 1.2.2's default for SegFormer and SegNeXt),
and the runtime of every benchmark config.

mmseg's 160k schedule and default runtime with mmseg's SegFormer/SegNeXt optimiser: AdamW, lr
6e-5, weight decay 0.01 (none for ``pos_block`` and norm layers), head lr x10; linear warm-up
over 1500 iterations, then poly decay (power 1.0) to 0 at 160k iterations; the last checkpoint
kept.  lr 6e-5 is SegFormer's and SegNeXt's own (SegFormer paper, implementation details;
mmseg 1.2.2 ``segformer_mit-b*_8xb2-160k_ade20k-512x512.py``,
``segnext_mscan-*_1xb16-adamw-160k_ade20k-512x512.py``) and the PSFusion authors' for every
segmenter but SegFormer-B2 (1e-4: ``segformer_b2_160k.py``).  The batch size belongs to the
loaders (the dataset base's 8, or the leaf's: see each model base).
``tools/benchmark_downstream.py --schedule`` replaces ``optim_wrapper``,
``param_scheduler``, ``train_cfg`` and ``default_hooks`` by those of a schedule file resolved
on its own, so each schedule file sets all four.
"""
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_160k.py']
schedule_name = '160k'  # recorded in results.csv (``schedule``)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'pos_block': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0),
        'head': dict(lr_mult=10.0)
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=160000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=1,
                    save_last=True))
