# Ablation (Table 3, "w/o Mask"): the rudimentary intensity loss of eq. 23 instead of eq. 17.
_base_ = ['psfusion_r34_msrs.py']
model = dict(loss=dict(intensity='plain'))
