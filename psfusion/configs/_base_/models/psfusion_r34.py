# The reference PSFusion network (45.90 M parameters, 369 GFLOPs per 480x640 pair) and the paper's
# objective (eq. 22: lambda_f 10, lambda_sf 5, lambda_se 10, alpha 0.1, mask-based intensity loss).
model = dict(
    type='PSFusion',
    num_classes=9,
    depth=34,
    trunk_channels=64,  # standard ResNet width (ImageNet weights exist only for 64)
    backbone_pretrained=None,  # path/URL of ImageNet ResNet-34 weights (torchvision or mmpretrain)
    stem_channels=32,
    rec_channels=32,
    fuse_channels=64,
    seg_channels=64,
    sim_hidden=32,
    deep_fusion='psfm',  # 'sdfm': ablation "PSFM replaced by SDFM"
    attn_scale=1.0,  # no 1/sqrt(d) (paper eq. 9, reference); None: 1/sqrt(d)
    sdfm_reinforce='cross',  # paper eq. 4; 'self': reference code
    sim_pre_conv=False,  # True: paper eq. 15's Conv_BN inside the SIM
    with_sfp=True,  # False: ablation "w/o SFP"
    with_s2p2=True,  # False: ablation "w/o S2P2"
    loss=dict(
        type='PSFusionLoss',
        lambda_f=10.0,
        lambda_sf=5.0,
        lambda_se=10.0,
        alpha=0.1,
        intensity='mask',  # eq. 17; 'plain': eq. 23 ("w/o mask"); 'reference': authors' code
        variance_window=9,
        variance_sigma=1.5,
        fidelity_gradient='sobel',  # 'second_order': reference code
        corr_floor=0.5,  # 1/d above, its tangent below: bounded gradient near d <= 0
        ohem_thresh=0.75,
        ohem_min_kept_ratio=1 / 16,
        binary_class_weight=None,  # None: ENet weights from each batch's labels
        ignore_index=255),
    data_preprocessor=dict(type='FusionDataPreprocessor', size_divisor=32, ignore_index=255))
