# MSRS (1083 training / 361 test pairs, 480x640, 9 classes).  MSRS has no validation split:
# tools/train_fusion.py holds out `val_split.fraction` of train/ (seeded) into WORK_DIR/splits/ and
# trains on the rest; model selection never sees the test split.
data_root = 'data/MSRS'
crop_size = (256, 256)
target_classes = (1, 2, 3)  # salient targets of the intensity loss: car, person, bike

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

val_split = dict(fraction=0.1, seed=0)

# 8 workers feed about 450 samples/s of 480x640 synthetic PNGs (17.6 ms per sample per worker
# on one core of an AMD EPYC; PNG decoding 73 %): the GPU's 200+ images/s need more than 4
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='MSRSDataset', data_root=data_root, split='train', with_label=True,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MSRSDataset', data_root=data_root, split='train', with_label=True,
                 pipeline=eval_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MSRSDataset', data_root=data_root, split='test', with_label=True,
                 pipeline=eval_pipeline))
val_evaluator = dict(type='FusionValMetric', num_classes=9, target_classes=target_classes)
test_evaluator = val_evaluator
