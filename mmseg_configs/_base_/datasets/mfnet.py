"""MFNet (784 train / 392 val / 393 test, 480x640) read through one source per run.

Images are 4-channel PNGs (R, G, B, thermal): ``ir`` reads the thermal channel, ``vi`` the RGB
ones.  Training uses the train split, evaluation the test split.

mmengine refuses keys shared by two bases, and mmseg's model configs already carry ADE20K data
settings, so this layer keeps its settings in ``data_settings``; each leaf config puts them in
place (see e.g. ``segnext_l_mfnet.py``).  ``source`` is ``'ir'``, ``'vi'`` or ``'fused'`` (then
set ``fused_root``); the benchmark tool sets them, the data root and the per-source mean/std.
"""
custom_imports = dict(
    imports=['psfusion', 'psfusion.benchmark.datasets', 'psfusion.benchmark.transforms',
             'psfusion.metrics.segmentation'],
    allow_failed_imports=False)

_dataset = dict(type='psfusion.MFNetSegDataset', data_root='data/MFNet', source='vi',
                fused_root=None)
_crop_size = (480, 640)  # (h, w): the whole image (the authors' configs had it transposed)
_scale = (640, 480)  # (w, h) for mmcv's Resize / RandomResize
_train_pipeline = [
    dict(type='psfusion.LoadSourceImage'),
    dict(type='psfusion.LoadClassIdLabel'),
    dict(type='RandomResize', scale=_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=_crop_size, cat_max_ratio=0.75),
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
    name='mfnet',
    crop_size=_crop_size,
    train_dataloader=dict(
        _delete_=True, batch_size=8, num_workers=4, persistent_workers=True,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(_dataset, split='train', pipeline=_train_pipeline)),
    test_dataloader=dict(
        _delete_=True, batch_size=1, num_workers=4, persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(_dataset, split='test', pipeline=_test_pipeline)),
    evaluator=_evaluator,
    tta_pipeline=_tta_pipeline,
)
del _dataset, _crop_size, _scale, _train_pipeline, _test_pipeline, _tta_pipeline, _evaluator
