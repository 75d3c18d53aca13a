"""The cyclic garbage collector paused while a commit or a rendering allocates.

A commit of 100k rows or a rendering of 100k series allocates hundreds of thousands of objects;
each allocation burst triggers collections that walk every tracked object of the process,
and the ledger's series are most of them. None of what a commit or a rendering makes forms a
reference cycle, so pausing the collector for their length loses nothing: reference counting
frees as before, and a cycle made meanwhile elsewhere waits for the next collection.
Measured in bench/RESULTS.md (round two, R1b). Thread-safe: the collector runs again when the
last of overlapping pauses ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_lock = threading.Lock()
_depth = 0  # pauses under way
_resume = False  # whether the collector was on when the first of them began

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block; it was off before, it stays off after."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def without_gc(function: Callable[P, R]) -> Callable[P, R]:
    """`function` run inside `gc_paused()`: for `asyncio.to_thread`."""

    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with gc_paused():
            return function(*args, **kwargs)

    return paused
