"""BANet (ResNet-18, bilateral attention decoder) on FMB: 15 classes, BANet's own 80k schedule and
batch of 16 (SeAFusion's segmenter training)."""
_base_ = [
    './_base_/models/banet.py', './_base_/datasets/fmb.py', './_base_/schedules/banet_80k.py'
]
train_dataloader = dict(batch_size=16)  # SeAFusion train.py (--batch_size); the base has 8
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes),
    auxiliary_head=dict(num_classes=_base_.num_classes))
