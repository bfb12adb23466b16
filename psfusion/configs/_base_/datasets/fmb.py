# FMB (Liu et al., ICCV 2023: 1,220 train / 280 test pairs, 800x600 (w x h), 14 classes +
# unlabelled = 15), ROOT/{train,test}/{Infrared,Visible,Label}: the MSRS settings (msrs.py:
# 256x256 crops with flips and rotations, whole images for evaluation, loaders) on FMB's files and
# classes.  FMB ships only train and test, so validation is held out of train as on MSRS
# (`val_split`, inherited); model selection never sees the test split.
_base_ = ['./msrs.py']
data_root = 'data/FMB'
num_classes = 15
# Salient targets of the intensity loss and of target_retention: FMB's warm objects (person,
# car, truck, bus, motorcycle, bicycle: the layout's target_classes).
target_classes = (8, 9, 10, 11, 12, 13)
# edge_retention's classes: the cold structures whose edges the visible image carries (sidewalk
# kerbs, signs, poles), FMB's counterparts of MSRS's curb, car stop, guardrail, cone and bump.
marking_classes = (2, 5, 14)

train_pipeline = [
    dict(type='LoadFusionPair'),
    dict(type='DeriveFusionLabels', boundary_width=3, target_classes=target_classes),
    dict(type='PairedRandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PairedRandomRot90', prob=0.5),
    dict(type='PackFusionInputs'),
]
train_dataloader = dict(
    dataset=dict(type='FMBDataset', data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='FMBDataset', data_root=data_root))
test_dataloader = dict(dataset=dict(type='FMBDataset', data_root=data_root))
val_evaluator = dict(num_classes=num_classes, target_classes=target_classes,
                     marking_classes=marking_classes)
test_evaluator = val_evaluator
