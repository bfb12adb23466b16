# PSFusion trained on MFNet (Table 2 setting): the paper's network and objective, validation on
# MFNet's official val split.  2500 epochs of 784 pairs at batch 16 = 122,500 iterations.
_base_ = [
    '_base_/models/psfusion_r34.py', '_base_/datasets/mfnet.py',
    '_base_/schedules/sgd_poly_170k.py', '_base_/default_runtime.py'
]
model = dict(backbone_pretrained='checkpoints/resnet34-b627a593.pth')
max_iters = 122500
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=1000),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=1000, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
