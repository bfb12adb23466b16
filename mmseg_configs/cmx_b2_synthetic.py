"""CMX-B2 (feature-level: the ``rgbt`` source, R, G, B, T) on the synthetic road-scene dataset: 9
classes, the quick CPU schedule, no pretrained weights (offline).

The recipe of ``segformer_b2_synthetic.py`` (SegFormer-B2, the image-level segmenter it is
compared with): the same dataset base, so the same pipelines, crop, augmentation and evaluation,
and the same schedule; only the model and the source differ.  The dataset reads both modalities
and distorts the colours of the visible channels only (``psfusion/benchmark/transforms.py``).
"""
_base_ = [
    './_base_/models/cmx_b2.py', './_base_/datasets/synthetic.py',
    './_base_/schedules/quick.py'
]
# both modalities, R, G, B, T
train_dataloader = dict(dataset=dict(source='rgbt'))
val_dataloader = dict(dataset=dict(source='rgbt'))
test_dataloader = dict(dataset=dict(source='rgbt'))
model = dict(
    backbone=dict(init_cfg=None),
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
