"""Keep freed memory in the process instead of handing it back to the OS after every step.

A training step allocates and frees the same few-MB activation and gradient buffers every time. glibc's
malloc serves blocks above its mmap threshold (128 KiB at first, adapting up to 32 MiB) with fresh `mmap`
pages and trims freed memory at the top of the heap back to the OS, so each step page-faults and zero-fills
its buffers again: on the repeat-subseq step (2 CPU cores) that was ~11 of 42 ms, showing up as slow `fill_`,
`copy_` and float64 `log_softmax` calls on 4 MB tensors. `keep_freed_memory()` raises the mmap threshold to
its maximum and turns trimming off (`mallopt`), so freed blocks are reused: the process keeps its peak heap.

It changes only where memory comes from, never a value. It is a no-op outside glibc (macOS, musl, Windows)
and is applied once per process by the trainer, the progress measures and the benchmarks; set the environment
variable `GROKINTERP_KEEP_FREED_MEMORY=0` to leave malloc as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's largest on 64-bit (HEAP_MAX_SIZE / 2)
TOP_PAD = 64 * 2**20


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc's malloc for repeated large allocations (see the module docstring); True if it applied."""
    if os.environ.get("GROKINTERP_KEEP_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
    ok &= mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
    ok &= mallopt(M_TOP_PAD, TOP_PAD)
    return bool(ok)
