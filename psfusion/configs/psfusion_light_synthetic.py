# CPU demo: PSFusion-Light on the synthetic dataset (make demo writes it to work_dirs/demo/data).
# About 4 minutes on 2 idle cores: 96x96 crops, batch 4, 200 iterations, a short schedule with a
# higher learning rate than the paper's (1e-3 over 170k iterations would not move in 200).
_base_ = [
    '_base_/models/psfusion_light.py', '_base_/datasets/synthetic.py',
    '_base_/schedules/sgd_poly_170k.py', '_base_/default_runtime.py'
]
max_iters = 200
warmup_iters = max(1, min(30, max_iters // 5))  # 30; --cfg-options max_iters=N shortens it
val_interval = 100
optim_wrapper = dict(optimizer=dict(lr=1e-2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=warmup_iters,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=1))
