"""BANet's own schedule: SeAFusion's segmenter training (``train_seg``), 80k iterations of SGD.

Where each number comes from (``Linfeng-Tang/SeAFusion``):

* ``train.py`` (``train_seg``): SGD momentum 0.9, weight decay 5e-4, lr 1e-2, warm-up 1000
  iterations from 1e-5, poly power 0.9, ``max_iter`` 80,000; batch 16 (``--batch_size``
  default; set by each ``banet_<dataset>.py``, since the batch size belongs to the loader of the
  dataset base); the aux loss weight 0.75 and OHEM (0.7, 1/16 of the pixels) are in the model
  base (``_base_/models/banet.py``).
* ``optimizer.py``: four parameter groups: conv weights with weight decay, BN parameters and
  biases without; the output heads (``BiSeNetOutput``: main and auxiliary, CBR3 + 1x1
  classifier) at 10x the learning rate.  The warm-up is exponential,
  ``lr = 1e-5 * (1e-2 / 1e-5) ** (it / 1000)`` for ``it <= 1000``, then
  ``lr = 1e-2 * (1 - (it - 1000) / 79000) ** 0.9``.

In mmengine terms: ``norm_decay_mult=0`` and ``bias_decay_mult=0`` give the decay groups; the
10x groups are the heads' ``head_conv`` and ``conv_seg`` layers (custom keys match parameter
names, and a matched parameter gets none of the norm/bias rules, so the BN of ``head_conv`` has
its own key with ``decay_mult=0``).  :class:`psfusion.segmenters.ExponentialWarmupLR` over
iterations 0..1000 (``end`` 1001) reproduces the warm-up step for step; ``PolyLR`` from 1000 to
80001 (mmengine's ``T = end - begin - 1`` = 79,000) the poly decay.

Differences: the reference trains in 4 rounds of 20k iterations between rounds of fusion
training (the schedule continues across rounds, momentum is reset at each round, and the images
change as the fusion network learns); here it is one uninterrupted 80k run on fixed images.
The last checkpoint is kept (no validation during training, as every benchmark schedule).
"""
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_80k.py']
schedule_name = '80k'  # recorded in results.csv (``schedule``)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-2, momentum=0.9, weight_decay=5e-4),
    clip_grad=None,
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'head_conv.conv': dict(lr_mult=10.0),
            'head_conv.bn': dict(lr_mult=10.0, decay_mult=0.0),
            'conv_seg': dict(lr_mult=10.0),
        }))
param_scheduler = [
    dict(type='ExponentialWarmupLR', start_factor=1e-3, by_epoch=False, begin=0, end=1001),
    dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=1000, end=80001),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=1,
                    save_last=True))
