"""The OpenAI source's parsing and request shaping, against an httpx.MockTransport."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from exporter.model import Source, Window
from exporter.upstream import UpstreamError
from exporter.vendors.openai import PLUGIN
from exporter.vendors.openai.api import ENDPOINTS
from exporter.vendors.openai.metrics import FAMILIES
from exporter.vendors.openai.source import OpenAISource
from tests.fakes import Answers, Recorder, make_source

FAMILY_LABELS = {f.name: f.labels for f in FAMILIES}
KEY = "sk-admin-x"


def usage_source(handler: Answers, recorder: Recorder | None = None, **config: Any) -> Source:
    """The usage and costs source alone (not the names and limits read beside it)."""
    return make_source(PLUGIN, handler, OpenAISource, recorder=recorder, api_key=KEY, **config)


def page(buckets: list[dict[str, Any]], next_page: str | None = None) -> httpx.Response:
    body = {
        "object": "page",
        "data": buckets,
        "has_more": next_page is not None,
        "next_page": next_page,
    }
    return httpx.Response(200, json=body)


def bucket(start: int, results: list[dict[str, Any]], width: int = 3600) -> dict[str, Any]:
    return {"object": "bucket", "start_time": start, "end_time": start + width, "results": results}


async def read(source: Source, endpoint: str, window: Window) -> Any:
    streams = {s.name: s for s in await source.streams()}
    return await source.read(streams[endpoint], window)


async def test_pagination_follows_every_page_with_identical_params() -> None:
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        seen.append(query)
        cursor = query.get("page", [""])[0]
        index = {"": 0, "p1": 1, "p2": 2}[cursor]
        result = {
            "object": "organization.usage.completions.result",
            "input_tokens": 10 + index,
            "output_tokens": 1,
            "num_model_requests": 1,
            "model": "m",
            "project_id": None,
        }
        nxt = {0: "p1", 1: "p2", 2: None}[index]
        return page([bucket(3600 * index, [result])], nxt)

    recorder = Recorder()
    source = usage_source(handler, recorder, group_by=["model", "project_id"])
    got = await read(source, "completions", Window(0, 3 * 3600))
    assert [q.get("page") for q in seen] == [None, ["p1"], ["p2"]]
    for q in seen:
        assert q["start_time"] == ["0"] and q["end_time"] == [str(3 * 3600)]
        assert q["group_by"] == ["model", "project_id"]
    inputs = sorted(f.value for f in got.flows if f.family == "openai_input_tokens_total")
    assert inputs == [10.0, 11.0, 12.0]
    assert recorder.calls == [("completions", "200")] * 3


async def test_group_by_applies_only_supported_keys_and_override() -> None:
    queries: dict[str, list[str]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        queries[path] = parse_qs(urlsplit(str(request.url)).query).get("group_by", [])
        return page([])

    source = usage_source(
        handler,
        group_by=["project_id", "model", "line_item", "size"],
        overrides={"embeddings": {"group_by": ["user_id"]}},
    )
    for endpoint in ("completions", "costs", "images", "embeddings", "code_interpreter_sessions"):
        await read(source, endpoint, Window(0, 86400))
    assert queries["completions"] == ["project_id", "model"]
    assert queries["costs"] == ["project_id", "line_item"]
    assert queries["images"] == ["project_id", "model", "size"]
    assert queries["embeddings"] == ["user_id"]
    assert queries["code_interpreter_sessions"] == ["project_id"]


async def test_amounts_as_strings_unknown_fields_and_null_labels() -> None:
    results: list[dict[str, Any]] = [
        {
            "object": "organization.costs.result",
            "amount": {"value": "0.25", "currency": "usd"},
            "line_item": "gpt-4o, input",
            "project_id": None,
            "brand_new_field": 1,
        },
        {
            "object": "organization.costs.result",
            "amount": {"value": 0.5, "currency": "usd"},
            "line_item": "gpt-4o, input",
            "project_id": None,
        },
        {
            "object": "organization.costs.result",
            "amount": {"value": 9, "currency": "eur"},
            "line_item": "x",
            "project_id": None,
        },
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return page([bucket(0, results, 86400)])

    source = usage_source(handler, group_by=["line_item", "project_id"])
    got = await read(source, "costs", Window(0, 86400))
    labels = FAMILY_LABELS["openai_cost_usd_total"]
    values = [(dict(zip(labels, f.labels, strict=True)), f.value) for f in got.flows]
    # two rows with equal labels stay two flows: the ledger sums them within one read
    assert sorted(v for _, v in values) == [0.25, 0.5]
    empty = {"project_id": "", "api_key_id": "", "api_source": "", "user_id": ""}
    assert all(lbl == {**empty, "line_item": "gpt-4o, input"} for lbl, _ in values)
    assert got.unknown_fields == 1


async def test_a_wrong_type_fails_the_read_instead_of_counting_garbage() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        bad = {
            "object": "organization.usage.completions.result",
            "input_tokens": {"oops": 1},
            "output_tokens": 1,
            "num_model_requests": 1,
        }
        return page([bucket(0, [bad])])

    source = usage_source(handler)
    with pytest.raises(UpstreamError, match="input_tokens"):
        await read(source, "completions", Window(0, 3600))


async def test_every_endpoint_maps_its_quantities_to_declared_families() -> None:
    declared = set(FAMILY_LABELS)
    for spec in ENDPOINTS.values():
        for family, fixed in spec.quantities.values():
            assert family in declared
            assert set(fixed) <= set(FAMILY_LABELS[family])


async def test_vector_stores_is_a_level_from_the_newest_bucket() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        start = int(query["start_time"][0])
        return page(
            [
                bucket(
                    start,
                    [
                        {
                            "object": "organization.usage.vector_stores.result",
                            "usage_bytes": 100,
                            "project_id": "p",
                        }
                    ],
                    86400,
                ),
                bucket(
                    start + 86400,
                    [
                        {
                            "object": "organization.usage.vector_stores.result",
                            "usage_bytes": 250,
                            "project_id": "p",
                        }
                    ],
                    86400,
                ),
            ]
        )

    source = usage_source(handler)
    got = await read(source, "vector_stores", Window(200_000, 200_000))
    assert [(lv.family, lv.labels, lv.value) for lv in got.levels] == [
        ("openai_vector_store_bytes", ("p",), 250.0)
    ]
    assert got.flows == ()


async def test_malformed_page_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"object": "page", "data": "nope"}))

    source = usage_source(handler)
    with pytest.raises(UpstreamError, match="page object"):
        await read(source, "embeddings", Window(0, 3600))


# -- the API as it is today: decisions, cache-write split, api_source, user_id, quantities -----


async def test_decisions_feed_token_and_request_families_with_api_source() -> None:
    seen: list[tuple[str, dict[str, list[str]]]] = []
    result = {
        "object": "organization.usage.decisions.result",
        "input_tokens": 100,
        "output_tokens": 7,
        "num_model_requests": 3,
        "input_cache_write_tokens": 30,
        "input_cache_write_12h_tokens": 10,
        "input_cache_write_30m_tokens": 20,
        "input_cached_tokens": 40,
        "model": "gpt-6-luna",
        "project_id": "proj_a",
        "api_source": "agents_api",
        "batch": None,
        "service_tier": None,
        "user_id": None,
        "api_key_id": None,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, parse_qs(urlsplit(str(request.url)).query)))
        return page([bucket(0, [result])])

    source = usage_source(handler, group_by=["project_id", "model", "api_source"])
    got = await read(source, "decisions", Window(0, 3600))
    assert [p for p, _ in seen] == ["/v1/organization/usage/decisions"]
    assert seen[0][1]["group_by"] == ["project_id", "model", "api_source"]
    assert got.unknown_fields == 0
    values = {}
    for flow in got.flows:
        labels = dict(zip(FAMILY_LABELS[flow.family], flow.labels, strict=True))
        assert labels["endpoint"] == "decisions" and labels["api_source"] == "agents_api"
        assert labels["project_id"] == "proj_a" and labels["model"] == "gpt-6-luna"
        values[flow.family] = flow.value
    assert values == {
        "openai_input_tokens_total": 100,
        "openai_output_tokens_total": 7,
        "openai_model_requests_total": 3,
        "openai_input_cache_write_tokens_total": 30,
        "openai_input_cache_write_12h_tokens_total": 10,
        "openai_input_cache_write_30m_tokens_total": 20,
        "openai_input_cached_tokens_total": 40,
    }


async def test_api_source_is_asked_only_where_the_api_accepts_it() -> None:
    seen: list[tuple[str, dict[str, list[str]]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, parse_qs(urlsplit(str(request.url)).query)))
        return page([])

    source = usage_source(handler, group_by=["model", "api_source"])
    for endpoint in ("completions", "decisions", "web_search_calls", "costs", "embeddings"):
        await read(source, endpoint, Window(0, 86400))
    asked = {p.rsplit("/", 1)[-1]: q.get("group_by", []) for p, q in seen}
    assert asked == {
        "completions": ["model", "api_source"],
        "decisions": ["model", "api_source"],
        "web_search_calls": ["model", "api_source"],
        "costs": ["api_source"],
        "embeddings": ["model"],
    }


async def test_web_search_calls_carry_api_source_on_tools_and_requests() -> None:
    result = {
        "object": "organization.usage.web_searches.result",
        "num_requests": 5,
        "num_model_requests": 2,
        "api_source": "unlabeled",
        "context_level": "high",
    }
    source = usage_source(lambda r: page([bucket(0, [result])]), group_by=["api_source"])
    got = await read(source, "web_search_calls", Window(0, 3600))
    by_family = {
        f.family: dict(zip(FAMILY_LABELS[f.family], f.labels, strict=True)) for f in got.flows
    }
    assert by_family["openai_tool_calls_total"]["api_source"] == "unlabeled"
    assert by_family["openai_tool_calls_total"]["tool"] == "web_search"
    assert by_family["openai_model_requests_total"]["api_source"] == "unlabeled"


async def test_cost_quantities_keep_their_unit_verbatim_and_null_means_no_flow() -> None:
    results: list[dict[str, Any]] = [
        {  # a unit the API documents
            "object": "organization.costs.result",
            "amount": {"value": 0.5, "currency": "usd"},
            "line_item": "gpt-4o-mini, input",
            "quantity": 3906.25,
            "quantity_unit": "1000_tokens",
            "user_id": "user-ana",
            "api_source": "agents_api",
        },
        {  # a unit nobody has seen yet, and the quantity as a string
            "object": "organization.costs.result",
            "amount": {"value": 1.0, "currency": "usd"},
            "line_item": "web search tool calls",
            "quantity": "122",
            "quantity_unit": "calls",
            "user_id": "user-bo",
            "api_source": "unlabeled",
        },
        {  # no single unit: exported with an empty unit
            "object": "organization.costs.result",
            "amount": {"value": 2.0, "currency": "usd"},
            "line_item": "mixed",
            "quantity": 9,
            "quantity_unit": None,
        },
        {  # no quantity: the cost counts, the quantity does not
            "object": "organization.costs.result",
            "amount": {"value": 4.0, "currency": "usd"},
            "line_item": "gpt-4.1, input",
            "quantity": None,
            "quantity_unit": None,
        },
    ]
    source = usage_source(
        lambda r: page([bucket(0, results, 86400)]),
        group_by=["line_item", "api_source"],
        overrides={"costs": {"group_by": ["line_item", "user_id", "api_source"]}},
    )
    got = await read(source, "costs", Window(0, 86400))
    assert got.unknown_fields == 0
    quantities = {
        (
            labels["line_item"],
            labels["quantity_unit"],
            labels["user_id"],
            labels["api_source"],
        ): f.value
        for f in got.flows
        if f.family == "openai_cost_quantity_total"
        for labels in [dict(zip(FAMILY_LABELS[f.family], f.labels, strict=True))]
    }
    assert quantities == {
        ("gpt-4o-mini, input", "1000_tokens", "user-ana", "agents_api"): 3906.25,
        ("web search tool calls", "calls", "user-bo", "unlabeled"): 122.0,
        ("mixed", "", "", ""): 9.0,
    }
    costs = sorted(f.value for f in got.flows if f.family == "openai_cost_usd_total")
    assert costs == [0.5, 1.0, 2.0, 4.0]


async def test_costs_take_user_id_from_the_override_only() -> None:
    asked: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(parse_qs(urlsplit(str(request.url)).query).get("group_by", []))
        return page([])

    # a list written for the usage endpoints before costs accepted user_id keeps its meaning
    source = usage_source(handler, group_by=["project_id", "user_id", "line_item"])
    await read(source, "costs", Window(0, 86400))
    source = usage_source(handler, overrides={"costs": {"group_by": ["line_item", "user_id"]}})
    await read(source, "costs", Window(0, 86400))
    assert asked == [["project_id", "line_item"], ["line_item", "user_id"]]


async def test_a_refused_user_id_grouping_says_what_to_change() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        message = "Grouping costs by 'user_id' together with 'project_id' is not supported."
        return httpx.Response(400, json={"error": {"message": message, "param": "group_by"}})

    source = usage_source(handler, overrides={"costs": {"group_by": ["project_id", "user_id"]}})
    with pytest.raises(UpstreamError) as caught:
        await read(source, "costs", Window(0, 86400))
    assert caught.value.status == 400
    assert "overrides.costs.group_by" in str(caught.value) and "user_id" in str(caught.value)
    # without user_id a 400 is passed on as it came
    source = usage_source(handler, group_by=["project_id"])
    with pytest.raises(UpstreamError) as caught:
        await read(source, "costs", Window(0, 86400))
    assert "overrides" not in str(caught.value)
