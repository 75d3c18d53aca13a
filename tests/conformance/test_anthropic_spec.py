"""The Anthropic legacy twin against the docs: every answer validates against the field lists and
enums derived from the docs (tests/spec_data/anthropic.json, `tools/anthropic_spec_data.py`), the
docs' own response examples validate against the same schemas, and the twin enforces the
documented parameters (limits counted in buckets, group_by values, the speed beta)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from exporter.simulator.app import SimulatorConfig, create_app
from tests.conformance import spec
from tools import derive_spec_data

NOW = 1_795_449_000 - 1_795_449_000 % 3600 + 1800  # half past an hour, 2026-11-23
KEY = "sk-ant-admin01-spec"
WORKSPACE_KEY = "sk-ant-api03-spec"  # a workspace-scoped key: the reports refuse it
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
DATA = json.loads((spec.DATA / "anthropic.json").read_text())
PATHS = {
    "usage-report-messages": "/v1/organizations/usage_report/messages",
    "cost-report": "/v1/organizations/cost_report",
}


def validator(operation: str, status: str = "200") -> Draft202012Validator:
    schema = DATA["operations"][operation]["responses"][status]["schema"]
    return Draft202012Validator(schema, format_checker=spec.FORMATS)


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def twin() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        SimulatorConfig(
            seed=3,
            start=NOW - 10 * 86400,
            keys={"anthropic": {KEY: "org-spec", WORKSPACE_KEY: "org-spec"}},
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        await client.post("/_sim/clock", json={"freeze": True, "at": NOW})
        yield client


def test_the_file_is_derived_well_formed_and_names_its_sources() -> None:
    path = spec.DATA / "anthropic.json"
    assert path.read_text() == derive_spec_data.render(DATA)
    assert len(DATA["source"]["sha256"]) == 64 and DATA["source"]["file"] == "anthropic-api.md"
    assert DATA["source"]["examples_from"]["repo"] == "gpambrozio/ClaudeDocs"
    for name, operation in DATA["operations"].items():
        assert operation["path"] == PATHS[name].removeprefix("/v1")
        for response in operation["responses"].values():
            Draft202012Validator.check_schema(response["schema"])
        for param in operation["parameters"]:
            assert {"name", "in", "required", "style", "explode", "schema"} <= set(param)


@pytest.mark.parametrize("operation", list(PATHS))
def test_the_docs_examples_validate_and_a_changed_field_does_not(operation: str) -> None:
    example = DATA["examples"][operation]
    assert not list(validator(operation).iter_errors(example))
    broken = json.loads(json.dumps(example))
    result = broken["data"][0]["results"][0]
    result["x_invented"] = 1  # a field no docs name
    assert list(validator(operation).iter_errors(broken))
    if operation == "cost-report":
        result.pop("x_invented")
        result["amount"] = 123.78912  # a number, not the documented decimal string
        assert list(validator(operation).iter_errors(broken))


def documented(result: dict[str, Any], operation: str) -> None:
    schema = DATA["operations"][operation]["responses"]["200"]["schema"]
    item = schema["properties"]["data"]["items"]["properties"]["results"]["items"]
    assert set(item["required"]) <= set(result) <= set(item["properties"]), sorted(result)


Params = list[tuple[str, str | int | float | bool | None]]


async def all_pages(
    client: httpx.AsyncClient, path: str, params: Params, headers: dict[str, str]
) -> list[dict[str, Any]]:
    pages = []
    for _ in range(50):
        answer = await client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        if not pages[-1]["has_more"]:
            return pages
        params = [p for p in params if p[0] != "page"] + [("page", pages[-1]["next_page"])]
    raise AssertionError("the cursor never ended")


GROUPINGS = [
    [],
    ["workspace_id", "api_key_id", "model"],
    ["account_id", "service_account_id", "inference_geo", "context_window", "service_tier"],
    ["speed", "workspace_id"],
]


@pytest.mark.parametrize("width", ["1m", "1h", "1d"])
@pytest.mark.parametrize("group_by", GROUPINGS, ids=lambda g: "+".join(g) or "none")
async def test_usage_answers_follow_the_docs(
    twin: httpx.AsyncClient, width: str, group_by: list[str]
) -> None:
    seconds = {"1m": 60, "1h": 3600, "1d": 86400}[width]
    start = NOW - 3 * seconds - 7  # not on a boundary: snapped down
    limit = 2
    params: Params = [("starting_at", iso(start)), ("bucket_width", width), ("limit", str(limit))]
    params += [("group_by[]", g) for g in group_by]
    headers = dict(HEADERS)
    if "speed" in group_by:
        headers["anthropic-beta"] = DATA["facts"]["usage-report-messages"]["beta"]["speed"]
    pages = await all_pages(twin, PATHS["usage-report-messages"], params, headers)
    buckets = [b for p in pages for b in p["data"]]
    for page in pages:
        assert not list(validator("usage-report-messages").iter_errors(page))
        assert len(page["data"]) <= limit, "limit counts buckets"
    starts = [int(dt.datetime.fromisoformat(b["starting_at"]).timestamp()) for b in buckets]
    first = start - start % seconds
    assert starts == list(range(first, NOW - NOW % seconds + 1, seconds)), "every bucket, in order"
    assert any(b["results"] for b in buckets)
    for bucket in buckets:
        for result in bucket["results"]:
            documented(result, "usage-report-messages")
            for dimension in DATA["facts"]["usage-report-messages"]["dimensions"]:
                if dimension not in group_by:
                    assert result[dimension] is None, dimension
            assert ("speed" in result) == ("speed" in group_by)


@pytest.mark.parametrize(
    "group_by", [[], ["workspace_id"], ["description"], ["workspace_id", "description"]]
)
async def test_cost_answers_follow_the_docs(twin: httpx.AsyncClient, group_by: list[str]) -> None:
    params: Params = [("starting_at", iso(NOW - 9 * 86400)), ("limit", "4")]
    params += [("group_by[]", g) for g in group_by]
    pages = await all_pages(twin, PATHS["cost-report"], params, HEADERS)
    assert len(pages) == 3 and [len(p["data"]) for p in pages] == [4, 4, 2]
    described = DATA["facts"]["cost-report"]["description_adds"]
    for page in pages:
        assert not list(validator("cost-report").iter_errors(page))
        for bucket in page["data"]:
            for result in bucket["results"]:
                documented(result, "cost-report")
                assert result["currency"] == "USD"
                if "description" not in group_by:
                    assert all(result[f] is None for f in ["description", *described])
                elif result["cost_type"] != "tokens":
                    assert result["model"] is None and result["token_type"] is None
                if "workspace_id" not in group_by:
                    assert result["workspace_id"] is None


START = ("starting_at", iso(NOW - 86400))
USAGE, COSTS = PATHS["usage-report-messages"], PATHS["cost-report"]


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        (USAGE, [("bucket_width", "1h")], HEADERS, 400),  # starting_at is required
        (USAGE, [START, ("limit", "169"), ("bucket_width", "1h")], HEADERS, 400),
        (USAGE, [START, ("limit", "1441"), ("bucket_width", "1m")], HEADERS, 400),
        (USAGE, [START, ("limit", "32")], HEADERS, 400),
        (USAGE, [START, ("group_by[]", "product")], HEADERS, 400),
        (USAGE, [START, ("group_by[]", "speed")], HEADERS, 400),  # without the beta header
        (COSTS, [START, ("group_by[]", "model")], HEADERS, 400),
        (COSTS, [START, ("bucket_width", "1h")], HEADERS, 400),
        (COSTS, [START, ("limit", "32")], HEADERS, 400),
        (COSTS, [START], {"x-api-key": "sk-ant-admin01-unknown"}, 401),
        (COSTS, [START], {"authorization": f"Bearer {KEY}"}, 401),
        (USAGE, [START], {**HEADERS, "x-api-key": WORKSPACE_KEY}, 403),
        (USAGE, [START], {"x-api-key": KEY}, 400),  # no anthropic-version
    ],
)
async def test_what_the_docs_refuse_is_refused_in_their_envelope(
    twin: httpx.AsyncClient, path: str, params: Params, headers: dict[str, str], status: int
) -> None:
    answer = await twin.get(path, params=params, headers=headers)
    assert answer.status_code == status, answer.text
    operation = next(k for k, v in PATHS.items() if v == path)
    assert not list(validator(operation, "default").iter_errors(answer.json()))


async def test_limits_default_as_documented_and_ending_at_filters_on_bucket_end(
    twin: httpx.AsyncClient,
) -> None:
    limits = DATA["facts"]["usage-report-messages"]["limits"]
    for width in ("1m", "1h", "1d"):
        params = {"starting_at": iso(NOW - 40 * 86400), "bucket_width": width}
        page = (
            await twin.get(PATHS["usage-report-messages"], params=params, headers=HEADERS)
        ).json()
        assert len(page["data"]) == limits[width]["default"], width
        assert page["has_more"] is True
    end = NOW - NOW % 3600 - 3600
    params = {
        "starting_at": iso(end - 3 * 3600),
        "ending_at": iso(end + 1800),
        "bucket_width": "1h",
    }
    page = (await twin.get(PATHS["usage-report-messages"], params=params, headers=HEADERS)).json()
    assert [b["ending_at"] for b in page["data"]][-1] == iso(end), "a bucket ending after it is out"
    assert page["has_more"] is False and page["next_page"] is None


def request_problems(operation: str, params: list[tuple[str, str]]) -> list[str]:
    """What in a request's query the derived data does not allow: unknown names, values outside
    an enum or bounds, a required parameter missing, a bucket limit above the width's."""
    declared = {p["name"]: p for p in DATA["operations"][operation]["parameters"]}
    problems = [
        f"missing {n}" for n, p in declared.items() if p["required"] and n not in dict(params)
    ]
    for name, value in params:
        param = declared.get(name)
        if param is None:
            problems.append(f"unknown parameter {name}")
            continue
        enum = param["schema"].get("items", param["schema"]).get("enum")
        if enum is not None and value not in enum:
            problems.append(f"{name}={value} not in {enum}")
        if param["type"] == "integer" and not param["minimum"] <= int(value) <= param["maximum"]:
            problems.append(f"{name}={value} out of bounds")
        if param["schema"].get("format") == "date-time" and not spec.FORMATS.conforms(
            value, "date-time"
        ):
            problems.append(f"{name}={value} is not a date-time")
    limits = DATA["facts"][operation]["limits"]
    width = dict(params).get("bucket_width", next(iter(limits)))
    if "limit" in dict(params) and int(dict(params)["limit"]) > limits[width]["maximum"]:
        problems.append(f"limit above {limits[width]['maximum']} for {width}")
    return problems


@pytest.mark.parametrize("width", ["1m", "1h", "1d"])
async def test_the_sources_requests_follow_the_docs(width: str) -> None:
    from exporter.model import Window
    from exporter.vendors.anthropic import PLUGIN
    from exporter.vendors.anthropic.config import ADMIN_GROUP_BY
    from exporter.vendors.anthropic.source import AnthropicSource
    from tests.fakes import make_source

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "has_more": False, "next_page": None})

    source = make_source(
        PLUGIN,
        answer,
        AnthropicSource,
        api_key=KEY,
        bucket_width=width,
        group_by=list(ADMIN_GROUP_BY),
    )
    for stream in await source.streams():
        await source.read(stream, Window(NOW - NOW % 86400 - 86400, NOW - NOW % 86400 + 86400))
    assert len(seen) == 2
    for request in seen:
        operation = next(k for k, v in PATHS.items() if v == request.url.path)
        params = list(request.url.params.multi_items())
        assert request_problems(operation, params) == [], (operation, params)
        assert request.headers["anthropic-beta"] == "fast-mode-2026-02-01"  # speed is grouped
    # the checker is not vacuous
    assert request_problems("cost-report", [("starting_at", "x"), ("bucket_width", "1h")])
    assert request_problems("usage-report-messages", [("limit", "1440"), ("bucket_width", "1h")])
