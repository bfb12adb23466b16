"""SegNeXt-Base (MSCAN-B + LightHamHead, 27.6 M parameters): mmseg's own config, for the
9-class benchmark (the paper's Tables 1, 2 and 5).

MSCAN already uses BN and the head GroupNorm, so nothing needs a process group.  LightHamHead
draws random bases at every forward pass: runs are repeatable only with a fixed seed.
"""
_base_ = 'mmseg::segnext/segnext_mscan-b_1xb16-adamw-160k_ade20k-512x512.py'

num_classes = 9
# ImageNet-pretrained MSCAN-B from the OpenMMLab model zoo (mmseg's value).  The benchmark tool
# switches it off where it cannot be reached (`--pretrained off|auto`).
pretrained = _base_.checkpoint_file
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(num_classes=num_classes))
