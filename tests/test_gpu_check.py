"""benchmarks/gpu_check.py, the one-call GPU measurement, run on the CPU at toy sizes: every
measurement it will make on the device prints its JSON line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / 'benchmarks' / 'gpu_check.py'


@pytest.mark.slow
def test_every_measurement_runs_on_the_cpu():
    argv = ['--device', 'cpu', '--variants', 'fp32,channels_last', '--train-steps', '1',
            '--batch', '2', '--crop', '64', '--warmup', '1', '--profile',
            '--agreement-steps', '2', '--runner-steps', '2', '--runner-size', '96', '128',
            '--runner-batch', '2', '--runner-crop', '64', '--trunk-channels', '16',
            '--fuse-size', '96', '128', '--fuse-batches', '1', '--fuse-steps', '1',
            '--fuse-pairs', '2', '--fuse-batch', '2']
    proc = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, OMP_NUM_THREADS='2'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]
    measures = [record['measure'] for record in records]
    assert measures.count('train') == 2 and measures.count('profile') == 2
    for measure in ('loss_agreement', 'runner', 'fuse', 'fuse_network', 'fuse_end_to_end'):
        assert measure in measures, measures
    by_measure = {record['measure']: record for record in records}
    assert by_measure['loss_agreement']['max_relative_difference'] < 0.05
    assert 0 <= by_measure['runner']['data_time_share'] < 1
    assert by_measure['profile']['top'] and all('command' in record for record in records)
