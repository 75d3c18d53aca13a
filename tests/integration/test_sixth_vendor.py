"""A sixth vendor, added from outside the exporter (tests/sixth_vendor), without any core file
changed: registered, it is configured (its `kind` loads), simulated (its routes served over
loopback), polled by the daemon, exported on /metrics with its twin's ground truth, offered by
`simulate --tally-key` and the metrics reference's generator, held to the registry-driven
completeness checks (which name what it lacks), and, installed through an entry point, soaked
and crash-tested in real processes by the same tests as the built-in vendors."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from pathlib import Path

import httpx
import pytest

from exporter.cli.main import parser
from exporter.config.load import ConfigError, load_config
from exporter.daemon import Daemon
from exporter.exposition.reference import pages
from exporter.http.server import create_app as exporter_app
from exporter.http.server import serve
from exporter.simulator.app import SimulatorConfig, create_app
from exporter.simulator.compare import counters
from exporter.vendors import kinds, registered
from testkit import soak
from tests.integration.test_crash_safety import test_sigkill_mid_poll_leaves_every_vendor_exact
from tests.sixth_vendor import PLUGIN
from tests.sixth_vendor.install import install
from tests.vendor_checks import ROOT, missing

KEY, ACCOUNT = "tally-secret-key-6", "acct-six"


def config_file(tmp: Path, url: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"state_dir: {tmp / 'state'}\n"
        "sources:\n"
        f"  - {{kind: tally, name: six, base_url: '{url}', api_key: {KEY}, backfill: 1d}}\n"
    )
    return path


async def polled_and_scraped(tmp: Path) -> None:
    simulator = await serve(
        create_app(SimulatorConfig(seed=6, keys={"tally": {KEY: ACCOUNT}})), "127.0.0.1", 0
    )
    sim_url = f"http://127.0.0.1:{simulator.servers[0].sockets[0].getsockname()[1]}"
    try:
        async with httpx.AsyncClient() as client:
            await client.post(f"{sim_url}/_sim/clock", json={"freeze": True})
            refused = await client.get(f"{sim_url}/tally/v1/usage?start=0&end=1")
            assert refused.status_code == 401  # the twin's own route, served by the frame
            config = load_config(config_file(tmp, sim_url))
            assert [s.kind for s in config.sources] == ["tally"]
            daemon = Daemon(config)
            listener = await serve(exporter_app(daemon.state), "127.0.0.1", 0)
            port = listener.servers[0].sockets[0].getsockname()[1]
            try:
                assert await daemon.poll_all()
                answer = await client.get(
                    f"http://127.0.0.1:{port}/metrics",
                    headers={"Accept": "application/openmetrics-text; version=1.0.0"},
                )
            finally:
                listener.should_exit = True
                await listener.task
                await daemon.aclose()
        assert answer.status_code == 200
        got = {k: s for k, s in counters(answer.text, "six").items() if k[0].startswith("tally_")}
        expected = PLUGIN.twin.oracle()  # a callable, as a plug-in may still give it
        assert expected is not None
        truth = await asyncio.to_thread(expected, sim_url, config.sources[0], ACCOUNT, got)
        assert set(got) == set(truth) == {("tally_calls_total", frozenset())}
        value = got[("tally_calls_total", frozenset())].value
        assert value > 100 and math.isclose(value, truth[("tally_calls_total", frozenset())])
        assert 'usage_exporter_polls_total{result="success",source="tally",target="six"}' in (
            answer.text
        )
    finally:
        simulator.should_exit = True
        await simulator.task


def test_a_sixth_vendor_is_configured_simulated_polled_and_exported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kind must be one of"):
        load_config(config_file(tmp_path, "http://127.0.0.1:9"))  # not registered: unknown
    with registered(PLUGIN):
        asyncio.run(polled_and_scraped(tmp_path))
        flags = parser().parse_args(["simulate", "--tally-key", f"{KEY}={ACCOUNT}"])
        assert flags.tally_keys == [(KEY, ACCOUNT)]
        assert pages()["docs/metrics/tally.md"].startswith("# `tally`: Tally call counts\n")
    assert "tally" not in kinds()


def test_the_completeness_checks_name_what_the_sixth_vendor_lacks(tmp_path: Path) -> None:
    with registered(PLUGIN):
        lacks = missing(PLUGIN)
    assert sorted(line.split(": ", 1)[1].split(" (")[0] for line in lacks) == [
        "no dashboard",
        "no docs/configuration.md section",
        "no docs/metrics/tally.md page",
        "no docs/upstreams.md section",
    ]
    # given those pieces (in a copy of the tree's docs), nothing is missing ...
    (tmp_path / "grafana" / "dashboards").mkdir(parents=True)
    (tmp_path / "grafana" / "dashboards" / "tally.json").write_text("{}")
    (tmp_path / "docs" / "metrics").mkdir(parents=True)
    (tmp_path / "docs" / "metrics" / "tally.md").write_text("# `tally`: Tally call counts\n")
    for name, heading in (
        ("configuration.md", "## `kind: tally`"),
        ("upstreams.md", "## Tally"),
    ):
        text = (ROOT / "docs" / name).read_text()
        (tmp_path / "docs" / name).write_text(f"{text}\n{heading}\n")
    assert missing(PLUGIN, tmp_path) == []
    # ... and a twin without expected values, or a plug-in without a demo target, is named
    bare = dataclasses.replace(
        PLUGIN,
        twin=dataclasses.replace(PLUGIN.twin, expected=None),
        demo=dataclasses.replace(PLUGIN.demo, sources=()),
    )
    assert [line.split(" (")[0] for line in missing(bare, tmp_path)] == [
        "tally: no expected values",
        "tally: no demo target",
    ]


def test_the_sixth_vendor_installed_is_soaked_and_crash_tested_with_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed as a third party would ship it (an entry point), the simulator and exporter
    processes load it, and the registry-driven fault soak and crash test cover it unchanged."""
    monkeypatch.setenv("PYTHONPATH", install(tmp_path / "site"))
    (tmp_path / "soak").mkdir()
    (tmp_path / "crash").mkdir()
    with registered(PLUGIN):
        figures = soak.run(tmp_path / "soak", seconds=8, seed=6, rate=0.2)
        assert figures.exporter_alive and figures.exporter_exit == 0
        assert figures.mismatches == [], figures.mismatches[:10]
        assert set(figures.series) == set(kinds()) and figures.series["tally"] >= 1
        assert figures.simulator["calls_by_upstream"].get("tally", 0) > 0
        test_sigkill_mid_poll_leaves_every_vendor_exact(PLUGIN, tmp_path / "crash")
