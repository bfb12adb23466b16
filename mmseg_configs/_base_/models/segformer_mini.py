"""SegFormer-mini: SegFormer-B0 at half width, the small segmenter of the offline CPU demo.

Not a published model and not one of the paper's segmenters: mmseg's model-only SegFormer base
(MiT-B0) with the MiT embedding width halved (16 instead of 32: stage widths 16, 32, 80, 128)
and a 64-channel head (instead of 256), 0.88 M parameters.  Trains from scratch (no pretrained
weights exist), in about a quarter of B0's time per step, which keeps ``make demo`` within
minutes on 2 cores.  9 classes unless the leaf passes its dataset's ``num_classes``.
"""
_base_ = 'mmseg::_base_/models/segformer_mit-b0.py'

embed_dims = 16
pretrained = None
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs a process group; BN runs anywhere
model = dict(
    backbone=dict(embed_dims=embed_dims, init_cfg=None),
    decode_head=dict(
        in_channels=[embed_dims * n for n in (1, 2, 5, 8)],
        channels=64,
        num_classes=9,
        norm_cfg=norm_cfg))
