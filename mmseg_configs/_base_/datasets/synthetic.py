"""The synthetic road-scene dataset (MSRS layout and classes, 128x160) read through one source
per run.

Written by ``tools/make_synthetic.py`` (see :mod:`psfusion.data.synthetic`): infrared sees the
warm classes, visible the painted ones (by day).  Sized for CPUs: no worker processes, whole
images (no crop), flips as the only augmentation.  Test-time augmentation, samplers, batch
sizes, classes, metric and the validation hold-out (a seeded 10 % of ``train``, left out of
training when validation is on; see ``msrs.py``) are MSRS's.
"""
_base_ = ['./msrs.py']

crop_size = (128, 160)  # (h, w): the whole image
_scale = (160, 128)  # (w, h) for mmcv's Resize / RandomResize
_dataset = dict(type='psfusion.SyntheticSegDataset', data_root='work_dirs/demo/data')
# Only flips: random rescaling, cropping and photometric distortion slow learning down too
# much for a few hundred iterations (the 160k MSRS/MFNet pipelines keep them).
_train_pipeline = [
    dict(type='psfusion.LoadSourceImage'),
    dict(type='psfusion.LoadClassIdLabel'),
    dict(type='Resize', scale=_scale, keep_ratio=True),  # identity at the generated size
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
_test_pipeline = [
    dict(type='psfusion.LoadSourceImage'),
    dict(type='Resize', scale=_scale, keep_ratio=True),
    dict(type='psfusion.LoadClassIdLabel'),  # after Resize: metrics use the original labels
    dict(type='PackSegInputs'),
]
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(_dataset, pipeline=_train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(_dataset, pipeline=_test_pipeline))
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(_dataset, pipeline=_test_pipeline))
del _scale, _dataset, _train_pipeline, _test_pipeline
