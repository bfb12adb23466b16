"""BANet (ResNet-18 + bilateral attention decoder, 12.89 M parameters with 9 classes), the
segmenter of the paper's Table 1 (as SeAFusion trains it on MSRS).

The network is :mod:`psfusion.segmenters.banet` on mmseg's ``ResNet`` (depth 18, the 7x7 stem
of torchvision's resnet18, not ResNetV1c's deep stem), outputs at 1/8, 1/16, 1/32.  Its training
losses are the reference's: OHEM cross-entropy (probability threshold 0.7, at least 1/16 of the
batch's pixels) on the main output plus 0.75 x the same on the auxiliary output (SeAFusion's
``train_seg``; the 0.1 factor of its code belongs to fusion training, where the segmenter is
frozen).  9 classes unless the leaf passes its dataset's ``num_classes`` (to both heads).

Deviations from the reference, all shared with the benchmark's other segmenters: the input is
standardised by the benchmark with each source's own mean/std (the reference feeds RGB in
[0, 1]), and the augmentation is the dataset base's.
"""
# ImageNet weights of torchvision's resnet18 (IMAGENET1K_V1; mmengine's ``torchvision://resnet18``
# names the same file; the reference loads resnet18-5c106cde.pth, the same weights in the old
# serialisation, pytorch/vision#2068).  Its keys are mmseg ResNet's (``fc`` is left out).  The
# benchmark tool switches it off where it cannot be reached (`--pretrained off|auto`).
pretrained = 'https://download.pytorch.org/models/resnet18-f37072fd.pth'
_norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs a process group; BN runs anywhere
_act_cfg = dict(type='LeakyReLU', negative_slope=0.01)  # the decoder's F.leaky_relu
_ohem = dict(type='BatchOhemCrossEntropyLoss', thresh=0.7, min_kept_ratio=1 / 16)
model = dict(
    _scope_='mmseg',
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        test_cfg=dict(size_divisor=32)),
    pretrained=None,
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(1, 2, 3),
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        deep_stem=False,
        norm_cfg=_norm_cfg,
        norm_eval=False,
        contract_dilation=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(type='BANetNeck', in_channels=[128, 256, 512], out_channels=128, norm_cfg=_norm_cfg,
              act_cfg=_act_cfg),
    decode_head=dict(
        type='BANetHead',
        in_channels=[128, 128, 128],
        in_index=[0, 1, 2],
        decoder_channels=128,
        channels=128,
        num_classes=9,
        norm_cfg=_norm_cfg,
        act_cfg=_act_cfg,
        align_corners=True,
        loss_decode=dict(_ohem, loss_weight=1.0)),
    auxiliary_head=dict(
        type='BANetAuxHead',
        in_channels=128,
        in_index=1,
        channels=64,
        num_classes=9,
        norm_cfg=_norm_cfg,
        act_cfg=_act_cfg,
        align_corners=True,
        loss_decode=dict(_ohem, loss_weight=0.75)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
del _norm_cfg, _act_cfg, _ohem
