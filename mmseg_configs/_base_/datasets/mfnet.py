"""MFNet (784 train / 392 val / 393 test, 480x640, 9 classes) read through one source per run.

Images are 4-channel PNGs (R, G, B, thermal): ``ir`` reads the thermal channel, ``vi`` the RGB
ones.  Training uses the train split, evaluation the test split.  Everything else is MSRS's
(``msrs.py``: same size, same 9 classes): only the dataset class and root differ.
"""
_base_ = ['./msrs.py']

_dataset = dict(type='psfusion.MFNetSegDataset', data_root='data/MFNet')
train_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=_dataset)
val_dataloader = test_dataloader
del _dataset
