"""CMX-B4 (feature-level: the ``rgbt`` source, R, G, B, T) on MSRS: 9 classes, the paper's 160k
schedule and the authors' batch of 4.

The recipe of ``segformer_b4_msrs.py`` (SegFormer-B4, the image-level segmenter it is compared
with): the same dataset base, so the same pipelines, crop, augmentation and evaluation, and the
same schedule and batch; only the model and the source differ.  The dataset reads both
modalities and distorts the colours of the visible channels only
(``psfusion/benchmark/transforms.py``).
"""
_base_ = [
    './_base_/models/cmx_b4.py', './_base_/datasets/msrs.py',
    './_base_/schedules/schedule_160k.py'
]
# both modalities, R, G, B, T (and the authors' batch, as SegFormer-B4's)
train_dataloader = dict(batch_size=4, dataset=dict(source='rgbt'))
val_dataloader = dict(dataset=dict(source='rgbt'))
test_dataloader = dict(dataset=dict(source='rgbt'))
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
