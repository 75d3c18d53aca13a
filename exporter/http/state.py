"""What the HTTP side serves from, apart from the server itself: the state the daemon swaps a new
snapshot into, and the listen address. The daemon's process imports this; only the process that
serves imports uvicorn and starlette (`server.py`): with the listener process, the default, the
daemon's process never does (bench/RESULTS.md, round three: memory)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from exporter.exposition.served import Exposition
from exporter.focus.export import FocusExport


@dataclass
class TargetStatus:
    name: str
    source: str
    up: bool
    polled: bool
    last_success: float | None
    last_error: str


@dataclass
class ServerState:
    exposition: Exposition | None = None
    targets: dict[str, TargetStatus] = field(default_factory=dict)
    shard: tuple[int, int] = (0, 1)  # (this process's shard, total shards)
    # POST /-/reload (--web.enable-lifecycle): reload the config; (ok, message)
    reload: Callable[[], Awaitable[tuple[bool, str]]] | None = None
    # told of every change by `changed()`: the listener process (exporter/http/listener_process.py)
    watchers: list[Callable[[ServerState], None]] = field(default_factory=list)
    # GET /focus/v1.2/cost-and-usage.{csv,parquet}: the FOCUS datasets (docs/finops.md)
    focus: FocusExport | None = None

    def changed(self) -> None:
        """The exposition or a target's status changed: tell the watchers."""
        for watcher in self.watchers:
            watcher(self)

    def shard_text(self) -> str:
        return f"shard {self.shard[0]} of {self.shard[1]}"

    def ready(self) -> bool:
        return all(t.polled for t in self.targets.values())


def parse_listen_address(value: str) -> tuple[str, int]:
    """`host:port`, `:port` (all interfaces) or `[v6]:port` into (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"listen address {value!r}: expected HOST:PORT, e.g. 127.0.0.1:9868")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)  # noqa: S104 - ":port" means every interface
