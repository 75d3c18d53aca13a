"""Deterministic usage: integer per-minute rates per raw row and UTC hour, from a seeded hash.

Each minute's usage becomes visible in two halves: at the minute's end and `late` seconds later,
so closed buckets keep rising for a while, exactly as real usage APIs do. The value of any bucket
at any time is computed in O(hours), and buckets of 1m, 1h and 1d agree exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from random import Random

MINUTE = 60
HOUR = 3600


@lru_cache(maxsize=500_000)
def digest(*parts: object) -> bytes:
    return hashlib.blake2b(repr(parts).encode(), digest_size=32).digest()


def rate(seed: int, *key: object, maximum: int, sparsity: int = 3) -> int:
    """An even per-minute rate in [0, 2*maximum); zero in about 1/sparsity of the hours."""
    d = digest(seed, *key)
    if sparsity and d[0] % sparsity == 0:
        return 0
    return 2 * (int.from_bytes(d[1:5], "big") % maximum)


def _minutes_done(a: int, b: int, t: int) -> int:
    """Minutes m in [a, b) (aligned) whose end m + 60 is at or before t."""
    last_end = (t // MINUTE) * MINUTE  # the latest minute end <= t
    return max(0, (min(b, last_end) - a) // MINUTE)


def visible(rate_of_hour: Callable[[int], int], start: int, end: int, t: int, late: int) -> int:
    """Usage reported at time t for [start, end) (minute-aligned) given per-hour minute rates."""
    total = 0
    end = min(end, t - t % MINUTE)  # nothing of a minute is visible before it ends
    hour = start - start % HOUR
    while hour < end:
        r = rate_of_hour(hour)
        if r:
            a, b = max(start, hour), min(end, hour + HOUR)
            total += (r // 2) * (_minutes_done(a, b, t) + _minutes_done(a, b, t - late))
        hour += HOUR
    return total


Key = tuple[object, ...]


class Revisions:
    """Late revisions of closed minutes, on top of the generated usage: a delta per series key
    (the raw row and field an upstream module names) and minute.

    A delta becomes visible when its minute ends, like the rest of that minute. Only minutes that
    are closed and final (ended more than `late` seconds ago) and recent (inside `span`) are
    revised, so an exporter re-reading its lookback sees every revision. What down revisions took
    is remembered per key until `restore` gives it back as late usage.
    """

    def __init__(self, late: int, span: int = 50 * MINUTE) -> None:
        self.late = late
        self.span = span
        self._deltas: dict[Key, dict[int, int]] = {}
        self.lowered: dict[Key, int] = {}
        self.counts = {"up": 0, "down": 0, "restored": 0}

    def shift(self, key: Key, start: int, end: int, now: int) -> int:
        """The revisions of `key` in the minutes of [start, end) that have ended by `now`."""
        minutes = self._deltas.get(key)
        if not minutes:
            return 0
        limit = min(end, now - now % MINUTE)
        return sum(d for m, d in minutes.items() if start <= m < limit)

    def add(self, key: Key, minute: int, delta: int) -> None:
        minutes = self._deltas.setdefault(key, {})
        minutes[minute] = minutes.get(minute, 0) + delta

    def revise(
        self,
        up: bool,
        keys: Sequence[Key],
        minute_value: Callable[[Key, int], int],
        now: int,
        rng: Random,
        tries: int = 8,
    ) -> bool:
        """Raise or lower one final, recent minute of one of `keys` that has usage; False if the
        draws found none. A lowered minute keeps at least half of what it had."""
        final = now - MINUTE - self.late  # a minute ending by then has all its usage
        newest = final - final % MINUTE
        oldest = now - now % MINUTE - self.span
        if not keys or newest < oldest:
            return False
        for _ in range(tries):
            key = keys[rng.randrange(len(keys))]
            minute = oldest + MINUTE * rng.randrange((newest - oldest) // MINUTE + 1)
            value = minute_value(key, minute)
            if value <= 0:
                continue
            delta = 1 + value // 2 if up else -((value + 1) // 2)
            self.add(key, minute, delta)
            if not up:
                self.lowered[key] = self.lowered.get(key, 0) - delta
            self.counts["up" if up else "down"] += 1
            return True
        return False

    def restore(self, now: int) -> int:
        """Give back, as late usage in the newest closed minute, everything down revisions took:
        each series' true total is then again at least the highest it ever was. Returns how many
        series were restored."""
        minute = now - now % MINUTE - MINUTE
        restored = len(self.lowered)
        for key, amount in self.lowered.items():
            self.add(key, minute, amount)
        self.lowered.clear()
        self.counts["restored"] += restored
        return restored

    def stats(self) -> dict[str, int]:
        return {**self.counts, "outstanding": len(self.lowered)}
