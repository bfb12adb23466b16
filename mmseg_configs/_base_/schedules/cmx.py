"""CMX's own MFNet recipe (``--schedule cmx``): how the feature-level reference was trained.

Source: huaaaliu/RGBX_Semantic_Segmentation, ``configs/config_MFNet.py`` (last commit efc0a09),
``train.py``, ``utils/lr_policy.py``, ``utils/init_func.py`` (``group_weight``),
``dataloader/dataloader.py``; see ``shared/spec/FEATURE_LEVEL.md`` section 2.

* Optimiser: AdamW, lr 6e-5, betas (0.9, 0.999), weight decay 0.01 on the weights of every
  linear and convolution layer, none on biases and norm parameters (BN, LN, GN:
  ``norm_decay_mult=0``, ``bias_decay_mult=0``); the same lr everywhere (no 10x head lr).
* Loop: batch 8 in total, 500 epochs of 784 MFNet training images at 784 // 8 + 1 = 99
  iterations each: 49,500 iterations.
* LR: linear warm-up from 0 over 10 epochs (990 iterations), then ``lr * (1 - it / 49500) **
  0.9`` with ``it`` counted from iteration 0, not from the end of the warm-up.  In mmengine:
  ``LinearLR`` over iterations 0..990 (``end`` 991, so ``T = 990`` and the factor is ``it / 990``
  to within its ``start_factor`` of 1e-6: a factor of 0 cannot be scaled up again) and
  ``PolyLR`` over 0..49,500 (``end`` 49,501, ``T = 49,500``).  The two multiply, so from
  iteration 990 on the lr is CMX's exactly; during the warm-up it is CMX's times the poly
  factor, at most 1.8 % lower (at iteration 990: ``(1 - 990 / 49500) ** 0.9 = 0.982``).
* Augmentation (``train_pipeline_steps``, applied to the dataset base's training pipeline):
  a scale drawn from {0.5, 0.75, 1, 1.25, 1.5, 1.75} (bilinear images, nearest labels) in place
  of the random 0.5-2x rescaling; a plain random crop (no ``cat_max_ratio``); no photometric
  distortion.  Flips (p 0.5) stay; crops smaller than the crop size are padded by the data
  preprocessor after normalisation, with 0 for the images and 255 (ignored) for the labels, as
  CMX pads.
* Evaluation: single scale, whole 480x640 image (CMX's "sliding" window of 480x640 at stride
  2/3 is one pass on MFNet), no flip: the configs' test pipeline as it is.

Differences, by design of the benchmark:

* **Checkpoint selection.** CMX saves snapshots every 25 epochs from epoch 150 and reports the
  best of them **on the test split** (``eval.py -e 150-``): it selects on the test set.  The
  benchmark never does: it trains without validation and tests the final weights once.
* Normalisation: CMX's final config normalises RGB and the (3x replicated) thermal image with
  ImageNet mean/std; the benchmark gives every source its own training-split statistics (rgbt:
  the visible source's, then the infrared source's; ``psfusion/benchmark/stats.py``).
* Sampling: CMX re-samples its file list every epoch; here mmengine's ``InfiniteSampler``
  shuffles (each image equally often in expectation).
* The model, loss and initialisation are the model base's (``_base_/models/cmx_*.py``).

The schedule applies to any segmenter: ``--seg segformer_b2 --schedule cmx`` trains an
image-level SegFormer under the feature-level reference's recipe.
"""
_base_ = ['./schedule_160k.py']
schedule_name = 'cmx'  # recorded in results.csv (``schedule``)

_warmup_iters = 990  # 10 epochs x 99 iterations
_max_iters = 49500  # 500 epochs x 99 iterations
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, end_factor=1.0, by_epoch=False, begin=0,
         end=_warmup_iters + 1),
    dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0, end=_max_iters + 1),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=_max_iters, val_interval=4950)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4950, max_keep_ckpts=1,
                    save_last=True))
train_batch_size = 8  # in total (CMX: 8 / number of GPUs on each)
train_pipeline_steps = {
    'RandomResize': dict(type='RandomChoice', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True)]
        for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)]),
    'RandomCrop': dict(cat_max_ratio=1.0),
    'PhotoMetricDistortion': None,
}
del _warmup_iters, _max_iters
