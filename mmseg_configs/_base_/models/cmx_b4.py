"""CMX with MiT-B4 streams (139.86 M parameters with 9 classes), CMX's MFNet model.

:mod:`.cmx_b2` with MiT-B4's depths (3, 8, 27, 3) and mmseg's ImageNet MiT-B4 checkpoint (the
same file as SegFormer-B4's) in both streams; everything else, the input contract and the data
preprocessor included, as there.

Parameters, measured (9 classes): 139,859,857 = encoder 138,277,256 (two MiT-B4 streams of
60,842,688, FRMs and FFMs 16,591,880 as in B2) + head 1,582,601; the reference code counts
139,858,321 (mmseg's head has 3 x 512 more, see :mod:`.cmx_b2`).
"""
_base_ = './cmx_b2.py'

pretrained = ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
              'segformer/mit_b4_20220624-d588d980.pth')
model = dict(
    backbone=dict(num_layers=[3, 8, 27, 3],
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
