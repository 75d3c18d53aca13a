"""The official `anthropic` package (2.10, in the test extra) reads the Anthropic twin over
loopback. The Analytics API (beta) through its typed client,
`client.beta.organization.analytics.usage.list(...)` and `.cost.list(...)`: every row of every
page (small pages, so the SDK follows `next_page`), into `BetaAnalyticsUsageItem` /
`BetaAnalyticsCostItem` with strict response validation and no field the SDK does not declare,
summed per group and compared with the twin's ground truth (`/_sim/anthropic/truth`). The key
goes in `x-api-key` through `default_headers` with no `api_key` (the SDK would send it as a
bearer token), and the SDK's environment variables are unset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from exporter.vendors.anthropic.expected import TOKENS
from tests.harness import Process, http_json
from tests.integration.anthropic_sdk_client import anthropic, sdk_client, sdk_simulator
from tests.sdk_models import undeclared

KEY, ORG = "sk-ant-admin01-sdk-test", "org-sdk"
H, D = 3600, 86400
USAGE_GROUP = ["workspace_id", "api_key_id", "model", "service_tier", "product"]
COST_GROUP = ["workspace_id", "model", "cost_type", "token_type"]
USAGE_FIELDS = (*TOKENS, "requests")  # the twin's counted fields, dotted: nested objects


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Process]:
    with sdk_simulator(tmp_path, monkeypatch, KEY, ORG) as process:
        http_json(f"{process.url}/_sim/clock", method="POST", body={"freeze": True})
        yield process


def client(sim: Process, key: str = KEY) -> Any:
    return sdk_client(sim, key)


def now(sim: Process) -> int:
    return int(http_json(f"{sim.url}/_sim/clock")["now"])


def truth(sim: Process, endpoint: str, group_by: list[str], start: int) -> list[dict[str, Any]]:
    query = urlencode(
        [("org", ORG), ("endpoint", endpoint), ("api", "analytics"), ("start", str(start))]
        + [("group_by", g) for g in group_by]
    )
    rows: list[dict[str, Any]] = http_json(f"{sim.url}/_sim/anthropic/truth?{query}")["rows"]
    return rows


def report_pages(sdk: Any, path: str, **params: Any) -> list[Any]:
    """Every page of a legacy Admin report, read with the SDK's generic pager (`get_api_list`
    with `SyncReportPageCursor`): the SDK has no routes of its own for them."""
    from anthropic.pagination import SyncReportPageCursor

    page = SyncReportPageCursor[dict[str, Any]]
    pager = sdk.get_api_list(path, model=dict[str, Any], page=page, options={"params": params})
    return list(pager.iter_pages())


def every_row(report: Any, start: int, end: int, width: str, **options: Any) -> list[Any]:
    """Every row of every page of an Analytics report (`usage`, `cost`) for the buckets of
    `width` from `start` to `end` (unix times); none holds a field the SDK does not declare."""
    pages = report.list(
        starting_at=anthropic_time(start),
        ending_at=anthropic_time(end),
        time_bucket_width=width,
        **options,
    )
    rows = list(pages)
    assert [f for i, r in enumerate(rows) for f in undeclared(r, f"[{i}]")] == []
    return rows


def analytics(value: Any) -> Any:
    """A truth row's dimension as the Analytics API shows it (no `not_available` geo)."""
    return None if value == "not_available" else value


def field(usage: Any, dotted: str) -> int:
    outer, _, inner = dotted.partition(".")
    value = getattr(usage, outer)
    return int(getattr(value, inner) if inner else value)


def test_the_typed_sdk_reads_every_usage_row_of_every_page_and_they_equal_the_truth(
    sim: Process,
) -> None:
    t = now(sim)
    start = t - t % H - 5 * D
    report = client(sim).beta.organization.analytics.usage
    options = {"group_by": USAGE_GROUP, "limit": 50, "order_by": "time", "order": "asc"}
    rows = every_row(report, start, t - t % H + H, "1h", **options)
    assert {type(r).__name__ for r in rows} == {"BetaAnalyticsUsageItem"}
    got: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in rows:
        group = row.group.model_dump()
        assert all(v is None for k, v in group.items() if k not in USAGE_GROUP)
        sums = got.setdefault(tuple(group[k] for k in USAGE_GROUP), dict.fromkeys(USAGE_FIELDS, 0))
        for name in USAGE_FIELDS:
            sums[name] += field(row.usage, name)
    want: dict[tuple[Any, ...], dict[str, int]] = {}
    for entry in truth(sim, "messages", USAGE_GROUP, start):
        key = tuple(analytics(entry["group"][k]) for k in USAGE_GROUP)
        sums = want.setdefault(key, dict.fromkeys(USAGE_FIELDS, 0))
        for name in USAGE_FIELDS:
            sums[name] += int(entry["values"][name])
    assert got == want
    assert len(rows) > 50  # several pages: the SDK followed next_page
    log = http_json(f"{sim.url}/_sim/requests")["requests"]
    assert len([r for r in log if "page=" in r["query"]]) >= len(rows) // 50


def test_the_typed_sdk_reads_every_cost_row_and_the_cents_equal_the_truth(sim: Process) -> None:
    t = now(sim)
    start = t - t % D - 20 * D
    report = client(sim).beta.organization.analytics.cost
    rows = every_row(report, start, t - t % D + D, "1d", group_by=COST_GROUP, limit=3)
    assert {type(r).__name__ for r in rows} == {"BetaAnalyticsCostItem"}
    amounts: dict[tuple[Any, ...], list[Decimal]] = {}
    for row in rows:
        assert isinstance(row.cost.amount, str) and row.cost.currency == "USD"
        assert row.cost.requests is None  # grouped by cost_type and token_type
        group = row.group.model_dump()
        sums = amounts.setdefault(tuple(group[k] for k in COST_GROUP), [Decimal(0), Decimal(0)])
        sums[0] += Decimal(row.cost.amount)
        sums[1] += Decimal(row.cost.list_amount)
    want = {
        tuple(analytics(e["group"][k]) for k in COST_GROUP): [
            Decimal(e["amount"]),
            Decimal(e["list_amount"]),
        ]
        for e in truth(sim, "costs", COST_GROUP, start)
    }
    assert amounts == want
    assert any(a < la for a, la in amounts.values())  # a discount: net below list somewhere


def test_the_analytics_twin_refuses_what_the_api_refuses(sim: Process) -> None:
    t = now(sim)
    usage = client(sim).beta.organization.analytics.usage
    day = anthropic_time(t - t % D - D)
    with pytest.raises(anthropic.BadRequestError):  # more than 5 dimensions
        list(
            usage.list(
                starting_at=day,
                ending_at=anthropic_time(t - t % D),
                time_bucket_width="1d",
                group_by=[*USAGE_GROUP, "speed"],
            )
        )
    with pytest.raises(anthropic.BadRequestError):  # a bucket width without ending_at
        list(usage.list(starting_at=day, time_bucket_width="1h"))
    with pytest.raises(anthropic.BadRequestError):  # a span over 31 days
        list(usage.list(starting_at=anthropic_time(t - 40 * D), ending_at=day))
    with pytest.raises(anthropic.AuthenticationError):
        list(
            client(sim, key="sk-ant-admin01-unknown").beta.organization.analytics.usage.list(
                starting_at=day
            )
        )


def anthropic_time(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc3339(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_generic_pager_reads_every_legacy_bucket_and_they_equal_the_truth(
    sim: Process,
) -> None:
    """The SDK has no legacy Admin routes: its generic pager (`get_api_list` with
    `SyncReportPageCursor`) reads the messages usage and cost reports, every bucket of every
    page (empty ones included), and the sums equal the twin's ground truth exactly."""

    sdk = client(sim)
    t = now(sim)
    start = t - t % H - 30 * H
    group_by = ["workspace_id", "api_key_id", "model", "service_tier"]
    pages = report_pages(
        sdk,
        "/v1/organizations/usage_report/messages",
        starting_at=_rfc3339(start),
        bucket_width="1h",
        limit=7,
        group_by=group_by,
    )
    assert len(pages) == 5 and all(len(p.data) <= 7 for p in pages), "limit counts buckets"
    buckets = [b for p in pages for b in p.data]
    starts = [int(dt.datetime.fromisoformat(b["starting_at"]).timestamp()) for b in buckets]
    assert starts == list(range(start, t - t % H + 1, H)), "every bucket once, in order"
    got: dict[tuple[Any, ...], dict[str, int]] = {}
    for bucket in buckets:
        for result in bucket["results"]:
            sums = got.setdefault(tuple(result[g] for g in group_by), dict.fromkeys(FIELDS, 0))
            for name in FIELDS:
                outer, _, inner = name.partition(".")
                sums[name] += result[outer][inner] if inner else result[outer]
    query = urlencode(
        [("org", ORG), ("endpoint", "messages"), ("start", str(start))]
        + [("group_by", g) for g in group_by]
    )
    rows = http_json(f"{sim.url}/_sim/anthropic/truth?{query}")["rows"]
    want = {
        tuple(row["group"][g] for g in group_by): {n: row["values"][n] for n in FIELDS}
        for row in rows
    }
    assert len(want) >= 5 and got == want

    cost_pages = report_pages(
        sdk,
        "/v1/organizations/cost_report",
        starting_at=_rfc3339(t - t % D - 8 * D),
        limit=2,
        group_by=["workspace_id", "description"],
    )
    assert len(cost_pages) == 5
    cents: dict[tuple[Any, Any], Decimal] = {}
    for page in cost_pages:
        for bucket in page.data:
            for result in bucket["results"]:
                key = (result["workspace_id"], result["description"])
                cents[key] = cents.get(key, Decimal(0)) + Decimal(result["amount"])
    query = urlencode(
        [("org", ORG), ("endpoint", "costs"), ("api", "admin"), ("start", str(t - t % D - 8 * D))]
        + [("group_by", g) for g in ("workspace_id", "description")]
    )
    rows = http_json(f"{sim.url}/_sim/anthropic/truth?{query}")["rows"]
    want_cents = {
        (row["group"]["workspace_id"], row["group"]["description"]): Decimal(row["amount"])
        for row in rows
    }
    assert len(want_cents) >= 10 and cents == want_cents


FIELDS = USAGE_FIELDS[:-1]  # the legacy report has no request count
