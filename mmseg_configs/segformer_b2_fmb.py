"""SegFormer-B2 on FMB: 15 classes, the paper's 160k schedule at the authors' B2 learning rate
(1e-4, ``_base_/schedules/segformer_b2_160k.py``) and batch 8 (the dataset base's)."""
_base_ = [
    './_base_/models/segformer_b2.py', './_base_/datasets/fmb.py',
    './_base_/schedules/segformer_b2_160k.py'
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
