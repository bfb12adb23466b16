"""FMB (Liu et al., ICCV 2023: 1,220 train / 280 test pairs, 800x600, 15 classes) read through
one source per run.

``ROOT/{train,test}/{Infrared,Visible,Label}`` (see :class:`psfusion.data.layouts.FMBLayout`):
14 classes plus ``unlabelled``, which counts as a class as on MSRS.  MSRS's recipe
(``msrs.py``) at FMB's size: whole images (crop 600x800, h x w), random rescaling 0.5-2x,
flips, photometric distortion; same loaders, metric and test-time augmentation.  FMB has no
validation split: as on MSRS, validation (mmseg's ``tools/train.py``) reads a seeded 10 % of
``train`` that the training loader leaves out (``holdout``, see ``msrs.py``); the benchmark tool
trains on the whole ``train`` split without validation.

``num_classes = 15`` lives here, with the dataset; each ``<segmenter>_fmb.py`` hands it to the
model (``decode_head=dict(num_classes=_base_.num_classes)``, as every leaf does), because a
model base cannot read another base's keys (see ``msrs.py``).
"""
_base_ = ['./msrs.py']

num_classes = 15
crop_size = (600, 800)  # (h, w): the whole image
_scale = (800, 600)  # (w, h) for mmcv's Resize / RandomResize
_dataset = dict(type='psfusion.FMBSegDataset', data_root='data/FMB')
_train_pipeline = [
    dict(type='psfusion.LoadSourceImage'),
    dict(type='psfusion.LoadClassIdLabel'),
    dict(type='RandomResize', scale=_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
_test_pipeline = [
    dict(type='psfusion.LoadSourceImage'),
    dict(type='Resize', scale=_scale, keep_ratio=True),
    dict(type='psfusion.LoadClassIdLabel'),  # after Resize: metrics use the original labels
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(_dataset, pipeline=_train_pipeline))
val_dataloader = dict(dataset=dict(_dataset, pipeline=_test_pipeline))
test_dataloader = dict(dataset=dict(_dataset, pipeline=_test_pipeline))
del _scale, _dataset, _train_pipeline, _test_pipeline
