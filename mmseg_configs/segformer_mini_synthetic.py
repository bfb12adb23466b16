"""SegFormer-mini (the small segmenter of the demo) on the synthetic road-scene dataset: 9
classes, the quick CPU schedule."""
_base_ = [
    './_base_/models/segformer_mini.py', './_base_/datasets/synthetic.py',
    './_base_/schedules/quick.py'
]
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=_base_.num_classes))
