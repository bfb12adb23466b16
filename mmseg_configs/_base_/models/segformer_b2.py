"""SegFormer-B2 (MiT-B2, 24.7 M parameters with 9 classes), for the paper's Tables 1 and 2.

mmseg's model-only SegFormer base (MiT-B0) widened and deepened exactly as mmseg's own
``segformer_mit-b2`` config does; no data or schedule settings (the dataset and schedule bases
bring those).  9 classes unless the leaf passes its dataset's ``num_classes``.
"""
_base_ = 'mmseg::_base_/models/segformer_mit-b0.py'

# ImageNet-pretrained MiT-B2 from the OpenMMLab model zoo (mmseg's value).  The benchmark tool
# switches it off where it cannot be reached (`--pretrained off|auto`).
pretrained = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segformer/mit_b2_20220624-66e8bf70.pth')
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs a process group; BN runs anywhere
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
        embed_dims=64,
        num_heads=[1, 2, 5, 8],
        num_layers=[3, 4, 6, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=9, norm_cfg=norm_cfg))
