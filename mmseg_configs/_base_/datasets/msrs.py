"""MSRS (1083 train / 361 test pairs, 480x640, 9 classes) read through one source per run.

The dataset layer of a benchmark config: ``crop_size``, ``num_classes``, the loaders,
evaluators and test-time augmentation, as top-level keys (model and schedule bases define none
of them).  ``source`` is ``'ir'``, ``'vi'`` or ``'fused'`` (then set ``fused_root``); the
benchmark tool sets them, the data root and the per-source mean/std.  Evaluation reads the test
split.

Validation never reads the test split.  MSRS has no validation split, so the training loader
reads a seeded 90 % of ``train`` (``holdout=dict(fraction=0.1, seed=0, part='train')``) and the
validation loader the other 10 % (``part='val'``), computed by the dataset from the sorted stems
(:func:`psfusion.benchmark.datasets.held_out_stems`; no split file to write or keep): the same
pairs as the fusion network's hold-out (``val_split`` in
``psfusion/configs/_base_/datasets/msrs.py``).  That is what mmseg's own ``tools/train.py``
runs.  The benchmark tool trains as the paper does: no validation, the whole ``train`` split
(:func:`psfusion.benchmark.datasets.disable_validation` drops ``holdout``).

``num_classes`` is the dataset's (its layout's class list, :mod:`psfusion.data.layouts`).
mmengine lets no two bases define the same key and evaluates each base on its own, so a model
base cannot read it: every leaf config hands it to the head
(``decode_head=dict(num_classes=_base_.num_classes)``), and the model bases' own value (9) is
only their default.
"""
custom_imports = dict(
    imports=['psfusion', 'psfusion.benchmark.datasets', 'psfusion.benchmark.transforms',
             'psfusion.metrics.segmentation', 'psfusion.segmenters'],
    allow_failed_imports=False)

num_classes = 9
crop_size = (480, 640)  # (h, w): the whole image (the authors' configs had it transposed)
_scale = (640, 480)  # (w, h) for mmcv's Resize / RandomResize
_dataset = dict(type='psfusion.MSRSSegDataset', data_root='data/MSRS', source='vi',
                fused_root=None)
_holdout = dict(fraction=0.1, seed=0)  # the validation part of train (see above)
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
# batch 8: the PSFusion authors' dataset base (samples_per_gpu=8, one GPU); a leaf may set its
# segmenter's own (see the model bases).
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_dataset, split='train', holdout=dict(_holdout, part='train'),
                 pipeline=_train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_dataset, split='train', holdout=dict(_holdout, part='val'),
                 pipeline=_test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_dataset, split='test', pipeline=_test_pipeline))
# iou_metrics and _scope_ are what this metric resolved to when it was merged onto mmseg's
# ADE20K IoUMetric (no effect: the metric's default, and its type names its scope); kept so
# that the resolved configs, and the config hashes of earlier results, stay the same.
test_evaluator = dict(type='psfusion.PerClassIoUMetric', iou_metrics=['mIoU'], _scope_='mmseg')
val_evaluator = test_evaluator
# Multi-scale + flip test-time augmentation (the authors' headline numbers used it without
# saying so); the benchmark tool uses it only with --tta (rows with tta=True).
tta_pipeline = [
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
del _scale, _dataset, _holdout, _train_pipeline, _test_pipeline
