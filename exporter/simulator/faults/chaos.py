"""Chaos: random faults, a seeded draw per call with a given probability, dealt so that every
sort of fault comes up on every vendor within a few dozen faults."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exporter.simulator.faults.kinds import KINDS, VARIANTS, Fault


@dataclass(frozen=True, slots=True)
class Card:
    """One sort of fault chaos deals."""

    kind: str
    status: int = 500
    retry_after: float | None = None
    variant: str = ""


CARDS = (
    Card("status", 429, retry_after=1),
    Card("status", 429),
    Card("status", 500),
    Card("status", 502),
    Card("status", 503),
    Card("delay"),
    Card("reset"),
    Card("truncate"),
    Card("malformed"),
    Card("page_error"),
    Card("drift"),
    Card("types"),
    Card("missing", variant="required"),
    Card("missing", variant="quantity"),
    Card("extra"),
    Card("revise_up"),
    Card("revise_down"),
)


@dataclass
class Chaos:
    """Random faults: each admitted call meets one with probability `rate`, drawn from a
    `random.Random(seed)`. The sort is drawn among those that apply to the call and have been
    dealt least often on its vendor, so every sort comes up within a few dozen faults.
    `upstreams`: the vendor kinds chaos is on for (None: all), the key `/_sim/chaos` takes."""

    rate: float
    seed: int
    delay_seconds: float = 10.0
    recent: int = 3600
    kinds: frozenset[str] = frozenset(KINDS)
    upstreams: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()  # `kind`, `label` or `upstream:label` never dealt
    rng: random.Random = field(init=False)
    dealt: Counter[tuple[str, Card]] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Chaos:
        rate = float(raw.get("rate", 0.1))
        if not 0 <= rate <= 1:
            raise ValueError(f"rate {rate} is not a probability")
        kinds = frozenset(str(k) for k in raw.get("kinds", KINDS))
        if kinds - set(KINDS):
            raise ValueError(f"unknown fault kinds {sorted(kinds - set(KINDS))}")
        upstreams = raw.get("upstreams")
        exclude = frozenset(str(e) for e in raw.get("exclude", ()))
        return cls(
            rate=rate,
            seed=int(raw.get("seed", 1)),
            delay_seconds=float(raw.get("delay_seconds", 10.0)),
            recent=int(raw.get("recent", 3600)),
            kinds=kinds,
            upstreams=frozenset(str(u) for u in upstreams) if upstreams is not None else None,
            exclude=exclude,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "delay_seconds": self.delay_seconds,
            "recent": self.recent,
            "kinds": sorted(self.kinds),
            "upstreams": sorted(self.upstreams) if self.upstreams is not None else None,
            "exclude": sorted(self.exclude),
        }

    def draw(self, kind: str, applies: Callable[[str], bool]) -> Fault | None:
        """The fault a call to vendor `kind` meets, if any; `applies(fault_kind)` says which
        kinds of fault the call can meet."""
        if self.upstreams is not None and kind not in self.upstreams:
            return None
        if self.rng.random() >= self.rate:
            return None
        faults: dict[Card, list[Fault]] = {}
        for card in CARDS:
            if card.kind in self.kinds and applies(card.kind):
                allowed = [f for f in self._faults(kind, card) if self._allowed(f)]
                if allowed:
                    faults[card] = allowed
        if not faults:
            return None
        least = min(self.dealt[(kind, c)] for c in faults)
        card = self.rng.choice([c for c in faults if self.dealt[(kind, c)] == least])
        self.dealt[(kind, card)] += 1
        return self.rng.choice(faults[card])

    def _faults(self, kind: str, card: Card) -> list[Fault]:
        """The card's fault, one per variant when the card leaves the variant open."""
        return [
            Fault(
                kind=card.kind,
                upstream=kind,
                status=card.status,
                retry_after=card.retry_after,
                seconds=self.delay_seconds if card.kind == "delay" else 0.0,
                variant=variant,
                recent=self.recent,
            )
            for variant in ((card.variant,) if card.variant else VARIANTS.get(card.kind, ("",)))
        ]

    def _allowed(self, fault: Fault) -> bool:
        names = (fault.kind, fault.label)
        return not any(n in self.exclude or f"{fault.upstream}:{n}" in self.exclude for n in names)
