"""The registry of vendor plug-ins: the one place in the exporter that lists the vendors.

Everything vendor-specific the core needs (the config's `kind`s, metric tables, constructors, the
simulator's twins and `--<kind>-key` flags, the demo's targets, the reference docs) is read from
here. A vendor is one package, `exporter/vendors/<kind>/`, exporting `PLUGIN`
(CONTRIBUTING.md, "Adding an upstream"). A vendor may also live outside this repository: an
installed distribution that declares an entry point in the group `usage_exporter.vendors`
(`<kind> = "package.module:PLUGIN"`) is registered after the built-in ones, at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from exporter.plugin import Plugin
from exporter.vendors import anthropic, anylayer, arthur, openai, telnyx

# In this order in docs/metrics.md, the simulator's routes and `simulate --help`.
REGISTRY: list[Plugin[Any]] = [
    openai.PLUGIN,
    arthur.PLUGIN,
    telnyx.PLUGIN,
    anylayer.PLUGIN,
    anthropic.PLUGIN,
]

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


def register(new: Plugin[Any]) -> None:
    """Add a plug-in (a vendor outside this package, or a test's); its `kind` must be new."""
    if new.kind in kinds():
        raise ValueError(f"a plug-in of kind {new.kind!r} is already registered")
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
        if loaded.kind in kinds() or loaded.kind in {p.kind for p in found}:
            raise PluginError(f"{where}: kind {loaded.kind!r} is already registered")
        found.append(loaded)
    return found


REGISTRY.extend(installed())
