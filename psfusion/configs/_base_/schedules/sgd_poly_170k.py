# Paper section 4.1 + reference code: SGD (momentum 0.9, weight decay 5e-4), lr 1e-3, a
# 1000-iteration linear warm-up from 1e-5, then poly decay (power 0.9).  2500 epochs of the 1083
# MSRS training pairs at batch 16 = 2500 x 68 = 170,000 iterations.
max_iters = 170000
warmup_iters = 1000
val_interval = 5000

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=max_iters,
                 val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
