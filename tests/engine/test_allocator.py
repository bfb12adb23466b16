"""glibc malloc tuning: freed large blocks are reused instead of re-faulted."""
from __future__ import annotations

import resource
import subprocess
import sys

import pytest

SCRIPT = '''
import resource, sys, torch
if sys.argv[1] == "tuned":
    from psfusion.engine.allocator import keep_freed_memory
    assert keep_freed_memory()
torch.empty(40 * 2**20 // 4).fill_(1)  # first touch of a 40 MB block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    torch.empty(40 * 2**20 // 4).fill_(1)  # freed and allocated again
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
'''


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc malloc only')
def test_freed_blocks_are_reused_without_page_faults():
    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, '-c', SCRIPT, mode], capture_output=True,
                             text=True, check=True).stdout
        return int(out.strip().splitlines()[-1])

    block = 40 * 2**20 // resource.getpagesize()
    assert faults('default') > 4.5 * block  # each of the 5 blocks zero-filled again
    assert faults('tuned') <= 1.1 * block  # at most one more block's worth of new pages
