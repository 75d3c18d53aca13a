"""Handing freed heap back to the system: glibc keeps what a poll's answers and the previous
rendering freed unless asked (`malloc_trim`), and keeps large blocks in its heaps once one was
freed (`mallopt`); elsewhere this does nothing."""

from __future__ import annotations

import ctypes
import ctypes.util


def _glibc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _glibc()
_MALLOC_TRIM = getattr(_LIBC, "malloc_trim", None)  # (None: not glibc)
_MALLOPT = getattr(_LIBC, "mallopt", None)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_BLOCK = 1 << 20  # bytes: a snapshot's variants are larger, a response's slices smaller


def release_free_memory() -> None:
    """Hand the heap that a poll's answers and the previous rendering freed back to the
    system (glibc keeps it otherwise): bench/RESULTS.md has the size at 100k series."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def map_large_blocks() -> None:
    """Have glibc map each block of `LARGE_BLOCK` bytes or more on its own, so the bytes of
    a replaced snapshot go back to the system when freed. Left alone, glibc raises its mapping
    threshold after the first such block is freed (up to 32 MiB), and later snapshots are read
    into heaps it keeps: at 100k series the listener process held 194 MB instead of 124 MB
    after ten polls (bench/RESULTS.md, round three)."""
    if _MALLOPT is not None:
        _MALLOPT(M_MMAP_THRESHOLD, LARGE_BLOCK)
