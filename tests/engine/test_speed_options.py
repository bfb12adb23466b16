"""The training speed switches (--amp, --channels-last, --compile): same network and objective,
other layouts and precisions."""
from __future__ import annotations

import copy

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from psfusion.engine.amp import CPU_WRAPPER
from psfusion.engine.training import apply_speed_options
from psfusion.registry import MODELS

from ..train_helpers import DEMO_CONFIG, LossRecorder, make_tiny_dataset, tiny_config


def _tiny_model(**switches) -> torch.nn.Module:
    cfg = Config.fromfile(DEMO_CONFIG)
    model = dict(cfg.model, trunk_channels=16, **switches)
    model['loss'] = dict(model['loss'], binary_weights='reference')
    return MODELS.build(model)


def _batch(n: int = 4):
    from mmengine.structures import BaseDataElement, PixelData

    generator = torch.Generator().manual_seed(0)
    ir = torch.rand(n, 1, 64, 64, generator=generator)
    vi = torch.rand(n, 3, 64, 64, generator=generator)
    samples = []
    for _ in range(n):
        seg = torch.randint(0, 9, (1, 64, 64), generator=generator)
        sample = BaseDataElement(metainfo=dict(img_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=seg)
        sample.gt_binary = PixelData(data=(seg > 0).long())
        sample.gt_boundary = PixelData(data=(seg > 4).long())
        sample.gt_target = PixelData(data=(seg == 1).long())
        samples.append(sample)
    return dict(ir=ir, vi=vi), samples


def test_channels_last_trains_the_same_network():
    """Against the same weights in float64: NHWC convolutions round differently (measured
    forward error 2e-4 against 3e-5 for NCHW, outputs of scale 1), so the outputs, the loss
    terms and the gradient agree to float32 rounding as amplified by a random network (the
    NCHW gradient itself is 0.5 % from float64's at batch 4, NHWC 2.8 %)."""
    torch.manual_seed(0)
    plain = _tiny_model().train()
    nhwc = _tiny_model(channels_last=True).train()
    nhwc.load_state_dict(plain.state_dict())
    exact = copy.deepcopy(plain).double()
    conv = next(m for m in nhwc.modules() if isinstance(m, torch.nn.Conv2d) and
                m.weight.shape[-1] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    inputs, samples = _batch()
    with torch.no_grad():
        expected = exact.run(inputs['ir'].double(), inputs['vi'].double())
        got = nhwc.run(inputs['ir'], inputs['vi'])
    for key, value in expected.items():
        assert (got[key].double() - value).abs().max() < 1e-3, key

    def loss_and_gradient(model, dtype):
        batch = {key: value.to(dtype) for key, value in inputs.items()}
        losses = model(batch, copy.deepcopy(samples), mode='loss')
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        gradient = torch.cat([p.grad.double().flatten() for p in model.parameters()
                              if p.grad is not None])
        return losses, gradient

    losses_64, gradient_64 = loss_and_gradient(exact, torch.float64)
    losses, gradient = loss_and_gradient(nhwc, torch.float32)
    for key, value in losses_64.items():
        torch.testing.assert_close(losses[key].double(), value, rtol=1e-4, atol=1e-5)
    assert (gradient - gradient_64).norm() / gradient_64.norm() < 0.1


def test_speed_options_set_the_config():
    cfg = Config.fromfile(DEMO_CONFIG)
    apply_speed_options(cfg)
    assert cfg.optim_wrapper.type == 'OptimWrapper' and not cfg.model.get('channels_last')
    assert not cfg.get('compile')
    apply_speed_options(cfg, amp=True, channels_last=True, compile=True)
    expected = 'AmpOptimWrapper' if torch.cuda.is_available() else CPU_WRAPPER
    assert cfg.optim_wrapper.type == expected and cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.optimizer.type == 'SGD'  # the recipe's optimiser stays
    assert cfg.model.channels_last is True and cfg.compile is True


def test_the_objective_is_float32_under_bf16_autocast():
    torch.manual_seed(0)
    model = _tiny_model().train()
    inputs, samples = _batch(2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outputs = model.run(inputs['ir'], inputs['vi'])
        losses = model.loss(inputs['ir'], inputs['vi'], samples)
    assert outputs['fused'].dtype == torch.bfloat16  # the network ran in bf16
    assert all(value.dtype == torch.float32 for value in losses.values())


def test_amp_and_channels_last_train_on_the_cpu(tmp_path):
    """Three iterations through the Runner with both switches: finite losses."""
    data = make_tiny_dataset(tmp_path / 'data')
    cfg = tiny_config(data, str(tmp_path / 'work'), 'speed', max_iters=3)
    apply_speed_options(cfg, amp=True, channels_last=True)
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    assert len(recorder.losses) == 3
    assert all(torch.isfinite(torch.tensor(loss)) for loss in recorder.losses)
