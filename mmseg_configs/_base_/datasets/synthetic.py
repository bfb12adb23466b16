"""The synthetic road-scene dataset (MSRS layout, 128x160) read through one source per run.

Written by ``tools/make_synthetic.py`` (see :mod:`psfusion.data.synthetic`): infrared sees the
warm classes, visible the painted ones (by day).  Sized for CPUs: no worker processes, whole
images (no crop), flips as the only augmentation.

mmengine refuses keys shared by two bases, and mmseg's model configs already carry ADE20K data
settings, so this layer keeps its settings in ``data_settings``; each leaf config puts them in
place (see e.g. ``segformer_mini_synthetic.py``).  ``source`` is ``'ir'``, ``'vi'`` or
``'fused'`` (then set ``fused_root``); the benchmark tool sets them, the data root and the
per-source mean/std.
"""
custom_imports = dict(
    imports=['psfusion', 'psfusion.benchmark.datasets', 'psfusion.benchmark.transforms',
             'psfusion.metrics.segmentation'],
    allow_failed_imports=False)

_dataset = dict(type='psfusion.SyntheticSegDataset', data_root='work_dirs/demo/data',
                source='vi', fused_root=None)
_crop_size = (128, 160)  # (h, w): the whole image
_scale = (160, 128)  # (w, h) for mmcv's Resize / RandomResize
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
# Multi-scale + flip test-time augmentation (the authors' headline numbers used it without
# saying so); the benchmark tool uses it only with --tta and labels such rows "+tta".
_tta_pipeline = [
    dict(type='psfusion.LoadSourceImage'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True)
         for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)],
        [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
         dict(type='RandomFlip', prob=1.0, direction='horizontal')],
        [dict(type='psfusion.LoadClassIdLabel')],
        [dict(type='PackSegInputs')],
    ]),
]
_evaluator = dict(type='psfusion.PerClassIoUMetric')

data_settings = dict(
    name='synthetic',
    crop_size=_crop_size,
    train_dataloader=dict(
        _delete_=True, batch_size=8, num_workers=0, persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(_dataset, split='train', pipeline=_train_pipeline)),
    test_dataloader=dict(
        _delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(_dataset, split='test', pipeline=_test_pipeline)),
    evaluator=_evaluator,
    tta_pipeline=_tta_pipeline,
)
del _dataset, _crop_size, _scale, _train_pipeline, _test_pipeline, _tta_pipeline, _evaluator
