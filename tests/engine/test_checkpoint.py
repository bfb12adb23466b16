"""Weights-only checkpoints: mmengine's non-tensor objects survive an encode/decode round trip
and the encoded form loads with torch.load(weights_only=True)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from psfusion.engine import (WeightsOnlyCheckpointHook, capture_rng_state,
                             from_weights_only, load_checkpoint_weights_only,
                             restore_rng_state, to_weights_only)


def mmengine_like_checkpoint() -> dict:
    buffer = HistoryBuffer([1.0, 2.5, 3.0], [1, 1, 2], max_length=10)
    return {
        'meta': {'seed': 0, 'iter': 3, 'dataset_meta': {'classes': ('a', 'b')}},
        'state_dict': OrderedDict(w=torch.ones(2)),
        'message_hub': {'log_scalars': OrderedDict({'train/loss': buffer}),
                        'runtime_info': {'best_score': np.float64(0.5),
                                         'array': np.arange(4, dtype=np.int32)},
                        'resumed_keys': {'train/loss': True}},
        'rng_state': capture_rng_state(),
    }


def test_encoded_checkpoint_loads_weights_only(tmp_path):
    checkpoint = mmengine_like_checkpoint()
    raw = tmp_path / 'raw.pth'
    torch.save(checkpoint, raw)
    with pytest.raises(Exception, match='HistoryBuffer|weights_only|Unsupported'):
        torch.load(raw, weights_only=True)  # what mmengine writes by itself
    hook = WeightsOnlyCheckpointHook()
    hook.before_save_checkpoint(None, checkpoint)
    path = tmp_path / 'safe.pth'
    torch.save(checkpoint, path)
    loaded = torch.load(path, weights_only=True)
    hook.after_load_checkpoint(None, loaded)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.data[0].tolist() == [1.0, 2.5, 3.0] and buffer.max_length == 10
    info = loaded['message_hub']['runtime_info']
    assert info['best_score'] == 0.5 and info['array'].dtype == np.int32
    assert info['array'].tolist() == [0, 1, 2, 3]
    assert loaded['meta']['dataset_meta']['classes'] == ('a', 'b')


def test_loader_refuses_pickled_objects_with_advice(tmp_path):
    path = tmp_path / 'foreign.pth'
    torch.save({'obj': HistoryBuffer()}, path)
    with pytest.raises(RuntimeError, match='weights-only'):
        load_checkpoint_weights_only(str(path))
    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, plain)
    assert 'w' in load_checkpoint_weights_only(str(plain))['state_dict']
    with pytest.raises(FileNotFoundError):
        load_checkpoint_weights_only(str(tmp_path / 'nope.pth'))


def test_round_trip_keeps_plain_values():
    value = {'a': [1, (2.0, 'x')], 'b': OrderedDict(c=torch.zeros(2))}
    back = from_weights_only(to_weights_only(value))
    assert back['a'] == [1, (2.0, 'x')] and isinstance(back['b'], OrderedDict)


def test_rng_state_round_trip():
    import random
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(from_weights_only(to_weights_only(state)))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
