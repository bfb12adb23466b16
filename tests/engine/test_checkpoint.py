"""Weights-only checkpoints: mmengine's non-tensor objects survive an encode/decode round trip
and the encoded form loads with torch.load(weights_only=True); the checked loader names a
corrupt file as corrupt and keeps the weights-only explanation for real refusals."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from psfusion.engine import (WeightsOnlyCheckpointHook, capture_rng_state,
                             check_checkpoint_file, from_weights_only, load_checkpoint_checked,
                             load_checkpoint_weights_only, restore_rng_state, to_weights_only)
from psfusion.errors import CheckpointError


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
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_weights_only(str(path))
    assert str(info.value) == (
        f'checkpoint {path} holds Python objects besides tensors and plain containers '
        f'(mmengine.logging.history_buffer.HistoryBuffer); this project loads checkpoints '
        f'weights-only, since unpickling arbitrary objects can run code. Use a checkpoint '
        f"written by this project's training (its checkpoints hold only tensors and plain "
        f'containers), or a plain state dict of tensors.')
    assert 'weights_only=False' not in str(info.value)
    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, plain)
    assert 'w' in load_checkpoint_weights_only(str(plain))['state_dict']
    with pytest.raises(CheckpointError, match='^checkpoint .*nope.pth not found$'):
        load_checkpoint_weights_only(str(tmp_path / 'nope.pth'))


def _corrupt_files(tmp_path) -> dict:
    """Broken checkpoint files of every kind, with the reason the loader gives."""
    torch.save({'w': torch.randn(1000)}, tmp_path / 'ok.pth')
    data = (tmp_path / 'ok.pth').read_bytes()
    torch.save({'w': torch.randn(10)}, tmp_path / 'legacy.pth',
               _use_new_zipfile_serialization=False)
    legacy = (tmp_path / 'legacy.pth').read_bytes()
    files = {
        'truncated.pth': (data[:len(data) // 2],
                          'not a complete zip archive, nor a legacy torch file'),
        'empty.pth': (b'', 'empty file'),
        'text.pth': (b'hello world\n', 'not a complete zip archive, nor a legacy torch file'),
        'garbage.pth': (bytes(range(256)) * 20,
                        'not a complete zip archive, nor a legacy torch file'),
        'legacy_truncated.pth': (legacy[:len(legacy) // 2], 'EOFError: no detail'),
    }
    for name, (content, _) in files.items():
        (tmp_path / name).write_bytes(content)
    return {name: reason for name, (_, reason) in files.items()}


def test_corrupt_checkpoints_are_named_as_such(tmp_path):
    """A truncated, empty or garbled file is "corrupt or incomplete", never a weights-only
    problem (torch itself says "Weights only load failed" for some of them)."""
    for name, reason in _corrupt_files(tmp_path).items():
        path = tmp_path / name
        with pytest.raises(CheckpointError) as info:
            load_checkpoint_checked(str(path))
        assert str(info.value) == (
            f'corrupt or incomplete checkpoint {path} ({reason}): the file was probably cut '
            f'short by a killed or failed write, copy or download. Delete it and use a '
            f'complete copy (training: --resume continues from the last complete checkpoint '
            f'of the work dir).'), name
        assert 'weights' not in str(info.value)
    torch.save({'w': torch.zeros(2)}, tmp_path / 'legacy_ok.pth',
               _use_new_zipfile_serialization=False)
    assert torch.equal(load_checkpoint_checked(str(tmp_path / 'legacy_ok.pth'))['w'],
                       torch.zeros(2))
    check_checkpoint_file(str(tmp_path / 'ok.pth'))  # complete: no error


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
