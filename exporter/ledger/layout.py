"""Where a series' open buckets sit in its array of numbers (`Series.open`), shared.

Most series of a stream hold the same open buckets, opened in the same order: each had a dict
of its own mapping them to the same places (224 bytes a series with one bucket, a new one or a
grown one for every series each time a bucket opened). Now the series share one `Layout` per
distinct mapping, which never changes: a series that opens or drops a bucket moves to the
layout of its new mapping, found in a registry (weak: a layout no series uses goes) and, for
the many series that make the same move in one commit, in a small cache of moves. A series
with more than `SHARED_UP_TO` open buckets (minute buckets over a long lookback) keeps a plain
dict of its own, changed in place: building and hashing the mapping per move would cost in
proportion to its size."""

from __future__ import annotations

import weakref

from exporter.ledger.frozen import FrozenDict

BucketKey = tuple[str, int]  # (stream, bucket start)
Places = tuple[tuple[BucketKey, int], ...]  # (bucket, place in the array) pairs, in order

SHARED_UP_TO = 16  # open buckets; beyond, a series' mapping is its own dict
_MOVES_KEPT = 1024  # cached moves (a few per stream and bucket); emptied beyond


class Layout(FrozenDict[BucketKey, int]):
    """A mapping of open buckets to places, shared by every series that has it: refuses to
    change (a series moves to another layout instead, `moved`)."""

    __slots__ = ("__weakref__",)
    why = "a Layout is shared by series: a series moves to another one"


_layouts: weakref.WeakValueDictionary[Places, Layout] = weakref.WeakValueDictionary()
# (id of the layout moved from, bucket, place or None for a drop) -> (that layout, the result):
# the layout is kept with its result, so an id is never taken for another object's
_moves: dict[tuple[int, BucketKey, int | None], tuple[Layout, dict[BucketKey, int]]] = {}


def layout_of(places: Places) -> dict[BucketKey, int]:
    """The shared layout of `places`; a dict of its own beyond `SHARED_UP_TO` buckets."""
    if len(places) > SHARED_UP_TO:
        return dict(places)
    found = _layouts.get(places)
    if found is None:
        found = _layouts[places] = Layout(places)
    return found


NO_BUCKETS = layout_of(())  # (kept here: the registry holds layouts weakly)


def moved(open_: Layout, key: BucketKey, at: int | None) -> dict[BucketKey, int]:
    """The mapping `open_` with `key` added at place `at`, or taken away (`at` None)."""
    step = (id(open_), key, at)
    cached = _moves.get(step)
    if cached is not None and cached[0] is open_:
        return cached[1]
    if at is None:
        result = layout_of(tuple(item for item in open_.items() if item[0] != key))
    else:
        result = layout_of((*open_.items(), (key, at)))
    if type(result) is Layout:  # (a dict of its own is one series' alone: never handed on)
        if len(_moves) >= _MOVES_KEPT:
            _moves.clear()
        _moves[step] = (open_, result)
    return result
