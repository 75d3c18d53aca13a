"""Names and limits from the vendors themselves: info metrics, spend limits, spend alerts and
rate limits, read on their own schedule, against the simulator over loopback.

Every check compares with the simulator's ground truth (`/_sim/openai/admin`,
`/_sim/arthur/tasks`): the info metrics are exact across pages (page size 2, extra projects and
tasks), cents become dollars exactly, a failed refresh keeps the last names and shows in
`usage_exporter_resource_up`, a 403 turns one resource off with one log line while the target
stays up, a rename shows at the next refresh while the usage counters are untouched, and user
e-mail addresses appear nowhere (logs at debug, /metrics in both formats, `/`, errors) unless
`user_email: true`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from exporter.config.load import Config
from exporter.daemon import Daemon, Target
from exporter.vendors.arthur import resources as arthur_tasks
from tests.harness import (
    Process,
    TwinControl,
    exporter,
    http,
    http_json,
    served_around,
    served_samples,
    simulator,
    wait_for,
)

OPENAI_KEY, ORG = "sk-admin-names", "org-names"
ARTHUR_KEY, ENGINE = "arthur-names", "engine-names"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Process]:
    extra = ("--openai-key", f"{OPENAI_KEY}={ORG}", "--arthur-key", f"{ARTHUR_KEY}={ENGINE}")
    with simulator(tmp_path, extra=extra) as process:
        yield process


TWIN = TwinControl("/_sim/openai/admin", ORG)
control, truth = TWIN.act, TWIN.truth


def config(tmp: Path, sim: Process, **openai: Any) -> Config:
    common = {"base_url": sim.url, "interval": "1h", "timeout": "30s", "backfill": "2h"}
    return Config.model_validate(
        {
            "state_dir": str(tmp / "state"),
            "sources": [
                {"kind": "openai", "name": "oa", "api_key": OPENAI_KEY, **common, **openai},
                {"kind": "arthur", "name": "ar", "api_key": ARTHUR_KEY, **common},
            ],
        }
    )


samples = served_samples


def family(found: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in found.items() if n == name}


def labelled(found: Samples, name: str, *keys: str) -> set[tuple[str, ...]]:
    return {tuple(dict(labels)[k] for k in keys) for labels in family(found, name)}


def target(daemon: Daemon, name: str) -> Target:
    return next(t for t in daemon.targets if t.name == name)


def exact_dollars(cents: int) -> str:
    return str(Decimal(cents) / 100)


async def test_info_metrics_and_limits_are_exact_across_pages(tmp_path: Path, sim: Process) -> None:
    control(sim, action="page_size", size=2)
    control(sim, action="add_projects", count=5)
    control(sim, action="archive_project", project_id="proj_gamma")
    http_json(
        f"{sim.url}/_sim/arthur/tasks",
        method="POST",
        body={"engine": ENGINE, "action": "add", "count": 4},
    )
    arthur_tasks.PAGE_SIZE, saved = 2, arthur_tasks.PAGE_SIZE  # several task pages too
    daemon = Daemon(config(tmp_path, sim, user_email=True))
    try:
        assert await daemon.poll_all()
    finally:
        arthur_tasks.PAGE_SIZE = saved
        await daemon.aclose()
    found = samples(daemon)
    want = truth(sim)
    assert labelled(found, "openai_project_info", "project_id", "project_name", "status") == {
        (p["id"], p["name"], p["status"]) for p in want["projects"]
    }
    assert len(want["projects"]) > 2 * 2  # more than two pages
    keys = {
        (
            k["id"],
            k["name"],
            k["owner"]["type"],
            k["owner"][k["owner"]["type"]]["name"],
        )
        for k in want["api_keys"]
    }
    got = labelled(
        found, "openai_api_key_info", "api_key_id", "api_key_name", "owner_type", "owner_name"
    )
    assert got == keys
    assert labelled(found, "openai_user_info", "user_id", "user_name", "role", "email") == {
        (u["id"], u["name"], u["role"], u["email"]) for u in want["users"]
    }
    # limits: the rendered text of every dollar value is the exact decimal of its cents
    text = daemon.state.exposition.text.decode()  # type: ignore[union-attr]
    org_limit = want["spend_limit"]["cents"]
    assert f'openai_spend_limit_usd{{target="oa"}} {exact_dollars(org_limit)}' in text
    assert family(found, "openai_spend_limit_enforced") == {
        frozenset({("target", "oa"), ("status", s)}): float(s == want["spend_limit"]["status"])
        for s in ("inactive", "enforcing")
    }
    for project, cents in want["project_spend_limits"].items():
        line = f'openai_project_spend_limit_usd{{target="oa",project_id="{project}"}} '
        assert (
            line + exact_dollars(cents) + "\n" in text
            or Decimal(text.split(line, 1)[1].split("\n", 1)[0]) == Decimal(cents) / 100
        ), project
    alerts = family(found, "openai_spend_alert_threshold_usd")
    expected = {("organization", "", a): c for a, c in want["spend_alerts"].items()}
    expected |= {
        ("project", p, a): c
        for p, items in want["project_spend_alerts"].items()
        for a, c in items.items()
    }
    assert {
        (dict(labels)["scope"], dict(labels)["project_id"], dict(labels)["alert_id"]): value
        for labels, value in alerts.items()
    } == {k: float(Decimal(c) / 100) for k, c in expected.items()}
    assert "400.01" in text  # 40001 cents, not 400.00999...
    rate = family(found, "openai_project_rate_limit")
    fields = {
        "max_requests_per_1_minute": "requests_per_minute",
        "max_tokens_per_1_minute": "tokens_per_minute",
        "max_images_per_1_minute": "images_per_minute",
        "max_audio_megabytes_per_1_minute": "audio_megabytes_per_minute",
        "max_requests_per_1_day": "requests_per_day",
        "batch_1_day_max_input_tokens": "batch_input_tokens_per_day",
    }
    assert {
        (dict(labels)["project_id"], dict(labels)["model"], dict(labels)["limit"]): value
        for labels, value in rate.items()
    } == {
        (project, model, fields[f]): float(v)
        for project, models in want["rate_limits"].items()
        for model, limits in models.items()
        for f, v in limits.items()
    }
    assert "proj_gamma" not in {dict(labels)["project_id"] for labels in rate}  # archived
    tasks = http_json(f"{sim.url}/_sim/arthur/tasks?engine={ENGINE}")["tasks"]
    assert len(tasks) > 2 * 2
    assert labelled(found, "arthur_task_info", "task_id", "task_name") == {
        (task_id, task["name"]) for task_id, task in tasks.items()
    }


async def test_a_failed_refresh_keeps_the_last_names_and_shows_per_resource(
    tmp_path: Path, sim: Process
) -> None:
    daemon = Daemon(config(tmp_path, sim))
    oa = target(daemon, "oa")
    try:
        assert await daemon.poll_all()
        before = labelled(samples(daemon), "openai_project_info", "project_id", "project_name")
        assert ("proj_alpha", "Search") in before
        control(sim, action="rename_project", project_id="proj_alpha", name="Search v2")
        control(sim, action="fail", resource="projects", status=500)
        await daemon.poll_resources(oa, force=True)
        found = samples(daemon)
        assert labelled(found, "openai_project_info", "project_id", "project_name") == before
        up = family(found, "usage_exporter_resource_up")
        resource = {("target", "oa"), ("source", "openai")}
        assert up[frozenset({*resource, ("resource", "projects")})] == 0
        assert up[frozenset({*resource, ("resource", "users")})] == 1
        # the usage poll does not care: the target is up
        assert await daemon.poll(oa)
        assert (
            family(samples(daemon), "usage_exporter_up")[
                frozenset({("target", "oa"), ("source", "openai")})
            ]
            == 1
        )
        control(sim, action="heal", resource="projects")
        await daemon.poll_resources(oa, force=True)
        after = labelled(samples(daemon), "openai_project_info", "project_id", "project_name")
        assert ("proj_alpha", "Search v2") in after and ("proj_alpha", "Search") not in after
        assert (
            family(samples(daemon), "usage_exporter_resource_up")[
                frozenset({*resource, ("resource", "projects")})
            ]
            == 1
        )
    finally:
        await daemon.aclose()


async def test_a_forbidden_resource_is_turned_off_not_the_target(
    tmp_path: Path, sim: Process, caplog: pytest.LogCaptureFixture
) -> None:
    control(sim, action="forbid", resource="rate_limits")
    http_json(
        f"{sim.url}/_sim/arthur/tasks",
        method="POST",
        body={"engine": ENGINE, "action": "fail", "status": 403},
    )
    daemon = Daemon(config(tmp_path, sim))
    try:
        with caplog.at_level(logging.WARNING):
            assert await daemon.poll_all()
            await daemon.poll_resources(target(daemon, "oa"), force=True)  # again: no new line
        found = samples(daemon)
        assert not family(found, "openai_project_rate_limit")
        assert not family(found, "arthur_task_info")
        assert family(found, "openai_project_info")  # the others still read
        resources = {
            dict(labels)["resource"] for labels in family(found, "usage_exporter_resource_up")
        }
        assert "rate_limits" not in resources and "tasks" not in resources
        assert "projects" in resources
        off = [r for r in caplog.records if r.getMessage() == "resource turned off"]
        assert sorted(getattr(r, "resource", "") for r in off) == ["rate_limits", "tasks"]
        assert "403" in getattr(off[0], "error", "")
        assert all(s.up for s in daemon.state.targets.values())
    finally:
        await daemon.aclose()


async def test_a_rename_changes_one_info_series_and_no_counter(
    tmp_path: Path, sim: Process
) -> None:
    """Same usage series before and after a rename; only openai_project_info changes."""
    http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
    daemon = Daemon(config(tmp_path, sim))
    before, after = await served_around(
        daemon,
        target(daemon, "oa"),
        partial(control, sim, action="rename_project", project_id="proj_beta", name="Helpdesk"),
    )

    def counters(found: Samples) -> Samples:
        return {
            k: v
            for k, v in found.items()
            if k[0].endswith("_total") and not k[0].startswith("usage_exporter_")
        }

    assert counters(before) and counters(before) == counters(after)
    assert ("proj_beta", "Helpdesk") in labelled(
        after, "openai_project_info", "project_id", "project_name"
    )
    assert ("proj_beta", "Support bot") not in labelled(
        after, "openai_project_info", "project_id", "project_name"
    )


def test_user_emails_appear_nowhere_unless_opted_in(tmp_path: Path, sim: Process) -> None:
    emails = [u["email"] for u in truth(sim)["users"]]
    assert emails
    common = f"    base_url: {sim.url}\n    interval: 3s\n    timeout: 3s\n    backfill: 1h\n"
    for opt_in in (False, True):
        path = tmp_path / f"config-{opt_in}.yaml"
        path.write_text(
            f"state_dir: {tmp_path / f'state-{opt_in}'}\n"
            "sources:\n"
            f"  - kind: openai\n    name: oa\n    api_key: {OPENAI_KEY}\n{common}"
            f"    resource_interval: 2s\n    user_email: {str(opt_in).lower()}\n"
        )
        process = exporter(
            tmp_path, path, "--log.level", "debug", log_name=f"exporter-{opt_in}.log"
        )
        try:
            wait_for(
                lambda process=process: b"openai_user_info{" in http(process.url + "/metrics")[1],
                "user names",
                60,
            )
            # an error path: the users listing fails, then is forbidden (turned off)
            control(sim, action="fail", resource="users", status=500)
            wait_for(
                lambda process=process: (
                    b'resource="users",source="openai",target="oa"} 0'
                    in http(process.url + "/metrics")[1]
                ),
                "a failed users refresh",
            )
            control(sim, action="forbid", resource="api_keys")
            wait_for(
                lambda process=process: "resource turned off" in process.output(),
                "api_keys turned off",
            )
            control(sim, action="heal")
            wait_for(
                lambda process=process: (
                    b'resource="users",source="openai",target="oa"} 1'
                    in http(process.url + "/metrics")[1]
                ),
                "users read again",
            )
            outputs = {
                "/metrics": http(process.url + "/metrics")[1],
                "/metrics (OpenMetrics)": http(
                    process.url + "/metrics",
                    headers={"Accept": "application/openmetrics-text; version=1.0.0"},
                )[1],
                "/": http(process.url + "/")[1],
                "/readyz": http(process.url + "/readyz")[1],
            }
        finally:
            process.stop()
        outputs["log"] = process.output().encode()
        for where, body in outputs.items():
            for email in emails:
                shown = email.encode() in body
                assert shown == (opt_in and where.startswith("/metrics")), (opt_in, where, email)
        # the simulator's key owners and alert recipients carry addresses too: never exported
        assert b"finops@example.com" not in outputs["/metrics"]


async def test_info_metrics_are_bounded_by_the_cardinality_limit(
    tmp_path: Path, sim: Process
) -> None:
    control(sim, action="add_projects", count=20)
    daemon = Daemon(config(tmp_path, sim, max_series_per_family=5))
    try:
        await daemon.poll_resources(target(daemon, "oa"), force=True)
    finally:
        await daemon.aclose()
    projects = family(samples(daemon), "openai_project_info")
    assert len(projects) <= 5 + 1  # the limit, and the one series the rest fold into
    overflow = [v for labels, v in projects.items() if dict(labels)["project_id"] == "__overflow__"]
    assert overflow == [len(truth(sim)["projects"]) - (len(projects) - 1)]
