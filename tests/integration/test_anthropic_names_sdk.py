"""The official `anthropic` package (2.10, in the test extra) reads the names twin over loopback:
`client.organization.{workspaces,api_keys,users}.list()`, every page (page size capped at 2 by
the twin, so the SDK follows `last_id` into `after_id`), into its typed models with strict
response validation, and what it reads equals the twin's ground truth. The key goes in
`x-api-key` (the SDK's own `api_key=` would send `Authorization: Bearer`, which the Admin API
does not take; the twin refuses it, checked here too)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Process, http_json
from tests.integration.anthropic_sdk_client import anthropic, sdk_client, sdk_simulator
from tests.sdk_models import undeclared

KEY, ORG = "sk-ant-admin01-names-sdk", "org-names-sdk"


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Process]:
    with sdk_simulator(tmp_path, monkeypatch, KEY, ORG) as process:
        yield process


def client(sim: Process, key: str = KEY) -> Any:
    return sdk_client(sim, key)


def control(sim: Process, **body: Any) -> Any:
    return http_json(f"{sim.url}/_sim/anthropic/names", method="POST", body={"org": ORG, **body})


def dumped(items: Any) -> list[dict[str, Any]]:
    """The SDK's models as JSON again (datetimes as the twin wrote them)."""
    return [item.model_dump(mode="json", exclude_unset=True) for item in items]


def test_the_sdk_reads_every_name_on_every_page_strictly(sim: Process) -> None:
    control(sim, action="page_size", size=2)
    control(sim, action="add_users", count=3)
    control(
        sim,
        action="rename_workspace",
        workspace_id=truth(sim)["workspaces"][1]["id"],
        name="Renamed",
    )
    org = client(sim).organization
    workspaces = list(org.workspaces.list(include_archived=True, include_default=True))
    keys = list(org.api_keys.list())
    users = list(org.users.list())
    want = truth(sim)
    assert [type(w).__name__ for w in workspaces] == ["Workspace"] * len(want["workspaces"])
    assert dumped(workspaces) == want["workspaces"]
    assert dumped(keys) == want["api_keys"]
    assert dumped(users) == want["users"]
    assert "Renamed" in {w.name for w in workspaces}
    assert [w for w in workspaces if w.archived_at is not None]  # an archived one to exercise
    extra = [f for i, m in enumerate([*workspaces, *keys, *users]) for f in undeclared(m, f"[{i}]")]
    assert extra == []
    # every page was a request: at most 2 items each, cursors followed to the end
    log = http_json(f"{sim.url}/_sim/requests")["requests"]
    pages = [r for r in log if r["path"].startswith("/v1/organizations/")]
    n = len(want["workspaces"]), len(want["api_keys"]), len(want["users"])
    assert len(pages) == sum(-(-count // 2) for count in n)
    assert [p for p in pages if "after_id=" in p["query"]]


def test_the_default_lists_leave_out_archived_and_default_workspaces(sim: Process) -> None:
    org = client(sim).organization
    listed = list(org.workspaces.list())
    want = truth(sim)
    assert dumped(listed) == [
        w
        for w in want["workspaces"]
        if w["archived_at"] is None and w["id"] != want["default_workspace_id"]
    ]
    inactive = list(org.api_keys.list(status="inactive"))
    assert [k.status for k in inactive] == ["inactive"]


def test_a_key_the_twin_does_not_know_or_sent_as_bearer_is_refused(sim: Process) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        list(client(sim, key="sk-ant-admin01-unknown").organization.users.list())
    bearer = anthropic.Anthropic(
        base_url=sim.url, api_key=KEY, max_retries=0, _strict_response_validation=True
    )
    with pytest.raises(anthropic.AuthenticationError):
        list(bearer.organization.users.list())


def truth(sim: Process) -> Any:
    return http_json(f"{sim.url}/_sim/anthropic/names?org={ORG}")
