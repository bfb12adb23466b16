"""MFNet (784 train / 392 val / 393 test, 480x640, 9 classes) read through one source per run.

Images are 4-channel PNGs (R, G, B, thermal): ``ir`` reads the thermal channel, ``vi`` the RGB
ones.  Training uses the whole train split, validation (mmseg's ``tools/train.py``) MFNet's own
``val`` split, evaluation the test split: no hold-out (``holdout=None`` replaces MSRS's).
Everything else is MSRS's (``msrs.py``: same size, same 9 classes): only the dataset class,
root and validation split differ.
"""
_base_ = ['./msrs.py']

_dataset = dict(type='psfusion.MFNetSegDataset', data_root='data/MFNet', holdout=None)
train_dataloader = dict(dataset=_dataset)
val_dataloader = dict(dataset=dict(_dataset, split='val'))
test_dataloader = dict(dataset=_dataset)
del _dataset
