"""SegFormer-mini (the small segmenter of the demo) on MFNet: 9 classes, the paper's 160k
schedule."""
_base_ = [
    './_base_/models/segformer_mini.py', './_base_/datasets/mfnet.py',
    './_base_/schedules/schedule_160k.py'
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
