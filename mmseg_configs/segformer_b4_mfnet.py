"""SegFormer-B4 on MFNet: 9 classes, the paper's 160k schedule and the authors' batch of 4 (see
``_base_/models/segformer_b4.py``)."""
_base_ = [
    './_base_/models/segformer_b4.py', './_base_/datasets/mfnet.py',
    './_base_/schedules/schedule_160k.py'
]
train_dataloader = dict(batch_size=4)  # the authors' (see the model base)
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
