"""Handing freed heap back to the system: glibc keeps what a poll's answers and the previous
rendering freed unless asked (`malloc_trim`); elsewhere this does nothing."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
        return trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Hand the heap that a poll's answers and the previous rendering freed back to the
    system (glibc keeps it otherwise): bench/RESULTS.md has the size at 100k series."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
