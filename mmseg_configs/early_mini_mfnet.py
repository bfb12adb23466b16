"""Early-mini (feature-level: the ``rgbt`` source, R, G, B, T) on MFNet: 9 classes, the paper's
160k schedule.

The recipe of ``segformer_mini_mfnet.py`` (SegFormer-mini, the image-level segmenter it is
compared with): the same dataset base, so the same pipelines, crop, augmentation and evaluation,
and the same schedule and batch; only the model and the source differ.  The dataset reads both
modalities and distorts the colours of the visible channels only
(``psfusion/benchmark/transforms.py``).
"""
_base_ = [
    './_base_/models/early_mini.py', './_base_/datasets/mfnet.py',
    './_base_/schedules/schedule_160k.py'
]
# both modalities, R, G, B, T
train_dataloader = dict(dataset=dict(source='rgbt'))
val_dataloader = dict(dataset=dict(source='rgbt'))
test_dataloader = dict(dataset=dict(source='rgbt'))
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
