"""`keep_freed_memory`: repeated large allocations stop page-faulting (glibc only)."""

import os
import subprocess
import sys

import pytest

from grokinterp.allocator import keep_freed_memory

PROBE = """
import resource, sys, torch
from grokinterp.allocator import keep_freed_memory
applied = keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
x = torch.randn(1024, 1024)
for _ in range(3):  # warm-up: the heap reaches its peak
    (x.double() * 2).sum()
f0 = faults()
for _ in range(20):  # an 8 MB float64 temporary, allocated and freed each time
    (x.double() * 2).sum()
import ctypes
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
try:
    libc.mallinfo2.restype = MallInfo2
    kept_free = libc.mallinfo2().fordblks  # freed bytes the heap still holds
except AttributeError:  # glibc < 2.33
    kept_free = -1
print(applied, (faults() - f0) / 20, kept_free)
"""


def _probe(env: dict) -> tuple[bool, float, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, "OMP_NUM_THREADS": "1", **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", float(out[1]), int(out[2])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    applied, faults, kept_free = _probe({})
    if not applied:
        pytest.skip("not glibc: keep_freed_memory is a no-op here")
    off, _, _ = _probe({"GROKINTERP_KEEP_FREED_MEMORY": "0"})
    assert not off
    if kept_free < 0:
        pytest.skip("glibc without mallinfo2")
    # the 8 MB temporary, once freed, stays in the heap for the next one (malloc's own count). Page faults
    # are not asserted: how many a reused heap takes depends on the kernel (0 on one machine, ~200 per
    # temporary where the kernel reclaims idle pages itself), and so does the default's (~4000 or ~200)
    assert kept_free >= 8 * 2**20


def test_applies_once_per_process():
    assert keep_freed_memory() is keep_freed_memory()
