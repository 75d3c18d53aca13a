"""What the commands `run`, `once`, `focus` and `demo` do, once `exporter.cli` has parsed their
flags and loaded the configuration."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from exporter.cli.process import favour_the_event_loop, serve_until_stopped
from exporter.config.load import Config
from exporter.daemon import LEDGER_FILE, Daemon
from exporter.daemon.sharding import Shard
from exporter.focus.columns import MonthError
from exporter.focus.export import FocusExport
from exporter.focus.writers import FormatUnavailable, chunks
from exporter.http.listener_process import ListenerProcessError, ListenerSettings
from exporter.http.webconfig import load_web_config


@dataclass(frozen=True, slots=True)
class Serving:
    """How `run` serves HTTP, from its flags: the address, the web config file (TLS, basic
    auth), whether POST /-/reload is on, and the log level and format of a listener process of
    its own (None: HTTP is served from this process)."""

    listen: str
    web_config: Path | None = None
    enable_lifecycle: bool = False
    listener_process: tuple[str, str] | None = None


def run(
    config: Config, serving: Serving, shard: Shard | None = None, config_path: Path | None = None
) -> int:
    """`usage-exporter run`: poll and serve until a signal; SIGHUP reloads `config_path`."""
    web_config = serving.web_config
    web = load_web_config(web_config) if web_config is not None else None  # refused here first
    favour_the_event_loop()
    listener = None
    if serving.listener_process is not None:
        level, fmt = serving.listener_process
        focus = FocusExport(Path(config.state_dir) / LEDGER_FILE, int(config.cost_history_months))
        listener = ListenerSettings(
            serving.listen, web_config, serving.enable_lifecycle, level, fmt, focus
        )

    async def poll_and_serve() -> int:
        daemon = Daemon(config, shard=shard)
        served = await serve_until_stopped(
            daemon,
            serving.listen,
            web,
            config_path=config_path,
            enable_lifecycle=serving.enable_lifecycle,
            listener=listener,
        )
        return 0 if served else 1

    try:
        return asyncio.run(poll_and_serve())
    except ListenerProcessError as err:
        print(f"usage-exporter: {err}", file=sys.stderr)
        return 1


def once(config: Config, shard: Shard | None = None) -> int:
    """`usage-exporter once`: poll every target (of the shard) once, print the exposition, 1 if
    any failed."""

    async def main() -> int:
        daemon = Daemon(config, shard=shard)
        try:
            ok = await daemon.poll_all()
            exposition = daemon.state.exposition
            assert exposition is not None
            sys.stdout.write(exposition.text.decode("utf-8"))
            return 0 if ok else 1
        finally:
            await daemon.aclose()

    return asyncio.run(main())


def focus(config: Config, month: str, fmt: str, output: Path | None) -> int:
    """`usage-exporter focus`: one month's FOCUS dataset from the state file, read-only (safe
    while a daemon runs), to `output` (written whole, then renamed into place) or stdout."""
    export = FocusExport(Path(config.state_dir) / LEDGER_FILE, int(config.cost_history_months))
    try:
        dataset = export.dataset(month)
        body = chunks(dataset, fmt)
    except MonthError as err:
        print(f"usage-exporter: error: {err}", file=sys.stderr)
        return 2
    except FormatUnavailable as err:
        print(f"usage-exporter: error: {err}", file=sys.stderr)
        return 2
    if output is None:
        for chunk in body:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return 0
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as handle:
        for chunk in body:
            handle.write(chunk)
    os.replace(partial, output)
    return 0


def demo(listen: str, state_dir: Path | None) -> int:
    """`usage-exporter demo`: the simulator on loopback and the exporter against it."""
    from exporter.cli.demo import run_demo  # the simulator: loaded for the demo only

    return asyncio.run(run_demo(listen, state_dir))
