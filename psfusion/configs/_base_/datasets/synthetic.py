# The synthetic MSRS-layout dataset of tools/make_synthetic.py (128x160, exact labels).  Validation
# pairs live in train/ and are listed in val.txt; training uses train.txt; the test split is test/.
data_root = 'work_dirs/demo/data'
crop_size = (96, 96)
target_classes = (1, 2, 3)

train_pipeline = [
    dict(type='LoadFusionPair'),
    dict(type='DeriveFusionLabels', boundary_width=3, target_classes=target_classes),
    dict(type='PairedRandomCrop', crop_size=crop_size),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PairedRandomRot90', prob=0.5),
    dict(type='PackFusionInputs'),
]
eval_pipeline = [
    dict(type='LoadFusionPair'),
    dict(type='PackFusionInputs'),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='MSRSDataset', data_root=data_root, split='train', with_label=True,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MSRSDataset', data_root=data_root, split='train', split_file='val.txt',
                 with_label=True, pipeline=eval_pipeline))
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MSRSDataset', data_root=data_root, split='test', with_label=True,
                 pipeline=eval_pipeline))
val_evaluator = dict(type='FusionValMetric', num_classes=9, target_classes=target_classes)
test_evaluator = val_evaluator
