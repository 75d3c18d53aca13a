"""What the vendors' end-to-end test checks beyond what every vendor gets: per vendor, the faults
it meets besides its demo's (`FAULTS`) and a check of its own (`CHECKS`: API coverage, pagination,
gauges), run on the settled stack with the twin's truth of each of its targets.

A vendor without an entry here is still held to the whole common check
(tests/e2e/test_prometheus_vendors.py).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from exporter.simulator.compare import SeriesKey, key
from exporter.vendors.anthropic.config import AnthropicConfig
from tests.e2e.stack import Fault, Stack, who
from tests.harness import created, http, http_json

Truths = Mapping[str, dict[SeriesKey, float]]  # by target name
Check = Callable[[Stack, Truths], None]

FAULTS: Mapping[str, Sequence[Fault]] = {
    "openai": (
        {"kind": "status", "status": 503, "path_contains": "costs", "count": 1},
        {"kind": "page_error", "path_contains": "embeddings", "count": 1},
    ),
    "telnyx": (
        {"kind": "status", "status": 429, "retry_after": 1, "path_contains": "app-logs"},
        {"kind": "status", "status": 503, "path_contains": "backups"},
    ),
    "arthur": (
        {"kind": "status", "status": 503, "count": 2},
        {"kind": "truncate", "count": 1},
    ),
}


def _union(truths: Truths) -> dict[SeriesKey, float]:
    return {k: v for truth in truths.values() for k, v in truth.items()}


def _paged(stack: Stack, path_contains: str) -> list[dict[str, Any]]:
    """The requests that followed a page cursor, on paths containing `path_contains`."""
    asked = http_json(f"{stack.sim}/_sim/requests")["requests"]
    return [r for r in asked if path_contains in r["path"] and "page=" in r["query"]]


def openai(stack: Stack, truths: Truths) -> None:
    """The truth holds what the newer API adds (so the comparison covers it), and the exporter
    read every page of a first read capped at three buckets a page."""
    expected = _union(truths)
    assert len(expected) > 50, "the simulator should produce many series"
    assert {
        "openai_input_cache_write_12h_tokens_total",
        "openai_input_cache_write_30m_tokens_total",
        "openai_cost_quantity_total",
    } <= {name for name, _ in expected}
    labels = [dict(lb) for _, lb in expected]
    assert {lb.get("endpoint") for lb in labels} >= {"completions", "decisions"}
    assert {lb.get("api_source") for lb in labels} >= {"agents_api", "unlabeled"}
    assert {lb.get("user_id") for lb in labels} >= {"user-ana", "user-bo"}
    units = {dict(lb)["quantity_unit"] for n, lb in expected if n == "openai_cost_quantity_total"}
    assert units == {"1000_tokens", "tokens", "calls"}
    for family in ("openai_input_cache_write_tokens_total", "openai_model_requests_total"):
        assert any(
            n == family and dict(lb)["endpoint"] == "decisions" and v > 0
            for (n, lb), v in expected.items()
        ), family
    # a first read of 25 hourly buckets at 3 a page: 8 pages after the first, per target
    assert len(_paged(stack, "/usage/completions")) >= 8


def telnyx(stack: Stack, truths: Truths) -> None:
    """Buckets found through ListBuckets, operations of every category, and the size and object
    gauges equal to the newest snapshot."""
    (target,) = (t for t in stack.targets if t.kind == "telnyx")
    truth = truths[target.name]
    assert len(truth) > 30
    operations = "telnyx_storage_operations_total"
    assert key(operations, {"bucket": "backups", "category": "copy_obj"}) in truth
    assert key(operations, {"bucket": "app-logs", "category": "get-bucket_location"}) in truth
    since = created(stack.exporter, "telnyx_storage_operations", f'target="{target.name}"')
    buckets = {dict(lb)["bucket"] for _, lb in truth}
    assert buckets == {"app-logs", "backups", "media-assets"}
    for bucket in buckets:
        query = urllib.parse.urlencode({"account": who(target), "bucket": bucket, "start": since})
        storage = http_json(f"{stack.sim}/_sim/telnyx/truth?{query}")["storage"]
        where = f'target="{target.name}",bucket="{bucket}"'
        assert stack.value(f"telnyx_storage_bucket_size_bytes{{{where}}}") == storage["size"]
        assert stack.value(f"telnyx_storage_bucket_objects{{{where}}}") == storage["num_objects"]


def arthur(stack: Stack, truths: Truths) -> None:
    """Rows of every rule type and task; tokens rose after the jump (late rule results)."""
    (target,) = (t for t in stack.targets if t.kind == "arthur")
    truth = truths[target.name]
    assert len(truth) > 10
    assert {n for n, _ in truth} == {
        "arthur_inference_tokens_total",
        "arthur_eval_prompt_tokens_total",
        "arthur_eval_completion_tokens_total",
    }
    assert all({k for k, _ in lb} <= {"rule_type", "task_id"} for _, lb in truth)


def anylayer(stack: Stack, truths: Truths) -> None:
    """Per key, the gauges equal the simulator's answer to the exporter's last request (the same
    while the clock is frozen), converted to base units."""
    (target,) = (t for t in stack.targets if t.kind == "anylayer")
    asked = http_json(f"{stack.sim}/_sim/requests")["requests"]
    for key_id in ("key_8f3a", "key_c21b"):
        assert {dict(lb).get("key_id") for _, lb in truths[target.name]} >= {key_id}
        request = [r for r in asked if f"keyId={key_id}" in r["query"]][-1]
        _, body, _ = http(
            f"{stack.sim}{request['path']}?{request['query']}",
            headers={"Authorization": f"Bearer {target.secret()}"},
        )
        usage = json.loads(body)
        where = f'target="{target.name}",key_id="{key_id}"'
        latency = stack.value(f'anylayer_latency_seconds{{{where},stat="average"}}')
        assert latency == usage["usage"]["averageLatency"] / 1000
        ratio = stack.value(f"anylayer_success_ratio{{{where}}}")
        assert ratio == pytest.approx(usage["usage"]["successRate"] / 100)
        utilisation = usage["rateLimits"]["utilization"]["requestsPerMinute"] / 100
        used = stack.value(f'anylayer_rate_limit_utilisation_ratio{{{where},period="minute"}}')
        assert used == pytest.approx(utilisation)
        assert stack.value(f"sum(anylayer_errors{{{where}}})") == usage["errors"]["totalErrors"]
        endpoints = stack.value(f"count(anylayer_endpoint_requests{{{where}}})")
        assert endpoints == len(usage["breakdown"]["byEndpoint"])
        assert stack.value(f"sum(anylayer_alerts{{{where}}})") == len(usage["alerts"])


def anthropic(stack: Stack, truths: Truths) -> None:
    """Tokens and cost families in every target's truth and no zero series beyond it, the budget
    and period gauges there, and the usage report read page by page."""
    for target in (t for t in stack.targets if t.kind == "anthropic"):
        assert isinstance(target, AnthropicConfig)
        truth = truths[target.name]
        families = {name for name, _ in truth}
        assert "anthropic_cost_usd_total" in families and len(families) >= 6, families
        where = f'target="{target.name}"'
        counted = stack.value(f'count({{__name__=~"anthropic_.*_total",{where}}})')
        assert counted == len(truth), "no series beyond the truth"
        budget = stack.value(f"anthropic_cost_budget_usd{{{where}}}")
        assert budget == target.monthly_budget_usd
        for gauge in ("anthropic_cost_today_usd", "anthropic_cost_month_to_date_usd"):
            assert stack.query(f"sum({gauge}{{{where}}})"), gauge
    assert _paged(stack, "usage_report"), "the exporter followed next_page"


CHECKS: Mapping[str, Check] = {
    "openai": openai,
    "telnyx": telnyx,
    "arthur": arthur,
    "anylayer": anylayer,
    "anthropic": anthropic,
}
