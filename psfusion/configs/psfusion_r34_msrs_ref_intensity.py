# The intensity loss of the authors' code: map = (M_ir + M_tar) > 0 and a 9x9 windowed MSE (with the
# visible / infrared order fixed; their training script swaps them).  Also the reference's
# second-order gradient in the scene fidelity loss.
_base_ = ['psfusion_r34_msrs.py']
model = dict(loss=dict(intensity='reference', fidelity_gradient='second_order'))
