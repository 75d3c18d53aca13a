"""What the commands `run`, `once`, `focus` and `demo` do, once `exporter.cli` has parsed their
flags and loaded the configuration."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from exporter.cli.process import favour_the_event_loop, serve_until_stopped
from exporter.config.load import Config
from exporter.daemon import LEDGER_FILE, Daemon
from exporter.focus.columns import MonthError
from exporter.focus.export import FocusExport
from exporter.focus.writers import FormatUnavailable, chunks
from exporter.http.listener_process import ListenerProcessError, ListenerSettings
from exporter.http.webconfig import WebConfigFile, load_web_config
from exporter.sharding import Shard


def run(
    config: Config,
    listen: str,
    web_config: Path | None,
    shard: Shard | None = None,
    *,
    config_path: Path | None = None,
    enable_lifecycle: bool = False,
    listener_process: tuple[str, str] | None = None,
) -> int:
    """`usage-exporter run`: poll and serve until a signal; SIGHUP reloads `config_path`.
    `listener_process` (log level, log format): serve HTTP from a process of its own."""
    web = load_web_config(web_config) if web_config is not None else None  # refused here first
    favour_the_event_loop()
    listener = None
    if listener_process is not None:
        level, fmt = listener_process
        focus = FocusExport(Path(config.state_dir) / LEDGER_FILE, int(config.cost_history_months))
        listener = ListenerSettings(listen, web_config, enable_lifecycle, level, fmt, focus)
    try:
        return asyncio.run(
            _run(config, listen, web, shard, config_path, enable_lifecycle, listener)
        )
    except ListenerProcessError as err:
        print(f"usage-exporter: {err}", file=sys.stderr)
        return 1


async def _run(
    config: Config,
    listen: str,
    web: WebConfigFile | None,
    shard: Shard | None,
    config_path: Path | None,
    enable_lifecycle: bool,
    listener: ListenerSettings | None,
) -> int:
    daemon = Daemon(config, shard=shard)
    served = await serve_until_stopped(
        daemon,
        listen,
        web,
        config_path=config_path,
        enable_lifecycle=enable_lifecycle,
        listener=listener,
    )
    return 0 if served else 1


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
