"""What importing toygrad sets up for the process: malloc keeps freed memory for reuse (toygrad/__init__.py)."""
import ctypes
import os
import subprocess
import sys

import pytest

import toygrad

# In a fresh process: how many blocks malloc maps from the system for a 4 MB array (mallinfo2's hblks counts them)
_MAPPED_BLOCKS = """
import ctypes, numpy as np
import toygrad
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
before = libc.mallinfo2().hblks
a = np.ones(4 << 20 >> 3)
print(libc.mallinfo2().hblks - before)
"""


def _mapped_blocks(**env):
    out = subprocess.run([sys.executable, "-c", _MAPPED_BLOCKS], env={**os.environ, **env}, capture_output=True,
                         text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"),
                    reason="glibc's malloc (mallinfo2: glibc 2.33 on)")
def test_malloc_keeps_a_4_mb_array_in_the_heap_unless_told_not_to():
    assert toygrad._kept_freed_memory
    assert _mapped_blocks() == 0                                  # from the heap: freed, its pages stay
    assert _mapped_blocks(TOYGRAD_SYSTEM_MALLOC="1") == 1         # glibc's default: mapped, and unmapped when freed


def test_keeping_freed_memory_gives_way_where_it_cannot(monkeypatch):
    """Asked not to, or where ctypes cannot open the process's own symbols (Windows raises TypeError for a name of
    None), importing toygrad changes nothing and does not fail."""
    monkeypatch.setenv("TOYGRAD_SYSTEM_MALLOC", "1")
    assert toygrad._keep_freed_memory() is False
    monkeypatch.delenv("TOYGRAD_SYSTEM_MALLOC")

    def cannot_open(name):
        raise TypeError("argument of type 'NoneType' is not iterable")
    monkeypatch.setattr(toygrad.ctypes, "CDLL", cannot_open)
    assert toygrad._keep_freed_memory() is False
    monkeypatch.setattr(toygrad.sys, "platform", "win32")
    assert toygrad._keep_freed_memory() is False
