"""The simulator's clock: wall time, or frozen so that every read answers the same."""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self._frozen: float | None = None

    def now(self) -> float:
        return self._frozen if self._frozen is not None else time.time()

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self, at: float | None = None) -> None:
        self._frozen = time.time() if at is None else float(at)

    def unfreeze(self) -> None:
        self._frozen = None
