"""Anthropic names through the whole exporter: the daemon reads the simulator's names twin over
loopback with the headers the plug-in sends (`x-api-key`, `anthropic-version`), on the resource
schedule, and the info series equal the twin's ground truth (`/_sim/anthropic/names`) across
pages; a rename shows at the next refresh while no usage counter moves; a failed refresh keeps
the last names; a 403 turns one resource off and the target stays up."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.config.load import Config
from exporter.daemon import Daemon, Target
from tests.harness import Process, TwinControl, http_json, served_around, served_samples, simulator

KEY, ORG = "sk-ant-admin01-names-daemon", "org-names-daemon"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Process]:
    with simulator(tmp_path, extra=("--anthropic-key", f"{KEY}={ORG}")) as process:
        yield process


TWIN = TwinControl("/_sim/anthropic/names", ORG)
control, truth = TWIN.act, TWIN.truth


def config(tmp: Path, sim: Process, **anthropic: Any) -> Config:
    source = {
        "kind": "anthropic",
        "name": "an",
        "api_key": KEY,
        "base_url": sim.url,
        "interval": "1h",
        "timeout": "30s",
        "backfill": "2h",
        **anthropic,
    }
    return Config.model_validate({"state_dir": str(tmp / "state"), "sources": [source]})


samples = served_samples


def labelled(found: Samples, name: str, *keys: str) -> set[tuple[str, ...]]:
    return {tuple(dict(labels)[k] for k in keys) for (n, labels) in found if n == name}


def target(daemon: Daemon) -> Target:
    return next(t for t in daemon.targets if t.name == "an")


def expected(want: Any, email: bool) -> dict[str, set[tuple[str, ...]]]:
    workspaces = {
        (w["id"], w["name"], "archived" if w["archived_at"] else "active")
        for w in want["workspaces"]
    }
    default = next(w for w in workspaces if w[0] == want["default_workspace_id"])
    return {
        "workspaces": workspaces | {("default", *default[1:])},
        "api_keys": {
            (k["id"], k["name"], k["scope"].get("workspace_id", "none"), k["status"])
            for k in want["api_keys"]
        },
        "users": {
            (u["id"], u["name"], u["role"], u["email"] if email else "") for u in want["users"]
        },
    }


def found_names(found: Samples) -> dict[str, set[tuple[str, ...]]]:
    return {
        "workspaces": labelled(
            found, "anthropic_workspace_info", "workspace_id", "workspace_name", "status"
        ),
        "api_keys": labelled(
            found, "anthropic_api_key_info", "api_key_id", "api_key_name", "workspace_id", "status"
        ),
        "users": labelled(found, "anthropic_user_info", "user_id", "user_name", "role", "email"),
    }


async def test_names_equal_the_truth_across_pages_with_the_plugins_headers(
    tmp_path: Path, sim: Process
) -> None:
    control(sim, action="page_size", size=2)
    control(sim, action="add_users", count=4)
    http_json(f"{sim.url}/_sim/requests", method="DELETE")
    for email in (False, True):
        daemon = Daemon(config(tmp_path / str(email), sim, user_email=email))
        try:
            assert await daemon.poll_all()
            assert found_names(samples(daemon)) == expected(truth(sim), email)
        finally:
            await daemon.aclose()
    log = http_json(f"{sim.url}/_sim/requests")["requests"]
    names = [
        r
        for r in log
        if r["path"].startswith(
            (
                "/v1/organizations/workspaces",
                "/v1/organizations/api_keys",
                "/v1/organizations/users",
            )
        )
    ]
    assert [r for r in names if "after_id=" in r["query"]]  # pages followed
    assert len(truth(sim)["users"]) > 2 * 2


async def test_a_rename_changes_one_info_series_and_no_counter(
    tmp_path: Path, sim: Process
) -> None:
    http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
    workspace = truth(sim)["workspaces"][1]
    daemon = Daemon(config(tmp_path, sim))

    def rename_and_archive() -> None:
        control(sim, action="rename_workspace", workspace_id=workspace["id"], name="Renamed")
        control(sim, action="archive_workspace", workspace_id=workspace["id"])

    before, after = await served_around(daemon, target(daemon), rename_and_archive)

    def counters(found: Samples) -> Samples:
        return {
            k: v
            for k, v in found.items()
            if k[0].startswith("anthropic_") and k[0].endswith("_total")
        }

    assert counters(before) and counters(before) == counters(after)
    changed = found_names(before)["workspaces"] ^ found_names(after)["workspaces"]
    assert changed == {
        (workspace["id"], workspace["name"], "active"),
        (workspace["id"], "Renamed", "archived"),
    }


async def test_a_failed_refresh_keeps_the_names_and_a_403_turns_one_off(
    tmp_path: Path, sim: Process, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(config(tmp_path, sim))
    an = target(daemon)
    try:
        assert await daemon.poll_all()
        before = found_names(samples(daemon))
        control(sim, action="fail", resource="users", status=500)
        control(
            sim, action="rename_workspace", workspace_id=truth(sim)["workspaces"][1]["id"], name="X"
        )
        with caplog.at_level(logging.WARNING):
            control(sim, action="forbid", resource="api_keys")
            await daemon.poll_resources(an, force=True)
        found = samples(daemon)
        after = found_names(found)
        assert after["users"] == before["users"]  # the last names kept
        assert after["api_keys"] == set()  # turned off
        assert after["workspaces"] != before["workspaces"]  # the others still read
        up = {
            dict(labels)["resource"]: value
            for (n, labels), value in found.items()
            if n == "usage_exporter_resource_up"
        }
        assert up == {"workspaces": 1, "users": 0}
        off = [r for r in caplog.records if r.getMessage() == "resource turned off"]
        assert [getattr(r, "resource", "") for r in off] == ["api_keys"]
        assert all(s.up for s in daemon.state.targets.values())
    finally:
        await daemon.aclose()
