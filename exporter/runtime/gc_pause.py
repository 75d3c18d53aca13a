"""The cyclic garbage collector paused while a commit or a rendering allocates, and what they
made frozen after it.

A commit of 100k rows or a rendering of 100k series allocates hundreds of thousands of objects;
each allocation burst triggers collections that walk every tracked object of the process,
and the ledger's series are most of them. None of what a commit or a rendering makes forms a
reference cycle, so pausing the collector for their length loses nothing: reference counting
frees as before, and a cycle made meanwhile elsewhere waits for the next collection.
Measured in bench/RESULTS.md (round two, R1b).

Pausing alone moved the cost to the first scrape after a poll (round three, R3a): the objects a
pause made are all young when the collector resumes, so the next allocations trigger a pass over
every one of them in each generation in turn (a full collection included), on the event loop.
So the last pause to end freezes (`gc.freeze`) what exists: frozen objects are skipped by every
collection and still freed by reference counting when they die. The price is that a reference
cycle already garbage at the freeze is not reclaimed while frozen; so every `THAW_EVERY`-th
pause ends by thawing instead, and the collector's next full pass reclaims such cycles (one
slow collection per `THAW_EVERY` polls, instead of one per poll). Thread-safe: the collector
runs again when the last of overlapping pauses ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

THAW_EVERY = 100  # pauses, about one per commit and one per rendering

_lock = threading.Lock()
_depth = 0  # pauses under way
_resume = False  # whether the collector was on when the first of them began
_ended = 0  # outermost pauses ended, for THAW_EVERY

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block; it was off before, it stays off after. What
    exists when the last overlapping pause ends is frozen (see the module's docstring)."""
    global _depth, _resume, _ended
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
                _ended += 1
                if _ended % THAW_EVERY == 0:
                    gc.unfreeze()
                else:
                    gc.freeze()
                gc.enable()


def without_gc(function: Callable[P, R]) -> Callable[P, R]:
    """`function` run inside `gc_paused()`: for `asyncio.to_thread`."""

    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with gc_paused():
            return function(*args, **kwargs)

    return paused
