"""SegFormer-B2 (MiT-B2, 24.7 M parameters with 9 classes): mmseg's own config, for the
9-class benchmark (the paper's Tables 1 and 2)."""
_base_ = 'mmseg::segformer/segformer_mit-b2_8xb2-160k_ade20k-512x512.py'

num_classes = 9
# ImageNet-pretrained MiT-B2 from the OpenMMLab model zoo (mmseg's value).  The benchmark tool
# switches it off where it cannot be reached (`--pretrained off|auto`).
pretrained = _base_.checkpoint
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs a process group; BN runs anywhere
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=num_classes, norm_cfg=norm_cfg))
