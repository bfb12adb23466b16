"""BANet (ResNet-18, bilateral attention decoder) on the synthetic road-scene dataset: 9
classes, the quick CPU schedule, no pretrained weights (offline)."""
_base_ = [
    './_base_/models/banet.py', './_base_/datasets/synthetic.py', './_base_/schedules/quick.py'
]
model = dict(
    backbone=dict(init_cfg=None),
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes),
    auxiliary_head=dict(num_classes=_base_.num_classes))
