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

Training recipe (the PSFusion authors' released mmseg 0.24 configs, github.com/Linfeng-Tang/PSFusion
``local_configs/``, trained on one RTX 3090 as the paper says (Sec. 4.1; their ``tools/train.py``
defaults to one GPU, not distributed), so a config's ``samples_per_gpu`` is its batch): batch 4
(``segnext.base.512x512.ade.160k.py``, ``samples_per_gpu=4``, SegNeXt's per-GPU value left as it
was; set by each ``segnext_b_<dataset>.py``) and AdamW lr 6e-5
(``_base_/schedules/schedule_160k.py``). mmseg's recipe for the segmenter is batch 16 at lr 6e-5
(mmseg 1.2.2 ``segnext_mscan-b_1xb16-adamw-160k_ade20k-512x512.py``, one GPU; the SegNeXt
repository's ``segnext.base.512x512.ade.160k.py`` has 4 per GPU, and its README trains on 8 GPUs);
to train that way, pass ``--cfg-options train_dataloader.batch_size=16``. The paper's text says only
that the segmentation models follow their original papers.
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
