"""Keep freed memory inside the process (glibc ``malloc`` tuning) for large-tensor workloads.

glibc serves each large allocation (above a threshold that adapts between 128 KB and 32 MB)
with a fresh ``mmap`` and returns it with ``munmap`` when freed, so each full-resolution feature
map of PSFusion (39 MB for 32 channels at 480 x 640) is zero-filled page by page by the kernel
again on every forward pass: measured here, about 0.8 million page faults and 2.4-3 s of system
time per 480 x 640 pair, a fifth of the run time.  Serving large blocks from the heap and never
trimming it lets freed blocks be reused (peak memory about 0.4 GB higher for the default
network).  PyTorch's CPU tuning guide recommends jemalloc or tcmalloc for the same reason; this
needs no extra library.  Tools call it; library functions leave the process settings alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Tell glibc to serve all allocations from the heap and never return it to the system.

    Returns whether it applied (``False`` on non-glibc systems, where it does nothing).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_MAX, 0) == 1
    ok = mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1 and ok
    return ok
