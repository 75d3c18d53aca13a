"""Live reload (SIGHUP) of the real daemon with Anthropic targets: a target added to a running
exporter counts exactly its twin's truth, a kept one is not restarted, and a change of
`group_by` / `cost_group_by` (series keys) hands the target over at the next bucket boundary
without counting anything twice: per family the sum over the series still equals the truth."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

import yaml

from exporter.config.load import load_config
from exporter.simulator.compare import SeriesKey, counters
from exporter.vendors import plugin
from tests.harness import exporter, http_json, scrape, simulator, success_polls, wait_for
from tests.integration.test_reload import metric, reloaded_after

KEYS = {"a": "sk-ant-admin01-reload-A1", "b": "sk-ant-admin01-reload-B2"}
ANTHROPIC = plugin("anthropic")


def source(name: str, sim_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "anthropic",
        "name": name,
        "base_url": sim_url,
        "api_key": KEYS[name],
        "interval": "2s",
        "timeout": "2s",
        "bucket_width": "1h",
        "backfill": "1d",
        "retries": 4,
        "resources": {"workspaces": False, "api_keys": False, "users": False},
        **extra,
    }


def write(path: Path, state: Path, *sources: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump({"state_dir": str(state), "sources": list(sources)}))


def got(url: str, target: str) -> dict[SeriesKey, Any]:
    names = {f.name for f in ANTHROPIC.families}
    return {
        k: s for k, s in counters(scrape(url, openmetrics=True), target).items() if k[0] in names
    }


def truth(sim_url: str, config: Path, url: str, target: str) -> dict[SeriesKey, float]:
    entry = next(s for s in load_config(config).sources if s.name == target)
    expected = ANTHROPIC.twin.oracle()
    assert expected is not None
    found = expected(sim_url, entry, f"org-{target}", got(url, target))
    return {k: v for k, v in found.items() if v}


def assert_exact(sim_url: str, config: Path, url: str, target: str) -> None:
    want = truth(sim_url, config, url, target)
    have = {k: s.value for k, s in got(url, target).items() if s.value}
    assert len(want) >= 10 and have.keys() == want.keys(), (target, have.keys() ^ want.keys())
    for k, v in want.items():
        assert math.isclose(have[k], v, rel_tol=1e-9, abs_tol=1e-6), (k, have[k], v)


def family_sums(series: dict[SeriesKey, float]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for (name, _), value in series.items():
        sums[name] = sums.get(name, 0.0) + value
    return sums


def test_sighup_adds_an_anthropic_target_and_a_group_by_change_hands_over(tmp_path: Path) -> None:
    flags = tuple(a for n, k in KEYS.items() for a in ("--anthropic-key", f"{k}=org-{n}"))
    with simulator(tmp_path, extra=flags) as sim:
        config, state = tmp_path / "config.yaml", tmp_path / "state"
        write(config, state, source("a", sim.url))
        exp = exporter(tmp_path, config)
        try:
            pid = exp.popen.pid
            wait_for(lambda: success_polls(exp.url, "a") >= 1, "a polled", timeout=60)
            first = metric(exp.url, "usage_exporter_config_last_reload_success_timestamp_seconds")
            assert first is not None
            a_polls = success_polls(exp.url, "a")

            write(config, state, source("a", sim.url), source("b", sim.url, bucket_width="1m"))
            exp.popen.send_signal(signal.SIGHUP)
            wait_for(lambda: reloaded_after(exp.url, first), "the reload", timeout=30)
            wait_for(lambda: success_polls(exp.url, "b") >= 1, "b polled", timeout=60)
            assert success_polls(exp.url, "a") >= a_polls, "a was not restarted"

            http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
            polls = {t: success_polls(exp.url, t) for t in KEYS}
            for t in KEYS:
                wait_for(lambda t=t: success_polls(exp.url, t) >= polls[t] + 2, f"two polls of {t}")
            for t in KEYS:
                assert_exact(sim.url, config, exp.url, t)

            # a's groupings change: handed over at the next bucket boundary, nothing twice.
            before = family_sums(truth(sim.url, config, exp.url, "a"))
            second = metric(exp.url, "usage_exporter_config_last_reload_success_timestamp_seconds")
            assert second is not None
            narrower = source(
                "a", sim.url, group_by=["workspace_id"], cost_group_by=["workspace_id"]
            )
            write(config, state, narrower, source("b", sim.url, bucket_width="1m"))
            exp.popen.send_signal(signal.SIGHUP)
            wait_for(lambda: reloaded_after(exp.url, second), "the group_by reload", timeout=30)
            after = success_polls(exp.url, "a")
            wait_for(lambda: success_polls(exp.url, "a") >= after + 2, "two polls of a")
            now = family_sums({k: s.value for k, s in got(exp.url, "a").items()})
            assert {k for k, v in now.items() if v} == set(before)
            for family, value in before.items():
                assert math.isclose(now[family], value, rel_tol=1e-9, abs_tol=1e-6), family
            assert "handed_over=a" in exp.output()
            assert exp.popen.pid == pid and exp.popen.poll() is None, "no restart"
        finally:
            exp.stop()
