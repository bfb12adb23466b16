# PSFusion trained on FMB: the paper's network and objective with a 15-class semantic head,
# validation on 10 % held out of FMB's train/.  2500 epochs of 1,220 pairs at batch 16
# (77 iterations each, counted as for MSRS before the hold-out) = 192,500 iterations.
_base_ = [
    '_base_/models/psfusion_r34.py', '_base_/datasets/fmb.py',
    '_base_/schedules/sgd_poly_170k.py', '_base_/default_runtime.py'
]
model = dict(num_classes={{_base_.num_classes}},
             backbone_pretrained='checkpoints/resnet34-b627a593.pth')
max_iters = 192500
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=1000),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=1000, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
