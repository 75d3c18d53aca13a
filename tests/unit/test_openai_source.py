"""The OpenAI source's parsing and request shaping, against an httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from exporter.config import OpenAISource as OpenAIConfig
from exporter.model import Window
from exporter.sources.openai import ENDPOINTS, FAMILIES, OpenAISource
from exporter.upstream import Upstream, UpstreamError, UpstreamSettings

FAMILY_LABELS = {f.name: f.labels for f in FAMILIES}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def upstream_request(self, target: str, source: str, endpoint: str, code: str) -> None:
        self.calls.append((endpoint, code))

    def rate_limit_remaining(self, target: str, source: str, value: float) -> None:
        pass


def make_source(
    handler: Callable[[httpx.Request], httpx.Response], **config: Any
) -> tuple[OpenAISource, Recorder]:
    recorder = Recorder()
    settings = UpstreamSettings(
        target="t",
        source="openai",
        base_url="http://127.0.0.1:1",
        headers={},
        secret="sk-admin-x",
        retries=0,
    )
    upstream = Upstream(settings, recorder, transport=httpx.MockTransport(handler))
    cfg = OpenAIConfig.model_validate(
        {"kind": "openai", "name": "t", "api_key": "sk-admin-x", **config}
    )
    return OpenAISource(cfg, upstream), recorder


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


async def read(source: OpenAISource, endpoint: str, window: Window) -> Any:
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

    source, recorder = make_source(handler, group_by=["model", "project_id"])
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

    source, _ = make_source(
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
    results = [
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

    source, _ = make_source(handler, group_by=["line_item", "project_id"])
    got = await read(source, "costs", Window(0, 86400))
    labels = FAMILY_LABELS["openai_cost_usd_total"]
    values = [(dict(zip(labels, f.labels, strict=True)), f.value) for f in got.flows]
    # two rows with equal labels stay two flows: the ledger sums them within one read
    assert sorted(v for _, v in values) == [0.25, 0.5]
    assert all(
        lbl == {"project_id": "", "line_item": "gpt-4o, input", "api_key_id": ""}
        for lbl, _ in values
    )
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

    source, _ = make_source(handler)
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

    source, _ = make_source(handler)
    got = await read(source, "vector_stores", Window(200_000, 200_000))
    assert [(lv.family, lv.labels, lv.value) for lv in got.levels] == [
        ("openai_vector_store_bytes", ("p",), 250.0)
    ]
    assert got.flows == ()


async def test_malformed_page_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"object": "page", "data": "nope"}))

    source, _ = make_source(handler)
    with pytest.raises(UpstreamError, match="page object"):
        await read(source, "embeddings", Window(0, 3600))
