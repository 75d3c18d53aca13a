"""The registry of vendor plug-ins: the one place in the exporter that lists the vendors.

Everything vendor-specific the core needs (the config's `kind`s, metric tables, constructors, the
simulator's twins and `--<kind>-key` flags, the demo's targets, the reference docs) is read from
here. A vendor is one package, `exporter/vendors/<kind>/`, exporting `PLUGIN`
(CONTRIBUTING.md, "Adding an upstream").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from exporter.plugin import Plugin
from exporter.vendors import anylayer, arthur, openai, telnyx

# In this order in docs/metrics.md, the simulator's routes and `simulate --help`.
REGISTRY: list[Plugin[Any]] = [openai.PLUGIN, arthur.PLUGIN, telnyx.PLUGIN, anylayer.PLUGIN]


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
