# Ablation (Table 3, "w/o SFP"): no scene fidelity path (and no scene fidelity loss).
_base_ = ['psfusion_r34_msrs.py']
model = dict(with_sfp=False)
