"""SegNeXt-Base (MSCAN-B) on FMB: 15 classes, the paper's 160k schedule."""
_base_ = [
    './_base_/models/segnext_b.py', './_base_/datasets/fmb.py',
    './_base_/schedules/schedule_160k.py'
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
