"""SegNeXt-Large (MSCAN-L + LightHamHead, 48.8 M parameters with 9 classes), for the paper's
Table 2.

SegNeXt-Base (``segnext_b.py``) with what mmseg's ``segnext_mscan-l`` config changes: deeper
stages, stochastic depth 0.3, a 1024-channel head and MSCAN-L's ImageNet weights.
"""
_base_ = './segnext_b.py'

# ImageNet-pretrained MSCAN-L from the OpenMMLab model zoo (mmseg's value).  The benchmark tool
# switches it off where it cannot be reached (`--pretrained off|auto`).
pretrained = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segnext/mscan_l_20230227-cef260d4.pth')
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=pretrained), depths=[3, 5, 27, 3],
                  drop_path_rate=0.3),
    decode_head=dict(channels=1024, ham_channels=1024))
