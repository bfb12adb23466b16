"""Early-fusion-mini: SegFormer-mini reading the 4-channel (R, G, B, T) image, for the CPU demo.

:mod:`.segformer_mini` with :class:`psfusion.segmenters.EarlyFusionMiT` as backbone (the first
patch embedding takes 4 channels: 784 more parameters), 0.88 M parameters (880,393 measured,
9 classes).  Trains from scratch.  Input and data preprocessor as :mod:`.early_b2`.
"""
_base_ = './segformer_mini.py'

pretrained = None
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53, 114.495],  # R, G, B, T (placeholders)
    std=[58.395, 57.12, 57.375, 57.63],
    bgr_to_rgb=False,  # a no-op on 4 channels anyway: the loader delivers R, G, B, T
    pad_val=0,
    seg_pad_val=255)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(type='EarlyFusionMiT', in_channels=4))
