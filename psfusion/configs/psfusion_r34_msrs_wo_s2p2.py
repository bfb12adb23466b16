# Ablation (Table 4, "w/o S2P2"): no sparse semantic perception heads and no semantic losses;
# F_se is still computed and injected.  Without the semantic head there is no mIoU: best
# checkpoint on the validation split's marking-edge retention instead.
_base_ = ['psfusion_r34_msrs.py']
model = dict(with_s2p2=False)
default_hooks = dict(checkpoint=dict(save_best='edge_retention', rule='greater'))
