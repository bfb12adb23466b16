"""SegNeXt-Base (MSCAN-B + LightHamHead, 27.6 M parameters with 9 classes), for the paper's
Tables 1, 2 and 5.

mmseg 1.2.2 has no model-only SegNeXt base (its SegNeXt configs are ADE20K training configs), so
the model is written out here: the values of mmseg's ``segnext_mscan-b`` config (MSCAN-T's
settings with B's widths, depths and head).  ``_scope_='mmseg'`` is the scope mmengine gives a
model inherited from an ``mmseg::`` config (the SegFormer bases get it that way): the model
builds in mmseg's registry whatever scope the caller is in.  9 classes unless the leaf passes
its dataset's ``num_classes``.

MSCAN already uses BN and the head GroupNorm, so nothing needs a process group.  LightHamHead
draws random bases at every forward pass: runs are repeatable only with a fixed seed.
"""
# ImageNet-pretrained MSCAN-B from the OpenMMLab model zoo (mmseg's value).  The benchmark tool
# switches it off where it cannot be reached (`--pretrained off|auto`).
pretrained = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segnext/mscan_b_20230227-3ab7d230.pth')
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
        type='MSCAN',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
        embed_dims=[64, 128, 320, 512],
        mlp_ratios=[8, 8, 4, 4],
        drop_rate=0.0,
        drop_path_rate=0.1,
        depths=[3, 3, 12, 3],
        attention_kernel_sizes=[5, [1, 7], [1, 11], [1, 21]],
        attention_kernel_paddings=[2, [0, 3], [0, 5], [0, 10]],
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(
        type='LightHamHead',
        in_channels=[128, 320, 512],
        in_index=[1, 2, 3],
        channels=512,
        ham_channels=512,
        dropout_ratio=0.1,
        num_classes=9,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        ham_kwargs=dict(MD_S=1, MD_R=16, train_steps=6, eval_steps=7, inv_t=100,
                        rand_init=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
