# MFNet (784 train / 392 val / 393 test, 480x640, 4-channel PNGs R,G,B,thermal, 9 classes):
# validation on its official val split.
data_root = 'data/MFNet'
crop_size = (256, 256)
target_classes = (1, 2, 3)  # car, person, bike

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
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='MFNetDataset', data_root=data_root, split='train', with_label=True,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MFNetDataset', data_root=data_root, split='val', with_label=True,
                 pipeline=eval_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MFNetDataset', data_root=data_root, split='test', with_label=True,
                 pipeline=eval_pipeline))
val_evaluator = dict(type='FusionValMetric', num_classes=9, target_classes=target_classes)
test_evaluator = val_evaluator
