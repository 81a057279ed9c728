"""The C heap of a ``keel-verify`` process: freed memory is kept for reuse instead of
being handed back to the system after every chunk of chain entries.

The chain pass decodes, encodes and hashes a chunk of entries (one to a few MiB of
objects and buffers), frees it all, and does the next chunk. glibc's ``free`` gives the
top of its heap back to the system (``brk``) as soon as more than its trim threshold is
free there, so every chunk faulted the same pages in again: about 65,000 page faults, a
tenth of a second of system CPU, for 100,000 entries. ``mallopt(M_TOP_PAD)`` makes glibc
grow the heap by a pad beyond each request and keep that much free at the top when it
trims, so a chunk reuses the pages of the one before.

What it costs: at most the pad stays resident after the memory in it is freed (it is
reused by the next allocation); the pad is only address space until then. What it
changes: nothing but the time; results never depend on it.

Only the command-line process asks for it (a library does not retune its host's
allocator); anywhere but glibc it does nothing.
"""

from __future__ import annotations

import os

#: glibc's ``M_TOP_PAD`` parameter number (malloc.h).
M_TOP_PAD = -2
#: Free memory kept at the top of the heap: more than a chunk of the chain pass takes.
TOP_PAD_BYTES = 16 << 20


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):  # not a POSIX confstr, or not glibc
        return False


def keep_freed_heap(pad: int = TOP_PAD_BYTES) -> bool:
    """Ask glibc to keep ``pad`` bytes free at the top of the heap (``mallopt(M_TOP_PAD)``).
    True when glibc accepted it; False elsewhere (nothing changed)."""
    if not _glibc():
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_TOP_PAD, pad))
