"""The Anthropic names (workspaces, API keys, users as info gauges): the source read against the
names twin in process (httpx.ASGITransport), every value compared with the twin's ground truth
(`GET /_sim/anthropic/names`), which the expected series are derived from here independently of
the source's code; plus the twin's paging and refusals as the Admin API documents them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from exporter.model import Level, Stream, Unavailable, Window
from exporter.simulator.faults import FaultInjector
from exporter.simulator.twin import Frame
from exporter.upstream import UpstreamError
from exporter.vendors.anthropic import PLUGIN, resources, resources_twin
from exporter.vendors.anthropic import twin as usage
from exporter.vendors.anthropic.resources import FAMILIES, AnthropicResourceSource
from tests.fakes import Answers, Recorder, make_source

KEY, ORG = "sk-ant-admin01-names-test", "org-names"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
WINDOW = Window(1_800_000_000, 1_800_000_000)
Labels = tuple[str, ...]


def twin_app() -> Starlette:
    frame = Frame(
        seed=1,
        start=0,
        late_seconds=0,
        max_page_buckets=None,
        keys={KEY: ORG},
        faults=FaultInjector(),
        now=lambda: WINDOW.start,
    )
    return Starlette(routes=resources_twin.routes(frame, None))


def names_of(
    answers: Answers, recorder: Recorder | None = None, **keys: Any
) -> AnthropicResourceSource:
    """The names source alone, of target `acme`, as the daemon sets up its upstream."""
    source = make_source(
        PLUGIN,
        answers,
        AnthropicResourceSource,
        recorder=recorder,
        name="acme",
        api_key=KEY,
        **keys,
    )
    assert isinstance(source, AnthropicResourceSource)
    return source


class Twin:
    """The names twin in process: the source's transport, its control and its truth."""

    def __init__(self) -> None:
        self.app = twin_app()
        self.transport = httpx.ASGITransport(app=self.app)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(transport=self.transport, base_url="http://twin") as client:
            return await client.request(method, path, **kwargs)

    async def control(self, **body: Any) -> Any:
        response = await self.call("POST", "/_sim/anthropic/names", json={"org": ORG, **body})
        assert response.status_code == 200, response.text
        return response.json()

    async def truth(self) -> Any:
        return (await self.call("GET", "/_sim/anthropic/names", params={"org": ORG})).json()


async def read_all(source: AnthropicResourceSource) -> dict[str, set[Labels]]:
    """Every stream read once: family -> the label tuples of its levels (each checked to be 1)."""
    out: dict[str, set[Labels]] = {}
    for stream in await source.streams():
        for level in (await source.read(stream, WINDOW)).levels:
            assert level.value == 1
            out.setdefault(level.family, set()).add(level.labels)
    return out


def expected(truth: Any, *, email: bool = False) -> dict[str, set[Labels]]:
    """The info series the twin's truth calls for, written out from the documented mapping."""
    default_id = truth["default_workspace_id"]
    workspaces: set[Labels] = set()
    for w in truth["workspaces"]:
        status = "archived" if w["archived_at"] else "active"
        workspaces.add((w["id"], w["name"], status))
        if w["id"] == default_id:
            workspaces.add(("default", w["name"], status))
    keys: set[Labels] = {
        (
            k["id"],
            k["name"],
            k["scope"]["workspace_id"] if k["scope"]["type"] == "workspace" else "none",
            k["status"],
        )
        for k in truth["api_keys"]
    }
    users: set[Labels] = {
        (u["id"], u["name"], u["role"], u["email"] if email else "") for u in truth["users"]
    }
    return {
        "anthropic_workspace_info": workspaces,
        "anthropic_api_key_info": keys,
        "anthropic_user_info": users,
    }


async def test_every_name_equals_the_twin_truth_across_pages() -> None:
    twin = Twin()
    await twin.control(action="page_size", size=2)
    await twin.control(action="add_users", count=5)  # eight users: four pages
    recorder = Recorder()
    source = names_of(twin.transport, recorder)
    found = await read_all(source)
    truth = await twin.truth()
    assert found == expected(truth)
    assert len(truth["workspaces"]) == 4 and len(truth["users"]) == 8
    pages = [endpoint for endpoint, _ in recorder.calls]
    # with and without the default workspace (4 and 3 workspaces), 7 keys, 8 users; by 2
    assert pages.count("workspaces") == 2 + 2
    assert pages.count("api_keys") == 4 and pages.count("users") == 4
    assert all(code == "200" for _, code in recorder.calls)


async def test_the_names_cover_every_id_the_usage_twin_reports() -> None:
    twin = Twin()
    source = names_of(twin.transport)
    found = await read_all(source)
    workspaces = {labels[0] for labels in found["anthropic_workspace_info"]}
    keys = {labels[0] for labels in found["anthropic_api_key_info"]}
    users = {labels[0] for labels in found["anthropic_user_info"]}
    reported = {dim: {row.dims[dim] for row in usage.ROWS} for dim in usage.DIMENSIONS}
    assert reported["workspace_id"] - {None} <= workspaces
    assert None in reported["workspace_id"] and "default" in workspaces  # null -> default
    assert reported["api_key_id"] - {None} <= keys
    assert reported["account_id"] - {None} <= users
    names = {labels[0]: labels[1] for labels in found["anthropic_workspace_info"]}
    assert {w: names[w] for w in usage.WORKSPACES} == usage.WORKSPACES
    assert names["default"] == usage.DEFAULT_WORKSPACE_NAME
    archived = {
        labels[0] for labels in found["anthropic_workspace_info"] if labels[2] == "archived"
    }
    assert archived == set(usage.ARCHIVED_WORKSPACES)
    key_names = {labels[0]: labels[1] for labels in found["anthropic_api_key_info"]}
    assert {k: key_names[k] for k in usage.API_KEYS} == {
        k: v.name for k, v in usage.API_KEYS.items()
    }


async def test_a_rename_and_an_archive_change_their_series_only() -> None:
    twin = Twin()
    source = names_of(twin.transport)
    before = await read_all(source)
    await twin.control(action="rename_workspace", workspace_id=usage.PROD, name="Production")
    await twin.control(action="archive_workspace", workspace_id=usage.RESEARCH)
    await twin.control(action="key_status", api_key_id=usage.K_BATCH, status="archived")
    after = await read_all(source)
    assert after == expected(await twin.truth())
    ws_before, ws_after = before["anthropic_workspace_info"], after["anthropic_workspace_info"]
    assert ws_before - ws_after == {
        (usage.PROD, usage.WORKSPACES[usage.PROD], "active"),
        (usage.RESEARCH, usage.WORKSPACES[usage.RESEARCH], "active"),
    }
    assert ws_after - ws_before == {
        (usage.PROD, "Production", "active"),
        (usage.RESEARCH, usage.WORKSPACES[usage.RESEARCH], "archived"),
    }
    keys_changed = before["anthropic_api_key_info"] ^ after["anthropic_api_key_info"]
    assert {labels[0] for labels in keys_changed} == {usage.K_BATCH}
    assert before["anthropic_user_info"] == after["anthropic_user_info"]


async def test_user_emails_only_with_the_opt_in_and_never_in_logs_or_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    twin = Twin()
    truth = await twin.truth()
    emails = [u["email"] for u in truth["users"]]
    source = names_of(twin.transport)
    found = await read_all(source)
    assert {labels[3] for labels in found["anthropic_user_info"]} == {""}
    opted = names_of(twin.transport, user_email=True)
    assert await read_all(opted) == expected(truth, email=True)
    # a failing read (an answer that breaks the shape) says nothing of the users it read
    bad = names_of(httpx.MockTransport(lambda r: users_then_garbage(r, truth)))
    stream = next(s for s in await bad.streams() if s.name == "info/users")
    with pytest.raises(UpstreamError) as failed:
        await bad.read(stream, WINDOW)
    shown = [str(failed.value), repr(bad), repr(source), repr(opted), caplog.text]
    assert not [e for e in emails for text in shown if e in text]
    assert "@" not in str(failed.value)


def users_then_garbage(request: httpx.Request, truth: Any) -> httpx.Response:
    if "after_id" not in request.url.params:
        body = {"data": truth["users"][:1], "has_more": True, "first_id": "a", "last_id": "a"}
        return httpx.Response(200, json=body)
    return httpx.Response(200, json={"data": [{"email": truth["users"][1]["email"]}]})


@pytest.mark.parametrize("resource", resources_twin.RESOURCES)
async def test_a_forbidden_resource_is_unavailable_and_a_failing_one_raises(resource: str) -> None:
    twin = Twin()
    source = names_of(twin.transport)
    stream = next(s for s in await source.streams() if s.name == f"info/{resource}")
    await twin.control(action="fail", resource=resource, status=503)
    with pytest.raises(UpstreamError) as failed:  # the daemon keeps the last names
        await source.read(stream, WINDOW)
    assert failed.value.status == 503
    await twin.control(action="forbid", resource=resource)
    with pytest.raises(Unavailable, match=f"{resource}: 403"):
        await source.read(stream, WINDOW)
    await twin.control(action="heal")
    assert (await source.read(stream, WINDOW)).levels


async def test_a_404_is_unavailable() -> None:
    source = names_of(httpx.MockTransport(lambda r: httpx.Response(404, json={})))
    for stream in await source.streams():
        with pytest.raises(Unavailable, match="404"):
            await source.read(stream, WINDOW)


def endless(request: httpx.Request, *, new_ids: bool) -> httpx.Response:
    after = request.url.params.get("after_id", "0")
    last = str(int(after) + 1) if new_ids else after
    body = {"data": [{"id": last}], "has_more": True, "first_id": last, "last_id": last}
    return httpx.Response(200, json=body)


@pytest.mark.parametrize("new_ids", [True, False])
async def test_a_cursor_that_never_ends_is_stopped(
    new_ids: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "MAX_PAGES", 7)
    recorder = Recorder()
    source = names_of(httpx.MockTransport(lambda r: endless(r, new_ids=new_ids)), recorder)
    stream = next(s for s in await source.streams() if s.name == "info/users")
    with pytest.raises(UpstreamError, match="pages: stopped" if new_ids else "cannot page on"):
        await source.read(stream, WINDOW)
    assert len(recorder.calls) == (7 if new_ids else 2)


def keys_page(keys: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": keys, "has_more": False})

    return handler


async def test_a_key_of_the_older_shape_or_of_the_organization_has_a_fixed_workspace() -> None:
    keys: list[dict[str, Any]] = [
        {"id": "k1", "name": "a", "workspace_id": None, "status": "active"},  # docs 2026-08
        {"id": "k2", "name": "b", "workspace_id": "wrkspc_x", "status": "inactive"},
        {"id": "k3", "name": "c", "scope": {"type": "organization"}, "status": "active"},
        {"id": "k4", "name": None, "scope": {"type": "workspace", "workspace_id": "w"}},
    ]
    source = names_of(httpx.MockTransport(keys_page(keys)))
    stream = next(s for s in await source.streams() if s.name == "info/api_keys")
    levels = (await source.read(stream, WINDOW)).levels
    assert [lv.labels for lv in levels] == [
        ("k1", "a", "default", "active"),
        ("k2", "b", "wrkspc_x", "inactive"),
        ("k3", "c", "none", "active"),
        ("k4", "", "w", ""),
    ]
    assert all(isinstance(lv, Level) and lv.family == "anthropic_api_key_info" for lv in levels)


async def test_the_requests_ask_for_archived_workspaces_and_the_largest_pages() -> None:
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({"path": [request.url.path], **parse_qs(urlsplit(str(request.url)).query)})
        return httpx.Response(200, json={"data": [], "has_more": False})

    source = names_of(httpx.MockTransport(handler))
    await read_all(source)
    by_path: dict[str, list[dict[str, list[str]]]] = {}
    for query in seen:
        by_path.setdefault(query.pop("path")[0], []).append(query)
    assert by_path == {
        "/v1/organizations/workspaces": [
            {"limit": ["1000"], "include_archived": ["true"], "include_default": ["true"]},
            {"limit": ["1000"], "include_archived": ["true"]},
        ],
        "/v1/organizations/api_keys": [{"limit": ["1000"]}],
        "/v1/organizations/users": [{"limit": ["1000"]}],
    }


async def test_streams_follow_resource_interval_and_resources() -> None:
    source = names_of(httpx.MockTransport(keys_page([])), resource_interval="2m")
    assert list(await source.streams()) == [
        Stream(f"info/{name}", 0, 0, 0, every=120) for name in resources_twin.RESOURCES
    ]
    off = names_of(
        httpx.MockTransport(keys_page([])), resources={"api_keys": False, "users": False}
    )
    assert [s.name for s in await off.streams()] == ["info/workspaces"]
    assert off.owns(Stream("info/workspaces", 0, 0, 0)) and not off.owns(Stream("x", 0, 0, 0))
    assert {f.name for f in FAMILIES} == {
        "anthropic_workspace_info",
        "anthropic_api_key_info",
        "anthropic_user_info",
    }


async def test_the_twin_pages_as_the_admin_api_documents() -> None:
    twin = Twin()
    path = "/v1/organizations/api_keys"
    ids = [k["id"] for k in (await twin.truth())["api_keys"]]

    async def get(**params: Any) -> httpx.Response:
        return await twin.call("GET", path, params=params, headers=HEADERS)

    first = (await get()).json()  # default limit 20: all 7 keys, no more
    assert [k["id"] for k in first["data"]] == ids and first["has_more"] is False
    page = (await get(limit=3, after_id=ids[1])).json()
    assert [k["id"] for k in page["data"]] == ids[2:5] and page["has_more"] is True
    assert (page["first_id"], page["last_id"]) == (ids[2], ids[4])
    back = (await get(limit=2, before_id=ids[4])).json()
    assert [k["id"] for k in back["data"]] == ids[2:4] and back["has_more"] is True
    assert (await get(limit=5, before_id=ids[2])).json()["has_more"] is False
    for bad in ({"limit": 0}, {"limit": 1001}, {"after_id": ids[0], "before_id": ids[1]}):
        answer = await get(**bad)
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
    assert len((await get(limit=1000)).json()["data"]) == len(ids)
    filtered = (await get(status="inactive")).json()["data"]
    assert [k["id"] for k in filtered] == [usage.K_OLD]


async def test_the_twin_takes_the_key_only_in_x_api_key_with_a_version() -> None:
    twin = Twin()
    path = "/v1/organizations/users"
    bearer = {"authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"}
    for headers, status in (
        (bearer, 401),
        ({"x-api-key": "sk-ant-admin01-other", "anthropic-version": "2023-06-01"}, 401),
        ({"x-api-key": KEY}, 400),
        (HEADERS, 200),
    ):
        answer = await twin.call("GET", path, headers=headers)
        assert answer.status_code == status, headers
        if status != 200:
            assert answer.json()["type"] == "error"
    workspaces = "/v1/organizations/workspaces"
    listed = (await twin.call("GET", workspaces, headers=HEADERS)).json()["data"]
    assert resources_twin.DEFAULT_WORKSPACE_ID not in {w["id"] for w in listed}
    assert not [w for w in listed if w["archived_at"]]  # archived only when asked for
