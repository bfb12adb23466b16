"""The paper's 160k schedule (``schedule_160k.py``) at the PSFusion authors' SegFormer-B2
learning rate, 1e-4: the schedule of every ``segformer_b2_<dataset>.py`` config.

Source: the authors' released config, github.com/Linfeng-Tang/PSFusion (commit 067f9c5),
``local_configs/segformer/B2/segformer.b2.512x512.ade.160k.py``: AdamW ``lr=0.0001``,
everything else as ``schedule_160k.py`` (weight decay 0.01, head lr x10, 1500-iteration linear
warm-up, poly 1.0, 160k iterations), batch 8 on one GPU.  Their SegFormer-B4 and SegNeXt
configs keep 6e-5, which is also SegFormer's own value (Xie et al., NeurIPS 2021,
implementation details; NVlabs/SegFormer ``segformer.b2.512x512.ade.160k.py``; mmseg 1.2.2
``segformer_mit-b2_8xb2-160k_ade20k-512x512.py``), there at batch 16.
``tools/benchmark_downstream.py --schedule 160k`` replaces this schedule by ``schedule_160k.py``
(lr 6e-5, SegFormer's own): a different recipe.
"""
_base_ = ['./schedule_160k.py']

optim_wrapper = dict(optimizer=dict(lr=1e-4))
