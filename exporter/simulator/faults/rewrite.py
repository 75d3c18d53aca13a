"""Body faults: a JSON answer rewritten the way a drifting or broken upstream would send it
(`drift`, `types`, `missing`, `extra`), guided by the twin's `Shape` of its answers."""

from __future__ import annotations

import copy
import datetime as dt
import random
from collections.abc import Iterable, Iterator
from typing import Any

from exporter.simulator.faults.kinds import Fault
from exporter.simulator.twin import Shape

_EXTRA_VALUES: tuple[Any, ...] = ({"nested": {"deeper": [1, "two"]}}, "text", 7, 0.5, None, [])


def drift(value: Any) -> Any:
    """Unknown fields everywhere, amounts as strings: what a drifting schema looks like."""
    if isinstance(value, dict):
        out = {k: drift(v) for k, v in value.items()}
        if out.get("object") in ("bucket",) or str(out.get("object", "")).endswith(".result"):
            out["x_added_in_a_future_version"] = {"nested": True}
        if "currency" in out and isinstance(out.get("value"), float):
            out["value"] = repr(out["value"])
        return out
    if isinstance(value, list):
        return [drift(v) for v in value]
    return value


def rewrite(
    data: Any, fault: Fault, shape: Shape, now: int, when: int | None, rng: random.Random
) -> bool:
    """Apply a `types`, `missing` or `extra` fault to decoded JSON in place; False if there was
    nothing to change. `now` is the simulator's time, `when` the time a record without its own
    time belongs to."""
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
        return _drop_one(young, shape.quantities, rng)
    if fault.kind == "missing":
        return _drop_one(list(_objects(data)), shape.required, rng)
    return False


def _drop_one(objects: list[dict[str, Any]], names: Iterable[str], rng: random.Random) -> bool:
    """Drop one of `names`, drawn among those present, from every object; False if none is."""
    present = sorted({n for obj in objects for n in names if n in obj})
    if not present:
        return False
    name = rng.choice(present)
    for obj in objects:
        obj.pop(name, None)
    return True


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
