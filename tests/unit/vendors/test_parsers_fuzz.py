"""Every source parser, fed arbitrary JSON: it returns a read or raises UpstreamError, never
anything else (which would be a bug that a drifting upstream could trigger)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.model import Source, StreamRead, Unavailable, Window
from exporter.upstream import UpstreamError
from exporter.vendors import plugins
from tests.fakes import make_source

SCALARS = st.none() | st.booleans() | st.integers(-10, 10**12) | st.floats() | st.text(max_size=8)
KEYS = st.sampled_from(
    [
        "data",
        "results",
        "start_time",
        "end_time",
        "has_more",
        "next_page",
        "object",
        "amount",
        "value",
        "currency",
        "input_tokens",
        "input_cache_write_12h_tokens",
        "input_cache_write_30m_tokens",
        "num_model_requests",
        "quantity",
        "quantity_unit",
        "api_source",
        "user_id",
        "model",
        "count",
        "inference",
        "rule_type",
        "task_id",
        "categories",
        "total",
        "timestamp",
        "ops",
        "category",
        "success",
        "timeSeries",
        "requests",
        "usage",
        "averageLatency",
        "successRate",
        "pagination",
        "hasMore",
        "rateLimits",
        "alerts",
        "size",
        "num_objects",
        "breakdown",
        "byEndpoint",
        "errors",
        "byType",
        "current",
    ]
) | st.text(max_size=6)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=30,
)
# Documents shaped like the real ones, with arbitrary values inside, reach deeper code.
TIMESTAMP = st.sampled_from(["2026-08-20T13:00:00Z", "2026-08-20T14:00:00Z", "garbage"]) | JSON
SHAPED = st.one_of(
    st.fixed_dictionaries(
        {
            "object": st.just("page"),
            "has_more": st.just(False),
            "data": st.lists(
                st.fixed_dictionaries(
                    {
                        "start_time": st.integers(0, 10**6) | JSON,
                        "end_time": st.integers(0, 10**6) | JSON,
                        "results": st.lists(st.dictionaries(KEYS, JSON), max_size=3) | JSON,
                    }
                ),
                max_size=3,
            ),
        }
    ),
    st.lists(
        st.fixed_dictionaries(
            {"rule_type": JSON, "task_id": JSON, "count": st.dictionaries(KEYS, JSON) | JSON}
        ),
        max_size=3,
    ),
    st.fixed_dictionaries(
        {
            "data": st.lists(
                st.fixed_dictionaries(
                    {
                        "timestamp": TIMESTAMP,
                        "categories": st.lists(st.dictionaries(KEYS, JSON), max_size=3) | JSON,
                        "total": JSON,
                        "size": JSON,
                        "num_objects": JSON,
                    }
                ),
                max_size=3,
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "success": st.just(True),
            "timeSeries": st.lists(
                st.dictionaries(KEYS, JSON)
                | st.fixed_dictionaries({"timestamp": TIMESTAMP, "requests": JSON}),
                max_size=3,
            ),
            "usage": st.dictionaries(KEYS, JSON) | JSON,
            "breakdown": JSON,
            "errors": JSON,
            "rateLimits": st.dictionaries(KEYS, st.dictionaries(KEYS, JSON) | JSON) | JSON,
            "alerts": JSON,
            "pagination": st.just({"hasMore": False}) | JSON,
        }
    ),
)


def sources(body: bytes) -> dict[str, Source]:
    """A source of every registered kind (its parts too: names, limits), all given `body`."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    return {p.kind: make_source(p, handler, **p.example) for p in plugins()}


async def read_all(body: bytes) -> None:
    for source in sources(body).values():
        for stream in await source.streams():
            try:
                read = await source.read(stream, Window(0, 3 * 3600))
            except (UpstreamError, Unavailable):  # (Unavailable: a resource refused for good)
                continue
            assert isinstance(read, StreamRead)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, SHAPED))
def test_arbitrary_json_never_crashes_a_parser(document: Any) -> None:
    body = json.dumps(document, allow_nan=True).encode()
    asyncio.run(read_all(body))


def test_the_fuzzed_openai_source_reads_every_endpoint_decisions_included() -> None:
    async def names() -> set[str]:
        return {s.name for s in await sources(b"{}")["openai"].streams()}

    assert {"decisions", "completions", "costs"} <= asyncio.run(names())
