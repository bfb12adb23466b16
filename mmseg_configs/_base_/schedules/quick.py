"""A short schedule for CPU runs (the offline demo, smoke tests): 300 iterations.

The paper's schedule (``schedule_160k.py``: AdamW, weight decay 0.01, head lr x10, linear
warm-up then poly decay) shortened, with a 20x larger learning rate (1.2e-3) because the
backbone starts from scratch and has only a few hundred steps (on the synthetic data,
SegFormer-mini learned clearly less in 300 steps at 6e-4, and no better at 2.4e-3).  Numbers
from it are **not** comparable with the paper's.
"""
_base_ = ['./schedule_160k.py']
schedule_name = 'quick'  # recorded in results.csv (``schedule``)

optim_wrapper = dict(optimizer=dict(lr=1.2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=30, end=300),
]
train_cfg = dict(max_iters=300, val_interval=300)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=100))
