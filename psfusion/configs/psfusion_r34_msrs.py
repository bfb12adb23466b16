# PSFusion as in the paper (section 4.1): ResNet-34 trunks from ImageNet weights, MSRS, batch 16,
# 256x256 crops with flips and 90-degree rotations, SGD + warm-up + poly, 170k iterations
# (2500 epochs).  Validation on 10 % held out of train/ (never the test split).
_base_ = [
    '_base_/models/psfusion_r34.py', '_base_/datasets/msrs.py',
    '_base_/schedules/sgd_poly_170k.py', '_base_/default_runtime.py'
]
# torchvision's ImageNet ResNet-34 (https://download.pytorch.org/models/resnet34-b627a593.pth);
# set to None to train the trunks from scratch.
model = dict(backbone_pretrained='checkpoints/resnet34-b627a593.pth')
