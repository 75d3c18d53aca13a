"""Deterministic usage: integer per-minute rates per raw row and UTC hour, from a seeded hash.

Each minute's usage becomes visible in two halves: at the minute's end and `late` seconds later,
so closed buckets keep rising for a while, exactly as real usage APIs do. The value of any bucket
at any time is computed in O(hours), and buckets of 1m, 1h and 1d agree exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache

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
