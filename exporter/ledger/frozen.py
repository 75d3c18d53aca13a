"""A dict that refuses to change: one object shared by many series (their empty period sums,
their layout of open buckets), so a write through one of them would change them all. A series
that needs another value takes another object instead."""

from __future__ import annotations

from typing import NoReturn, TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenDict(dict[_K, _V]):
    """A dict that raises `TypeError` on every change (`why` says what to do instead)."""

    __slots__ = ()
    why = "a shared dict: a series takes another one instead"

    def _refuse(self) -> NoReturn:
        raise TypeError(self.why)

    def __setitem__(self, key: _K, value: _V) -> None:
        self._refuse()

    def __delitem__(self, key: _K) -> None:
        self._refuse()

    def pop(self, *args: object) -> _V:
        self._refuse()

    def popitem(self) -> tuple[_K, _V]:
        self._refuse()

    def setdefault(self, *args: object) -> _V:
        self._refuse()

    def update(self, *args: object, **kwargs: object) -> None:
        self._refuse()

    def clear(self) -> None:
        self._refuse()

    def __ior__(self, other: object) -> NoReturn:  # type: ignore[misc]
        self._refuse()
