# PSFusion-Light: the same architecture with ResNet-18 trunks and half the decoder widths, for CPU
# demos and tests (not the paper's network; see psfusion_r34.py for that).
_base_ = ['psfusion_r34.py']
model = dict(
    depth=18, stem_channels=16, rec_channels=16, fuse_channels=32, seg_channels=32, sim_hidden=16)
