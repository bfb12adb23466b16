"""SegNeXt-Large (MSCAN-L) on MFNet: 9 classes, the paper's 160k schedule."""
_base_ = [
    './_base_/models/segnext_l.py', './_base_/datasets/mfnet.py',
    './_base_/schedules/schedule_160k.py'
]

# mmengine refuses keys shared by two bases, so the data and schedule layers keep their
# settings under `data_settings` / `schedule_settings`; put them in place of the ADE20K ones
# inherited from mmseg's model config.
crop_size = _base_.data_settings.crop_size
model = dict(data_preprocessor=dict(size=crop_size))
train_dataloader = _base_.data_settings.train_dataloader
val_dataloader = _base_.data_settings.test_dataloader
test_dataloader = _base_.data_settings.test_dataloader
val_evaluator = _base_.data_settings.evaluator
test_evaluator = _base_.data_settings.evaluator
tta_pipeline = _base_.data_settings.tta_pipeline
optim_wrapper = _base_.schedule_settings.optim_wrapper
param_scheduler = _base_.schedule_settings.param_scheduler
train_cfg = _base_.schedule_settings.train_cfg
default_hooks = _base_.schedule_settings.default_hooks
