"""The Anthropic legacy source (`api: admin`): its requests, and its parser on the docs' response
examples and on edge cases, against an httpx.MockTransport. Cents become dollars exactly, nulls
become their fixed labels, empty buckets are covered, pages are followed and garbage fails the
read."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from exporter.model import Flow, Source, Stream, StreamRead, Window
from exporter.upstream import UpstreamError
from exporter.vendors.anthropic import PLUGIN
from exporter.vendors.anthropic.families import COST_LABELS, USAGE_LABELS
from exporter.vendors.anthropic.source import AnthropicSource
from tests.conformance import spec
from tests.fakes import Answers, make_source

KEY = "sk-ant-admin01-unit"
DAY = 86400
H0 = 1_785_542_400  # 2026-08-01T00:00:00Z
EXAMPLES = json.loads((spec.DATA / "anthropic.json").read_text())["examples"]


def make(handler: Answers, **config: Any) -> Source:
    """The usage and cost source alone (not the names read beside it)."""
    return make_source(PLUGIN, handler, AnthropicSource, api_key=KEY, **config)


def iso(t: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bucket(start: int, width: int, results: list[Any]) -> dict[str, Any]:
    return {"starting_at": iso(start), "ending_at": iso(start + width), "results": results}


def report(buckets: list[Any], next_page: str | None = None) -> httpx.Response:
    body = {"data": buckets, "has_more": next_page is not None, "next_page": next_page}
    return httpx.Response(200, json=body)


async def read(source: Source, name: str, window: Window) -> StreamRead:
    streams = {s.name: s for s in await source.streams()}
    return await source.read(streams[name], window)


def labels(flow: Flow, names: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(names, flow.labels, strict=True))


async def test_requests_carry_the_key_version_and_the_documented_parameters() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return report([])

    source = make(handler, group_by=["workspace_id", "speed"], bucket_width="1h")
    await read(source, "messages", Window(H0, H0 + 3 * 3600))
    await read(source, "costs", Window(H0, H0 + 2 * DAY))
    usage, cost = seen
    assert usage.url.path == "/v1/organizations/usage_report/messages"
    assert cost.url.path == "/v1/organizations/cost_report"
    for request in seen:
        assert request.headers["x-api-key"] == KEY and "authorization" not in request.headers
        assert request.headers["anthropic-version"] == "2023-06-01"
        assert request.headers["anthropic-beta"] == "fast-mode-2026-02-01"
    assert parse_qsl(urlsplit(str(usage.url)).query) == [
        ("starting_at", "2026-08-01T00:00:00Z"),
        ("ending_at", "2026-08-01T03:00:00Z"),
        ("bucket_width", "1h"),
        ("limit", "168"),
        ("group_by[]", "workspace_id"),
        ("group_by[]", "speed"),
    ]
    assert parse_qsl(urlsplit(str(cost.url)).query) == [
        ("starting_at", "2026-08-01T00:00:00Z"),
        ("ending_at", "2026-08-03T00:00:00Z"),
        ("bucket_width", "1d"),
        ("limit", "31"),
        ("group_by[]", "workspace_id"),
        ("group_by[]", "description"),
    ]


async def test_no_beta_header_without_speed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return report([])

    source = make(handler)
    await read(source, "messages", Window(H0, H0 + 3600))
    assert "anthropic-beta" not in seen[0].headers


async def test_the_docs_usage_example_becomes_six_counters() -> None:
    example = EXAMPLES["usage-report-messages"]
    source = make(lambda r: httpx.Response(200, json={**example, "has_more": False}))
    got = await read(source, "messages", Window(1_754_006_400, 1_754_006_400 + DAY))
    by_family = {f.family: f for f in got.flows}
    assert {f: by_family[f].value for f in by_family} == {
        "anthropic_input_uncached_tokens_total": 1500,
        "anthropic_input_cache_read_tokens_total": 200,
        "anthropic_input_cache_write_5m_tokens_total": 500,
        "anthropic_input_cache_write_1h_tokens_total": 1000,
        "anthropic_output_tokens_total": 500,
        "anthropic_web_search_requests_total": 10,
    }
    flow = by_family["anthropic_output_tokens_total"]
    assert (flow.start, flow.end) == (1_754_006_400, 1_754_006_400 + DAY)
    assert labels(flow, USAGE_LABELS) == {
        "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
        "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
        "model": "claude-sonnet-4-20250514",
        # not grouped by: empty, whatever the API says (service_tier and context_window are set
        # in the example, as if grouped)
        "service_tier": "",
        "context_window": "",
        "inference_geo": "",
        "speed": "",
        "account_id": "",
        "service_account_id": "",
        "product": "",
    }
    assert got.unknown_fields == 0


async def test_the_docs_cost_example_is_cents_read_exactly() -> None:
    example = EXAMPLES["cost-report"]
    source = make(lambda r: httpx.Response(200, json={**example, "has_more": False}))
    got = await read(source, "costs", Window(1_754_006_400, 1_754_006_400 + DAY))
    (flow,) = got.flows
    assert flow.family == "anthropic_cost_usd_total"
    assert flow.value == float(Decimal("1.2378912"))  # "123.78912" cents
    assert labels(flow, COST_LABELS) == {
        "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
        "cost_type": "tokens",
        "token_type": "uncached_input_tokens",
        "model": "claude-sonnet-4-20250514",
        "service_tier": "standard",
        "context_window": "0-200k",
        "api_key_id": "",
    }


async def test_amounts_are_summed_in_decimal_and_converted_once() -> None:
    # Two results of one series (cost grouped by workspace only): 10 and 20 cents.
    results = [{"amount": a, "currency": "USD", "workspace_id": None} for a in ("10", "20")]
    results.append({"amount": "123456789.123456789", "currency": "USD", "workspace_id": "w"})
    source = make(lambda r: report([bucket(H0, DAY, results)]), cost_group_by=["workspace_id"])
    got = await read(source, "costs", Window(H0, H0 + DAY))
    values = {labels(f, COST_LABELS)["workspace_id"]: f.value for f in got.flows}
    assert values["default"] == 0.3  # not 0.1 + 0.2 == 0.30000000000000004
    assert values["default"] != 0.1 + 0.2
    assert values["w"] == float(Decimal("1234567.89123456789"))
    assert abs(values["w"] - 1234567.89123456789) < 1e-6


async def test_null_dimensions_get_their_fixed_labels_and_ungrouped_ones_stay_empty() -> None:
    result = {
        "workspace_id": None,
        "api_key_id": None,
        "model": None,
        "inference_geo": "not_available",
        "output_tokens": 7,
    }
    source = make(
        lambda r: report([bucket(H0, 3600, [result])]),
        group_by=["workspace_id", "api_key_id", "model", "inference_geo", "service_tier"],
    )
    got = await read(source, "messages", Window(H0, H0 + 3600))
    (flow,) = got.flows
    assert labels(flow, USAGE_LABELS) | {} == {
        "workspace_id": "default",
        "api_key_id": "console",
        "model": "none",
        "inference_geo": "not_available",
        "service_tier": "none",  # grouped, absent from the result: null
        "context_window": "",
        "speed": "",
        "account_id": "",
        "service_account_id": "",
        "product": "",
    }
    cost = {"amount": "5", "currency": "USD", "workspace_id": None, "description": "Web Search",
            "cost_type": "web_search", "model": None, "token_type": None}  # fmt: skip
    source = make(lambda r: report([bucket(H0, DAY, [cost])]))
    (flow,) = (await read(source, "costs", Window(H0, H0 + DAY))).flows
    assert labels(flow, COST_LABELS) == {
        "workspace_id": "default",
        "cost_type": "web_search",
        "token_type": "none",
        "model": "none",
        "service_tier": "none",
        "context_window": "none",
        "api_key_id": "",
    }


async def test_empty_buckets_are_covered_and_count_nothing() -> None:
    buckets = [bucket(H0 + i * 60, 60, []) for i in range(5)]
    source = make(lambda r: report(buckets), bucket_width="1m")
    got = await read(source, "messages", Window(H0, H0 + 300))
    assert (got.start, got.end, list(got.flows)) == (H0, H0 + 300, [])


async def test_coverage_ends_at_the_last_bucket_the_api_returned() -> None:
    source = make(lambda r: report([bucket(H0, 3600, [])]))
    got = await read(source, "messages", Window(H0, H0 + 3 * 3600))
    assert (got.start, got.end) == (H0, H0 + 3600)


async def test_pages_are_followed_with_the_cursor_and_bounded() -> None:
    pages = {
        None: report([bucket(H0, 3600, [{"output_tokens": 1}])], next_page="2026-08-01T01:00:00Z"),
        "2026-08-01T01:00:00Z": report(
            [bucket(H0 + 3600, 3600, [{"output_tokens": 2}])], next_page="2026-08-01T02:00:00Z"
        ),
        "2026-08-01T02:00:00Z": report([bucket(H0 + 7200, 3600, [{"output_tokens": 4}])]),
    }
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page")
        asked.append(page)
        assert request.url.params.get("starting_at") == iso(H0), "parameters never change"
        return pages[page]

    source = make(handler, group_by=[])
    got = await read(source, "messages", Window(H0, H0 + 3 * 3600))
    assert asked == [None, "2026-08-01T01:00:00Z", "2026-08-01T02:00:00Z"]
    assert sorted(f.value for f in got.flows) == [1, 2, 4]

    def looping(request: httpx.Request) -> httpx.Response:
        return report([bucket(H0, 3600, [])], next_page="2026-08-01T01:00:00Z")

    source = make(looping)
    with pytest.raises(UpstreamError, match="cursor repeated"):
        await read(source, "messages", Window(H0, H0 + 3 * 3600))


async def test_unknown_fields_are_counted_not_fatal() -> None:
    result = {
        "output_tokens": 3,
        "speed": "fast",
        "x_new_count": 9,
        "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_24h_input_tokens": 2},
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 5},
    }
    body = {**json.loads(report([bucket(H0, 3600, [result])]).content), "x_page": 1}
    body["data"][0]["x_bucket"] = True
    source = make(lambda r: httpx.Response(200, json=body))
    got = await read(source, "messages", Window(H0, H0 + 3600))
    assert got.unknown_fields == 5
    assert sum(f.value for f in got.flows) == 4


async def test_other_currencies_are_skipped_and_the_budget_is_a_level() -> None:
    results = [
        {"amount": "100", "currency": "EUR", "workspace_id": "w"},
        {"amount": "250", "currency": "USD", "workspace_id": "w"},
    ]
    source = make(lambda r: report([bucket(H0, DAY, results)]), monthly_budget_usd=300)
    got = await read(source, "costs", Window(H0, H0 + DAY))
    assert [f.value for f in got.flows] == [2.5]
    assert [(lv.family, lv.value) for lv in got.levels] == [("anthropic_cost_budget_usd", 300)]


def _with(field: str, value: Any) -> dict[str, Any]:
    return {"data": [bucket(H0, DAY, [{"amount": "1", "currency": "USD", field: value}])]}


GARBAGE: list[tuple[str, str, Any]] = [
    ("costs", "amount as a number", {"data": [bucket(H0, DAY, [{"amount": 12.5}])]}),
    ("costs", "amount not a number", {"data": [bucket(H0, DAY, [{"amount": "12,5"}])]}),
    ("costs", "amount NaN", {"data": [bucket(H0, DAY, [{"amount": "NaN"}])]}),
    ("costs", "amount infinite", {"data": [bucket(H0, DAY, [{"amount": "Infinity"}])]}),
    ("costs", "amount negative", {"data": [bucket(H0, DAY, [{"amount": "-3"}])]}),
    ("costs", "amount missing", {"data": [bucket(H0, DAY, [{"currency": "USD"}])]}),
    ("costs", "workspace an object", _with("workspace_id", {"id": "w"})),
    ("messages", "count a string", {"data": [bucket(H0, 3600, [{"output_tokens": "7"}])]}),
    ("messages", "count fractional", {"data": [bucket(H0, 3600, [{"output_tokens": 1.5}])]}),
    ("messages", "count negative", {"data": [bucket(H0, 3600, [{"output_tokens": -1}])]}),
    ("messages", "count a boolean", {"data": [bucket(H0, 3600, [{"output_tokens": True}])]}),
    ("messages", "nested not an object", {"data": [bucket(H0, 3600, [{"cache_creation": 5}])]}),
    ("messages", "result not an object", {"data": [bucket(H0, 3600, ["tokens"])]}),
    ("messages", "results not a list", {"data": [{**bucket(H0, 3600, []), "results": {}}]}),
    ("messages", "results missing", {"data": [{"starting_at": iso(H0), "ending_at": iso(H0)}]}),
    ("messages", "bucket time missing", {"data": [{"ending_at": iso(H0), "results": []}]}),
    ("messages", "bucket ends first", {"data": [bucket(H0, -3600, [])]}),
    ("messages", "bucket not an object", {"data": [[]]}),
    ("messages", "data not a list", {"data": {}}),
    ("messages", "not an object", [1, 2]),
]


@pytest.mark.parametrize(
    ("stream", "body"), [(s, b) for s, _, b in GARBAGE], ids=[w for _, w, _ in GARBAGE]
)
async def test_garbage_fails_the_read(stream: str, body: Any) -> None:
    source = make(lambda r: httpx.Response(200, json=body), group_by=["workspace_id"])
    width = DAY if stream == "costs" else 3600
    with pytest.raises(UpstreamError):
        await read(source, stream, Window(H0, H0 + width))


async def test_refusals_carry_anthropic_hints() -> None:
    error = {"type": "error", "error": {"type": "permission_error", "message": "no admin"}}
    source = make(lambda r: httpx.Response(403, json=error))
    with pytest.raises(UpstreamError, match=r"workspace-scoped keys.*no admin") as raised:
        await read(source, "messages", Window(H0, H0 + 3600))
    assert KEY not in str(raised.value)


async def test_streams_follow_the_configuration() -> None:
    source = make(lambda r: report([]), bucket_width="1m", endpoints=["messages"])
    assert list(await source.streams()) == [Stream("messages", 60, 1800, 7 * DAY)]
    source = make(lambda r: report([]), endpoints=["costs"], cost_lookback="3d")
    assert list(await source.streams()) == [Stream("costs", DAY, 3 * DAY, 7 * DAY, True)]
