"""CMX with MiT-B2 streams (66.57 M parameters with 9 classes): feature-level RGB-thermal fusion.

Zhang, Liu et al., "CMX: Cross-Modal Fusion for RGB-X Semantic Segmentation with Transformers",
T-ITS 2023, as :mod:`psfusion.segmenters.cmx` rebuilds it (``shared/spec/FEATURE_LEVEL.md`` §1):
an RGB and a thermal MiT-B2 stream (depths 3, 4, 6, 3), a feature rectification and a feature
fusion module after every stage, and mmseg's ``SegformerHead`` with 512 channels (CMX's decoder
width E = 512) on the fused maps.  Model only: the dataset and schedule bases bring the rest.
9 classes unless the leaf passes its dataset's ``num_classes``.

Parameters, measured (9 classes): 66,567,057 = encoder 64,984,456 (two MiT-B2 streams of
24,196,288, FRMs 10,019,848, FFMs 6,572,032) + head 1,582,601.  The reference code
(huaaaliu/RGBX_Semantic_Segmentation, its MLP decoder with E = 512) counts 66,565,521: mmseg's
head has 3 x 512 more (a BN instead of a bias after each input projection, no bias in the fuse
conv).  Other head differences, shared with our SegFormer: a ReLU after each input projection,
mmcv's default conv initialisation and BN eps 1e-5 (the reference: kaiming fan_in, eps 1e-3).

Input: the ``rgbt`` source, 4 channels in the order (R, G, B, T); the RGB stream reads R, G, B,
the thermal stream T replicated to 3 channels.  Data preprocessor: 4-channel mean/std
(placeholders here, ImageNet's for R, G, B and their average for T, close to CMX's final recipe
of ImageNet statistics for the replicated thermal too; the benchmark tool sets each run's own)
and ``bgr_to_rgb=False``: mmseg's ``SegDataPreProcessor`` swaps channels only of a 3-channel
input, so the loader must deliver (R, G, B, T) itself.

Pretrained: mmseg's ImageNet MiT-B2 (the same file as SegFormer-B2's), loaded into both streams;
the fusion modules start random.  The benchmark tool switches it off where it cannot be reached
(``--pretrained off|auto``; it sets ``model.backbone.init_cfg`` to None).
"""
pretrained = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segformer/mit_b2_20220624-66e8bf70.pth')
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs a process group; BN runs anywhere
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53, 114.495],  # R, G, B, T (placeholders: see above)
    std=[58.395, 57.12, 57.375, 57.63],
    bgr_to_rgb=False,  # a no-op on 4 channels anyway: the loader delivers R, G, B, T
    pad_val=0,
    seg_pad_val=255)
model = dict(
    _scope_='mmseg',
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='CMXBackbone',
        in_channels=4,
        embed_dims=64,
        num_layers=[3, 4, 6, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        strides=[4, 2, 2, 2],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        fuse_norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=512,
        dropout_ratio=0.1,
        num_classes=9,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
