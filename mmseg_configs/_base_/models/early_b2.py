"""Early fusion on SegFormer-B2 (24.73 M parameters with 9 classes): one MiT-B2 reading the
4-channel (R, G, B, T) image.

:mod:`.segformer_b2` with :class:`psfusion.segmenters.EarlyFusionMiT` as backbone: the first
patch embedding takes 4 channels (3,136 more parameters), everything else, mmseg's 256-channel
``SegformerHead`` included, is SegFormer-B2's.  Parameters, measured (9 classes): 24,728,585
(backbone 24,199,424, head 529,161).

Input: the ``rgbt`` source, 4 channels in the order (R, G, B, T).  Data preprocessor: 4-channel
mean/std (placeholders, ImageNet's for R, G, B and their average for T; the benchmark tool sets
each run's own) and ``bgr_to_rgb=False``: mmseg's ``SegDataPreProcessor`` swaps channels only of
a 3-channel input, so the loader must deliver (R, G, B, T) itself.

Pretrained: mmseg's ImageNet MiT-B2 (SegFormer-B2's file); the first filters' RGB part loads into
channels 0-2 and their mean over R, G, B into the thermal channel.  The benchmark tool switches it
off where it cannot be reached (``--pretrained off|auto``).
"""
_base_ = './segformer_b2.py'

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53, 114.495],  # R, G, B, T (placeholders: see above)
    std=[58.395, 57.12, 57.375, 57.63],
    bgr_to_rgb=False,  # a no-op on 4 channels anyway: the loader delivers R, G, B, T
    pad_val=0,
    seg_pad_val=255)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(type='EarlyFusionMiT', in_channels=4))
