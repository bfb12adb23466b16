"""CMX-mini: CMX on two half-width MiT-B0 streams, the feature-level model of the CPU demo.

Not a published model: :mod:`.cmx_b2` with the backbone shape of :mod:`.segformer_mini`
(SegFormer-mini: stage widths 16, 32, 80, 128, depths 2, 2, 2, 2) and its 64-channel head, so
that it compares with the demo's SegFormer-mini.  Trains from scratch (no pretrained weights
exist).  Parameters, measured (9 classes): 2,768,945 = two streams of 845,616 (each
SegFormer-mini's MiT), FRMs 627,976, FFMs 415,744, head 33,993: 3.1 x SegFormer-mini's 0.88 M
(the fusion modules' 4C x 4C channel MLPs dominate at this width).
"""
_base_ = './cmx_b2.py'

embed_dims = 16
pretrained = None
model = dict(
    backbone=dict(embed_dims=embed_dims, num_layers=[2, 2, 2, 2], init_cfg=None),
    decode_head=dict(in_channels=[embed_dims * n for n in (1, 2, 5, 8)], channels=64))
