# Ablation (Table 4, "w/o PSFM"): the deep levels 4-6 fused by SDFMs instead of PSFMs.
_base_ = ['psfusion_r34_msrs.py']
model = dict(deep_fusion='sdfm')
