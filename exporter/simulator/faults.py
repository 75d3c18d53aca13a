"""Faults the simulator injects: queued ones, each consumed by one matching call, and random ones
("chaos": a seeded draw per call with a given probability). `FaultQueue.admit` is the one place
that decides whether a call meets a fault and which; `FaultQueue.respond` makes its answer.

Kinds:

- `status`: an error status (429 with or without `Retry-After`, 5xx) with the upstream's envelope.
- `delay`: answer after `seconds` (longer than the client's timeout: a timeout).
- `truncate`, `reset`: half the body, then the end of the body or a dropped connection.
- `malformed`: a 200 that is not JSON (variants `syntax`, `html`, `empty`).
- `drift`: unknown fields and amounts as strings (for the upstreams whose twin says it applies).
- `page_error`: a 500 on a call that follows a pagination cursor (`page` or `offset`).
- `types`: counted numbers of the wrong JSON type (variants `string`, `list`, `bool`, `object`).
- `missing`: variant `required` drops a field no reader can do without (bucket times, the data
  list, a row's counts); variant `quantity` drops one counted field from the records of recent
  buckets (started within `recent` seconds), which a reader takes as no usage until it returns.
- `extra`: unknown fields added to every object.
- `revise_up`, `revise_down`: a late revision of a closed, final minute of the called stream's
  usage, done before the call is answered (the answer and the ground truth both show it).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

KINDS = (
    "status",
    "delay",
    "truncate",
    "malformed",
    "reset",
    "drift",
    "page_error",
    "types",
    "missing",
    "extra",
    "revise_up",
    "revise_down",
)
VARIANTS = {
    "malformed": ("syntax", "html", "empty"),
    "types": ("string", "list", "bool", "object"),
    "missing": ("required", "quantity"),
}
REVISIONS = frozenset({"revise_up", "revise_down"})
BODY_KINDS = frozenset({"drift", "types", "missing", "extra"})  # they rewrite a JSON answer
CURSORS = ("page", "offset")  # query parameters that follow pagination

_MALFORMED = {
    "syntax": b'{"object": "page", "data": [,]}',
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "empty": b"",
}

# A reviser applies a late revision for one upstream: (who, request, up, rng) -> applied?
Reviser = Callable[[str, Request, bool, random.Random], bool]


@dataclass
class Fault:
    kind: str
    upstream: str = ""
    path_contains: str = ""
    count: int = 1
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    variant: str = ""
    recent: int = 3600  # `missing` `quantity`: only records of buckets this young
    effect: bool = True  # False once the fault found nothing to change

    @classmethod
    def parse(cls, raw: dict[str, Any], upstream: str) -> Fault:
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
        variant = str(raw.get("variant", VARIANTS.get(kind, ("",))[0]))
        if variant not in VARIANTS.get(kind, ("",)):
            raise ValueError(f"unknown variant {variant!r} of fault kind {kind!r}")
        return cls(
            kind=kind,
            upstream=str(raw.get("upstream", upstream)),
            path_contains=str(raw.get("path_contains", "")),
            count=int(raw.get("count", 1)),
            status=int(raw.get("status", 500)),
            retry_after=raw.get("retry_after"),
            seconds=float(raw.get("seconds", 0)),
            variant=variant,
            recent=int(raw.get("recent", 3600)),
        )

    @property
    def label(self) -> str:
        """The kind with what sets it apart: `status:429+retry-after`, `types:list`."""
        if self.kind == "status":
            after = "+retry-after" if self.retry_after is not None and self.status == 429 else ""
            return f"status:{self.status}{after}"
        if self.kind == "delay":
            return f"delay:{self.seconds:g}s"
        return f"{self.kind}:{self.variant}" if self.variant else self.kind


@dataclass(frozen=True, slots=True)
class Shape:
    """What body faults need to know of an upstream's JSON answers.

    `quantities`: the counted fields (an object holding one is a record). `required`: fields a
    reader cannot do without. A record's time is its own `start_time` or `timestamp`, or the
    nearest enclosing object's, or the time the call asked for (windows asked for by time).
    """

    quantities: frozenset[str]
    required: tuple[str, ...]


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
    dealt least often on its upstream, so every sort comes up within a few dozen faults."""

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

    def draw(self, upstream: str, applies: Callable[[str], bool]) -> Fault | None:
        if self.upstreams is not None and upstream not in self.upstreams:
            return None
        if self.rng.random() >= self.rate:
            return None
        faults: dict[Card, list[Fault]] = {}
        for card in CARDS:
            if card.kind in self.kinds and applies(card.kind):
                allowed = [f for f in self._faults(upstream, card) if self._allowed(f)]
                if allowed:
                    faults[card] = allowed
        if not faults:
            return None
        least = min(self.dealt[(upstream, c)] for c in faults)
        card = self.rng.choice([c for c in faults if self.dealt[(upstream, c)] == least])
        self.dealt[(upstream, card)] += 1
        return self.rng.choice(faults[card])

    def _faults(self, upstream: str, card: Card) -> list[Fault]:
        """The card's fault, one per variant when the card leaves the variant open."""
        return [
            Fault(
                kind=card.kind,
                upstream=upstream,
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


@dataclass
class FaultQueue:
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)  # by upstream
    injected: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    by_upstream: dict[str, Counter[str]] = field(default_factory=dict)
    without_effect: Counter[str] = field(default_factory=Counter)
    chaos: Chaos | None = None
    revisers: dict[str, Reviser] = field(default_factory=dict)
    drifting: set[str] = field(default_factory=set)  # upstreams whose answers `drift` rewrites
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def add(self, raw: list[dict[str, Any]], upstream: str) -> None:
        self.faults.extend(Fault.parse(f, upstream) for f in raw)

    def start_chaos(self, raw: dict[str, Any]) -> Chaos | None:
        chaos = Chaos.parse(raw)
        self.chaos = chaos if chaos.rate > 0 else None
        self.rng = random.Random(chaos.seed)
        return self.chaos

    def admit(
        self, upstream: str, request: Request, who: str | Response, *, json_answer: bool = True
    ) -> tuple[str, Fault | None] | Response:
        """A call the upstream rejects (auth, unknown bucket) is counted and answered as it is;
        an admitted one (`who`: the org, engine or account) may meet a queued fault or, with
        chaos on, a random one. A revision is applied here, before the call is answered."""
        self.calls[upstream] += 1
        if isinstance(who, Response):
            self.requests[request.url.path] += 1
            return who
        return who, self.take(upstream, request, who, json_answer=json_answer)

    def take(
        self, upstream: str, request: Request, who: str = "", *, json_answer: bool = True
    ) -> Fault | None:
        path = request.url.path
        self.requests[path] += 1
        cursor = any(name in request.query_params for name in CURSORS)

        def applies(kind: str) -> bool:
            if kind == "page_error":
                return cursor
            if kind == "drift":
                return upstream in self.drifting
            if kind in REVISIONS:
                return upstream in self.revisers
            return json_answer or kind not in BODY_KINDS

        fault = self._queued(upstream, path, applies)
        if fault is None and self.chaos is not None:
            fault = self.chaos.draw(upstream, applies)
        if fault is None:
            return None
        if fault.kind in REVISIONS:
            reviser = self.revisers.get(upstream)
            up = fault.kind == "revise_up"
            fault.effect = reviser is not None and reviser(who, request, up, self.rng)
            if not fault.effect:
                self.without_effect[fault.label] += 1
        self.injected[fault.kind] += 1
        self.variants[fault.label] += 1
        self.by_upstream.setdefault(upstream, Counter())[fault.kind] += 1
        return fault

    def _queued(self, upstream: str, path: str, applies: Callable[[str], bool]) -> Fault | None:
        for fault in self.faults:
            if fault.upstream != upstream or fault.path_contains not in path:
                continue
            if fault.kind == "page_error" and not applies("page_error"):
                continue
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return replace(fault, count=1)
        return None

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "calls_by_upstream": dict(sorted(self.calls.items())),
            "faults_injected": dict(self.injected),
            "faults_by_variant": dict(sorted(self.variants.items())),
            "faults_by_upstream": {u: dict(c) for u, c in sorted(self.by_upstream.items())},
            "faults_without_effect": dict(self.without_effect),
            "pending": len(self.faults),
            "chaos": self.chaos.describe() if self.chaos is not None else None,
        }

    async def respond(
        self,
        fault: Fault | None,
        error_body: dict[str, Any] | str,
        answer: Callable[[], Awaitable[Any]],
        *,
        shape: Shape | None = None,
        now: int = 0,
        when: int | None = None,
    ) -> Response:
        """The response for a call: the fault's, or `answer()` (JSON data, or a ready Response).

        `shape` describes the upstream's JSON for body faults; `now` is the simulator's time and
        `when` the time a record without its own time belongs to.
        """
        if fault is None or fault.kind in REVISIONS:
            return _render(await answer())
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return _render(await answer())
        if fault.kind in ("status", "page_error"):
            status = fault.status if fault.kind == "status" else 500
            headers = {}
            if status == 429 and fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            if isinstance(error_body, str):
                return Response(error_body, status, headers, media_type="application/xml")
            return JSONResponse(error_body, status_code=status, headers=headers)
        data = await answer()
        if isinstance(data, Response):
            body, media_type = bytes(data.body), data.media_type
        else:
            body, media_type = json.dumps(data).encode(), "application/json"
        if fault.kind == "truncate":
            return Response(body[: len(body) // 2], media_type=media_type)
        if fault.kind == "malformed":
            return Response(_MALFORMED[fault.variant or "syntax"], media_type=media_type)
        if fault.kind == "reset":

            async def broken() -> AsyncIterator[bytes]:  # start the body, drop the connection
                yield body[: len(body) // 2]
                raise ConnectionResetError("simulated reset mid-body")

            return StreamingResponse(broken(), media_type=media_type)
        if isinstance(data, Response):  # a body fault on an answer that is not JSON
            fault.effect = False
            self.without_effect[fault.label] += 1
            return data
        data = json.loads(body)  # a copy to rewrite
        if fault.kind == "drift":
            return JSONResponse(_drift(data))
        fault.effect = rewrite(data, fault, shape or Shape(frozenset(), ()), now, when, self.rng)
        if not fault.effect:
            self.without_effect[fault.label] += 1
        return JSONResponse(data)


def _render(data: Any) -> Response:
    return data if isinstance(data, Response) else JSONResponse(data)


def _drift(value: Any) -> Any:
    """Unknown fields everywhere, amounts as strings: what a drifting schema looks like."""
    if isinstance(value, dict):
        out = {k: _drift(v) for k, v in value.items()}
        if out.get("object") in ("bucket",) or str(out.get("object", "")).endswith(".result"):
            out["x_added_in_a_future_version"] = {"nested": True}
        if "currency" in out and isinstance(out.get("value"), float):
            out["value"] = repr(out["value"])
        return out
    if isinstance(value, list):
        return [_drift(v) for v in value]
    return value


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _time(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return int(parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).timestamp())
    return None


def _records(
    value: Any, shape: Shape, when: int | None
) -> Iterator[tuple[dict[str, Any], int | None]]:
    """Every object holding a counted field, with the time of the bucket it belongs to."""
    if isinstance(value, dict):
        own = _time(value.get("start_time", value.get("timestamp")))
        when = own if own is not None else when
        if not shape.quantities.isdisjoint(value):
            yield value, when
        for item in value.values():
            yield from _records(item, shape, when)
    elif isinstance(value, list):
        for item in value:
            yield from _records(item, shape, when)


def _wrong_type(value: float, variant: str) -> Any:
    if variant == "string":
        return str(value)
    if variant == "list":
        return [value]
    if variant == "bool":
        return value != 0
    return {"value": value}


_EXTRA_VALUES: tuple[Any, ...] = ({"nested": {"deeper": [1, "two"]}}, "text", 7, 0.5, None, [])


def rewrite(
    data: Any, fault: Fault, shape: Shape, now: int, when: int | None, rng: random.Random
) -> bool:
    """Apply a `types`, `missing` or `extra` fault to decoded JSON in place; False if there was
    nothing to change."""
    if fault.kind == "extra":
        objects = list(_objects(data))
        for obj in objects:
            obj[f"x_soak_{rng.randrange(1000)}"] = copy.deepcopy(rng.choice(_EXTRA_VALUES))
        return bool(objects)
    if fault.kind == "types":
        changed = False
        for record, _ in list(_records(data, shape, when)):  # collected before rewriting
            for name in shape.quantities.intersection(record):
                value = record[name]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    record[name] = _wrong_type(value, fault.variant or "string")
                    changed = True
        return changed
    if fault.kind == "missing" and fault.variant == "quantity":
        young = [
            r for r, t in _records(data, shape, when) if t is not None and t >= now - fault.recent
        ]
        names = sorted({n for r in young for n in shape.quantities.intersection(r)})
        if not names:
            return False
        name = rng.choice(names)
        for record in young:
            record.pop(name, None)
        return True
    if fault.kind == "missing":
        objects = list(_objects(data))
        present = sorted({n for obj in objects for n in shape.required if n in obj})
        if not present:
            return False
        name = rng.choice(present)
        for obj in objects:
            obj.pop(name, None)
        return True
    return False
