"""SegFormer-B4 (MiT-B4, 61.4 M parameters with 9 classes), for the paper's Table 2.

mmseg's model-only SegFormer base (MiT-B0) widened and deepened exactly as mmseg's own
``segformer_mit-b4`` config does; no data or schedule settings.  9 classes unless the leaf
passes its dataset's ``num_classes``.

Training recipe (the PSFusion authors' released mmseg 0.24 configs, github.com/Linfeng-Tang/PSFusion
``local_configs/``, trained on one RTX 3090 as the paper says (Sec. 4.1; their ``tools/train.py``
defaults to one GPU, not distributed), so a config's ``samples_per_gpu`` is its batch): batch 4
(``segformer.b4.512x512.ade.160k.py``, ``samples_per_gpu=4``; set by each
``segformer_b4_<dataset>.py``) and AdamW lr 6e-5 (``_base_/schedules/schedule_160k.py``). The
segmenter's own recipe is batch 16 at lr 6e-5 (SegFormer paper, implementation details; mmseg 1.2.2
``segformer_mit-b4_8xb2-160k_ade20k-512x512.py``, 2 per GPU x 8 GPUs); to train that way, pass
``--cfg-options train_dataloader.batch_size=16``. The paper's text says only that the segmentation
models follow their original papers.
"""
_base_ = 'mmseg::_base_/models/segformer_mit-b0.py'

# ImageNet-pretrained MiT-B4 from the OpenMMLab model zoo (mmseg's value).  The benchmark tool
# switches it off where it cannot be reached (`--pretrained off|auto`).
pretrained = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segformer/mit_b4_20220624-d588d980.pth')
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs a process group; BN runs anywhere
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=pretrained),
        embed_dims=64,
        num_heads=[1, 2, 5, 8],
        num_layers=[3, 8, 27, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=9, norm_cfg=norm_cfg))
