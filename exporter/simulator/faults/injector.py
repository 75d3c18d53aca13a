"""`FaultInjector`: the one place that decides whether a call meets a fault and which (a queued
one, each consumed by one matching call, or chaos's draw), applies a revision before the call
is answered, and keeps the counts `/_sim/stats` reports."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from exporter.simulator.faults.chaos import Chaos
from exporter.simulator.faults.kinds import BODY_KINDS, CURSORS, REVISIONS, Fault
from exporter.simulator.faults.respond import Responder
from exporter.simulator.twin import Reviser


@dataclass
class FaultInjector(Responder):
    """Queued faults, chaos, the vendors' revisers and what was injected, by vendor kind; it
    also answers a call that met a fault (`Responder.respond`)."""

    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # by path
    calls: Counter[str] = field(default_factory=Counter)  # by vendor kind
    injected: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    without_effect: Counter[str] = field(default_factory=Counter)
    chaos: Chaos | None = None
    revisers: dict[str, Reviser] = field(default_factory=dict)
    drifting: set[str] = field(default_factory=set)  # kinds whose answers `drift` rewrites
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def add(self, raw: list[dict[str, Any]], kind: str) -> None:
        """Queue faults as POSTed; `kind`: the vendor of those that name none."""
        self.faults.extend(Fault.parse(f, kind) for f in raw)

    def start_chaos(self, raw: dict[str, Any]) -> Chaos | None:
        chaos = Chaos.parse(raw)
        self.chaos = chaos if chaos.rate > 0 else None
        self.rng = random.Random(chaos.seed)
        return self.chaos

    def admit(
        self, kind: str, request: Request, who: str | Response, *, json_answer: bool = True
    ) -> tuple[str, Fault | None] | Response:
        """A call the upstream rejects (auth, unknown bucket) is counted and answered as it is;
        an admitted one (`who`: the org, engine or account) may meet a queued fault or, with
        chaos on, a random one. A revision is applied here, before the call is answered."""
        self.calls[kind] += 1
        if isinstance(who, Response):
            self.requests[request.url.path] += 1
            return who
        return who, self.take(kind, request, who, json_answer=json_answer)

    def take(
        self, kind: str, request: Request, who: str = "", *, json_answer: bool = True
    ) -> Fault | None:
        path = request.url.path
        self.requests[path] += 1
        cursor = any(name in request.query_params for name in CURSORS)

        def applies(fault_kind: str) -> bool:
            if fault_kind == "page_error":
                return cursor
            if fault_kind == "drift":
                return kind in self.drifting
            if fault_kind in REVISIONS:
                return kind in self.revisers
            return json_answer or fault_kind not in BODY_KINDS

        fault = self._queued(kind, path, applies)
        if fault is None and self.chaos is not None:
            fault = self.chaos.draw(kind, applies)
        if fault is None:
            return None
        if fault.kind in REVISIONS:
            reviser = self.revisers.get(kind)
            up = fault.kind == "revise_up"
            fault.effect = reviser is not None and reviser(who, request, up, self.rng)
            if not fault.effect:
                self.without_effect[fault.label] += 1
        self.injected[fault.kind] += 1
        self.variants[fault.label] += 1
        self.by_kind.setdefault(kind, Counter())[fault.kind] += 1
        return fault

    def _queued(self, kind: str, path: str, applies: Callable[[str], bool]) -> Fault | None:
        for fault in self.faults:
            if fault.upstream != kind or fault.path_contains not in path:
                continue
            if fault.kind == "page_error" and not applies("page_error"):
                continue
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return replace(fault, count=1)
        return None

    def stats(self) -> dict[str, Any]:
        """What `/_sim/stats` reports (its keys say `upstream` for the vendor kind)."""
        return {
            "requests": dict(self.requests),
            "calls_by_upstream": dict(sorted(self.calls.items())),
            "faults_injected": dict(self.injected),
            "faults_by_variant": dict(sorted(self.variants.items())),
            "faults_by_upstream": {k: dict(c) for k, c in sorted(self.by_kind.items())},
            "faults_without_effect": dict(self.without_effect),
            "pending": len(self.faults),
            "chaos": self.chaos.describe() if self.chaos is not None else None,
        }
