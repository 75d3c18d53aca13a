"""Checks every registered vendor plug-in must pass, driven by the registry (exporter.vendors).

`missing(plugin)` names the pieces a vendor lacks (simulator twin, expected values, dashboard,
docs sections, demo target); `against_twin(plugin, tmp)` runs one target of the vendor's demo
against its twin over loopback and returns the exporter's counters and the twin's ground truth.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from exporter.config.load import load_config
from exporter.daemon import Daemon
from exporter.http.server import serve
from exporter.plugin import Plugin
from exporter.simulator.app import SimulatorConfig, create_app
from exporter.simulator.compare import SeriesKey, counters
from exporter.simulator.faults import FaultInjector
from exporter.simulator.twin import Frame

ROOT = Path(__file__).resolve().parents[1]
SETTLE_POLLS = 12  # polls of a demo target against a frozen twin before its counters must settle


def _headings(path: Path) -> set[str]:
    """The `##` headings of a Markdown file, lower-cased, without backticks."""
    if not path.is_file():
        return set()
    text = path.read_text(encoding="utf-8")
    return {
        m.group(1).replace("`", "").strip().lower() for m in re.finditer(r"^## (.+)$", text, re.M)
    }


def missing(plugin: Plugin[Any], root: Path = ROOT) -> list[str]:
    """What the vendor lacks, one line per piece; empty when it is complete."""
    kind = plugin.kind
    out: list[str] = []
    routes = plugin.twin.mounter()(
        Frame(1, 0, 0, None, dict(plugin.twin.default_keys), FaultInjector(), lambda: 0)
    ).routes
    paths = {getattr(route, "path", "") for route in routes}
    if f"/_sim/{kind}/truth" not in paths or len(paths) < 2:
        out.append(f"{kind}: no simulator twin (its API's routes and /_sim/{kind}/truth)")
    if plugin.twin.oracle() is None:
        out.append(f"{kind}: no expected values (Twin.expected, from its expected.py)")
    if not (root / "grafana" / "dashboards" / f"{kind}.json").is_file():
        out.append(f"{kind}: no dashboard (grafana/dashboards/{kind}.json)")
    page = root / "docs" / "metrics" / f"{kind}.md"
    if not page.is_file() or not page.read_text().startswith(f"# `{kind}`: {plugin.title}\n"):
        out.append(f"{kind}: no docs/metrics/{kind}.md page (make docs)")
    if f"kind: {kind}" not in _headings(root / "docs" / "configuration.md"):
        out.append(f"{kind}: no docs/configuration.md section (## `kind: {kind}`)")
    if kind not in _headings(root / "docs" / "upstreams.md"):
        out.append(f"{kind}: no docs/upstreams.md section")
    if not plugin.demo.sources or any(s.get("kind") != kind for s in plugin.demo.sources):
        out.append(f"{kind}: no demo target (Plugin.demo.sources)")
    return out


async def _against_twin(
    plugin: Plugin[Any], tmp: Path, target: int
) -> tuple[dict[SeriesKey, float], dict[SeriesKey, float]]:
    keys = dict(plugin.demo.keys or plugin.twin.default_keys)
    simulator = await serve(
        create_app(SimulatorConfig(seed=11, keys={plugin.kind: keys})), "127.0.0.1", 0
    )
    try:
        url = f"http://127.0.0.1:{simulator.servers[0].sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient() as client:  # a settled twin: truth and reads agree
            await client.post(f"{url}/_sim/clock", json={"freeze": True})
        path = tmp / f"{plugin.kind}.yaml"
        entry = {**plugin.demo.sources[target], "base_url": url}
        path.write_text(yaml.safe_dump({"state_dir": str(tmp / "state"), "sources": [entry]}))
        config = load_config(path, env={"SIMULATOR_URL": url})
        source = config.sources[0]
        names = {f.name for f in plugin.families} | {f"{f.name}_total" for f in plugin.families}
        daemon = Daemon(config)
        try:
            # Polled until the counters settle: a read cut short by its request budget (the
            # Analytics API's share of 60 requests a minute, at the demo's 5 s interval) goes on
            # from there at the next poll, so one poll covers a month's hours only early on.
            got: dict[SeriesKey, Any] = {}
            for _ in range(SETTLE_POLLS):
                assert await daemon.poll_all(), "a poll of the demo target failed"
                exposition = daemon.state.exposition
                assert exposition is not None
                text = exposition.openmetrics.decode()
                read = {k: s for k, s in counters(text, source.name).items() if k[0] in names}
                settled = {k: s.value for k, s in read.items()} == {
                    k: s.value for k, s in got.items()
                }
                got = read
                if settled:
                    break
            else:
                raise AssertionError(f"the counters still moved after {SETTLE_POLLS} polls")
        finally:
            await daemon.aclose()
        expected = plugin.twin.oracle()
        assert expected is not None, f"{plugin.kind}: no expected values"
        truth = await asyncio.to_thread(expected, url, source, keys[source.secret()], got)
        return {k: s.value for k, s in got.items()}, truth
    finally:
        simulator.should_exit = True
        await simulator.task


def against_twin(
    plugin: Plugin[Any], tmp: Path, target: int = 0
) -> tuple[dict[SeriesKey, float], dict[SeriesKey, float]]:
    """(the exporter's counters, the twin's truth) for the vendor's demo target number `target`
    (every demo target is one way of reading the vendor: an API, a grouping)."""
    return asyncio.run(_against_twin(plugin, tmp, target))
