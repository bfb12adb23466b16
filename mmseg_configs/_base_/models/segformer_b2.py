"""SegFormer-B2 (MiT-B2, 24.7 M parameters with 9 classes), for the paper's Tables 1 and 2.

mmseg's model-only SegFormer base (MiT-B0) widened and deepened exactly as mmseg's own
``segformer_mit-b2`` config does; no data or schedule settings (the dataset and schedule bases
bring those).  9 classes unless the leaf passes its dataset's ``num_classes``.

Training recipe (the PSFusion authors' released mmseg 0.24 configs, github.com/Linfeng-Tang/PSFusion
``local_configs/``, trained on one RTX 3090 as the paper says (Sec. 4.1; their ``tools/train.py``
defaults to one GPU, not distributed), so a config's ``samples_per_gpu`` is its batch): batch 8
(``segformer.b2.512x512.ade.160k.py``, ``samples_per_gpu=8``, the dataset base's value) and AdamW lr
1e-4 (the same file; ``_base_/schedules/segformer_b2_160k.py``). The segmenter's own recipe is batch
16 at lr 6e-5 (SegFormer paper, Xie et al. NeurIPS 2021, implementation details: batch 16 on ADE20K;
NVlabs/SegFormer ``segformer.b2.512x512.ade.160k.py``, 2 per GPU x 8 GPUs; mmseg 1.2.2
``segformer_mit-b2_8xb2-160k_ade20k-512x512.py``); to train that way, pass ``--cfg-options
train_dataloader.batch_size=16`` and ``--schedule 160k``. The paper's text says only that the
segmentation models follow their original papers.
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
