# MFNet (784 train / 392 val / 393 test, 480x640, 4-channel PNGs R,G,B,thermal, 9 classes): the
# MSRS settings (msrs.py: crops, pipelines, loaders, metric) on MFNet's files, validated on its
# official val split (so nothing is held out of train).
_base_ = ['./msrs.py']
data_root = 'data/MFNet'
val_split = None

train_dataloader = dict(dataset=dict(type='MFNetDataset', data_root=data_root))
val_dataloader = dict(dataset=dict(type='MFNetDataset', data_root=data_root, split='val'))
test_dataloader = dict(dataset=dict(type='MFNetDataset', data_root=data_root))
