# The synthetic MSRS-layout dataset of tools/make_synthetic.py (128x160, exact labels): the MSRS
# settings (msrs.py) at CPU size.  Validation pairs live in train/ and are listed in val.txt;
# training uses train.txt; the test split is test/.
_base_ = ['./msrs.py']
data_root = 'work_dirs/demo/data'
crop_size = (96, 96)
val_split = None  # val.txt already holds the validation pairs out

train_pipeline = [
    dict(type='LoadFusionPair'),
    dict(type='DeriveFusionLabels', boundary_width=3, target_classes={{_base_.target_classes}}),
    dict(type='PairedRandomCrop', crop_size=crop_size),
    dict(type='PairedRandomFlip', prob=0.5),
    dict(type='PairedRandomRot90', prob=0.5),
    dict(type='PackFusionInputs'),
]
_cpu_loader = dict(batch_size=4, num_workers=0, persistent_workers=False)
train_dataloader = dict(_cpu_loader, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(_cpu_loader, dataset=dict(data_root=data_root, split_file='val.txt'))
test_dataloader = dict(_cpu_loader, dataset=dict(data_root=data_root))
del _cpu_loader
