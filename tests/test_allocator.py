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
print(applied, (faults() - f0) / 20)
"""


def _probe(env: dict) -> tuple[bool, float]:
    out = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, "OMP_NUM_THREADS": "1", **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", float(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    applied, kept = _probe({})
    if not applied:
        pytest.skip("not glibc: keep_freed_memory is a no-op here")
    off, default = _probe({"GROKINTERP_KEEP_FREED_MEMORY": "0"})
    assert not off
    # an 8 MB buffer is 2048 pages of 4 KiB: glibc's default mmap()s and faults them in each time. How many
    # faults that costs depends on the kernel (~4000 here, ~200 on a CI machine with huge pages), so only our
    # side is bounded: a reused heap faults (almost) nothing, and never more than malloc's default.
    assert kept < 50
    assert kept <= default


def test_applies_once_per_process():
    assert keep_freed_memory() is keep_freed_memory()
