"""The registry of vendor plug-ins: the one place in the exporter that lists the vendors.

Everything vendor-specific the core needs (the config's `kind`s, metric tables, constructors, the
simulator's twins and `--<kind>-key` flags, the demo's targets, the reference docs) is read from
here. A vendor is one package, `exporter/vendors/<kind>/`, exporting `PLUGIN`
(CONTRIBUTING.md, "Adding an upstream"). A vendor may also live outside this repository: an
installed distribution that declares an entry point in the group `usage_exporter.vendors`
(`<kind> = "package.module:PLUGIN"`) is registered after the built-in ones, at import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from exporter.model import Kind
from exporter.plugin import Plugin
from exporter.selfmetrics import SELF_FAMILIES
from exporter.vendors import anthropic, anylayer, arthur, openai, telnyx

# In this order in docs/metrics/, the simulator's routes and `simulate --help` (filled below,
# through `register`, so the built-in plug-ins pass its checks too).
REGISTRY: list[Plugin[Any]] = []

ENTRY_POINT_GROUP = "usage_exporter.vendors"


class PluginError(Exception):
    """An installed vendor plug-in that cannot be registered: the message names it and why."""


def plugins() -> tuple[Plugin[Any], ...]:
    """The registered plug-ins, in registry order."""
    return tuple(REGISTRY)


def kinds() -> tuple[str, ...]:
    """Every registered `kind`."""
    return tuple(p.kind for p in REGISTRY)


def plugin(kind: str) -> Plugin[Any]:
    """The plug-in of a `kind`; KeyError when none is registered."""
    for candidate in REGISTRY:
        if candidate.kind == kind:
            return candidate
    raise KeyError(kind)


def refusal(new: Plugin[Any], registered: Iterable[Plugin[Any]]) -> str:
    """Why `new` cannot join `registered` ("" when it can): its kind is taken, a family is not
    named `<kind>_...`, is neither a counter nor a gauge, or has the name of a family already
    exported (another plug-in's, or a self-metric's). Names are checked as Prometheus sees them:
    a counter `x_total` is the family `x`."""
    others = list(registered)
    if new.kind in {p.kind for p in others}:
        return f"a plug-in of kind {new.kind!r} is already registered"
    taken = {f.base_name: "the self-metrics" for f in SELF_FAMILIES}
    for other in others:
        taken.update({f.base_name: f"plug-in {other.kind!r}" for f in other.families})
    for family in new.families:
        if not family.name.startswith(f"{new.kind}_"):
            return f"family {family.name!r} is not named {new.kind}_...: its kind's prefix"
        if family.kind not in (Kind.COUNTER, Kind.GAUGE):
            return (
                f"family {family.name!r} is a {family.kind}: a plug-in exports counters and gauges"
            )
        if family.base_name in taken:
            return f"family {family.name!r} is already exported by {taken[family.base_name]}"
        taken[family.base_name] = f"plug-in {new.kind!r}"
    return ""


def register(new: Plugin[Any]) -> None:
    """Add a plug-in (a vendor outside this package, or a test's); ValueError when `refusal`
    names a reason (a collision found now, not in a scrape)."""
    reason = refusal(new, REGISTRY)
    if reason:
        raise ValueError(reason)
    REGISTRY.append(new)


def unregister(kind: str) -> None:
    REGISTRY.remove(plugin(kind))


@contextmanager
def registered(new: Plugin[Any]) -> Iterator[Plugin[Any]]:
    """`register` for the length of a `with` block."""
    register(new)
    try:
        yield new
    finally:
        unregister(new.kind)


def installed() -> list[Plugin[Any]]:
    """The plug-ins installed distributions declare in `ENTRY_POINT_GROUP`, by name. A plug-in
    that does not load, is not a `Plugin`, or whose `kind` differs from its entry point's name
    is an error: a vendor silently missing would leave its targets unknown."""
    found: list[Plugin[Any]] = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        where = f"vendor plug-in {point.name!r} ({point.value}, group {ENTRY_POINT_GROUP})"
        try:
            loaded = point.load()
        except Exception as err:  # any error of foreign code: named, with its cause
            raise PluginError(f"{where} failed to load: {type(err).__name__}: {err}") from err
        if not isinstance(loaded, Plugin):
            raise PluginError(f"{where} is a {type(loaded).__name__}, not exporter.plugin.Plugin")
        if loaded.kind != point.name:
            raise PluginError(f"{where} has kind {loaded.kind!r}: the names must agree")
        reason = refusal(loaded, [*REGISTRY, *found])
        if reason:
            raise PluginError(f"{where}: {reason}")
        found.append(loaded)
    return found


for _builtin in (openai.PLUGIN, arthur.PLUGIN, telnyx.PLUGIN, anylayer.PLUGIN, anthropic.PLUGIN):
    register(_builtin)
REGISTRY.extend(installed())
