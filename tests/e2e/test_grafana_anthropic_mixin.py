"""Grafana's own Anthropic dashboard (anthropic-mixin) works unchanged on the shipped rules.

One exporter polls the simulator for two Anthropic organizations (one through the legacy Admin
API, one through the Analytics API) and an OpenAI organization; one real Prometheus scrapes the
three targets in the same job and loads the shipped rules
(`config/prometheus/rules/usage-exporter.yml`). Every expression and variable of Grafana's
dashboard (`tests/data/grafana_anthropic_mixin.json`, derived from the published file with its
sha256) is run as Grafana runs it: variables filled from their own `label_values` queries, "All"
expanded to the regex of every value (the dashboard sets no custom all value), and once more with
one workspace and one model chosen. Each answer must equal the numbers the exporter serves on
/metrics at the same moment (tokens exactly, dollars within 1e-6), no OpenAI series may reach a
panel, and the cross-vendor view must equal OpenAI's and Anthropic's own counters.
"""

from __future__ import annotations

import functools
import json
import math
import re
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import (
    clock_in_the_past,
    exporter,
    http_json,
    parse_samples,
    prometheus,
    scrape,
    settle,
    simulator,
    success_polls,
    wait_for,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "config" / "prometheus" / "rules" / "usage-exporter.yml"
MIXIN = json.loads((ROOT / "tests" / "data" / "grafana_anthropic_mixin.json").read_text())
ANTHROPIC_KEY, ANTHROPIC_ORG = "sk-ant-admin01-mixin-0123", "org-mixin"
ANALYTICS_KEY, ANALYTICS_ORG = "sk-ant-admin01-mixin-analytics", "org-mixin-analytics"
ANTHROPIC_TARGETS = ("claude-org", "claude-analytics")
OPENAI_KEY, OPENAI_ORG = "sk-admin-mixin-0123", "org-mixin-openai"
JOB = "usage-exporter"  # testkit's Prometheus: both targets in this one job
INPUT_PARTS = (
    "anthropic_input_uncached_tokens_total",
    "anthropic_input_cache_read_tokens_total",
    "anthropic_input_cache_write_5m_tokens_total",
    "anthropic_input_cache_write_1h_tokens_total",
)
TOKEN_TYPES = {**dict.fromkeys(INPUT_PARTS, "input"), "anthropic_output_tokens_total": "output"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def vendor_only(samples: Samples) -> Samples:
    """The vendors' own series (the self-metrics move with every poll)."""
    return {k: v for k, v in samples.items() if not k[0].startswith("usage_exporter_")}


def vendor_samples(url: str) -> Samples:
    return vendor_only(parse_samples(scrape(url)))


def every_target_polled(exporter_url: str, polled: Mapping[str, float]) -> bool:
    return all(success_polls(exporter_url, t) > n for t, n in polled.items())


def scraped(prometheus_url: str, polls: float) -> bool:
    query = 'sum(usage_exporter_polls_total{result="success"})'
    return float(instant(prometheus_url, query)[0]["value"][1]) >= polls


def caught_up(exporter_url: str, prometheus_url: str) -> Samples:
    """The exporter's samples once its vendor series stand still over a poll of every target
    (an Analytics read spends at most its share of 60 requests a minute, so with a frozen
    clock it may still be catching up for a few polls), after Prometheus scraped them."""
    targets = (*ANTHROPIC_TARGETS, "openai-org")
    before = vendor_samples(exporter_url)
    for _ in range(20):  # bounded: 20 rounds of polls
        polled = {t: success_polls(exporter_url, t) for t in targets}
        wait_for(
            functools.partial(every_target_polled, exporter_url, polled),
            "a poll of every target",
            timeout=60,
        )
        samples = parse_samples(scrape(exporter_url))
        if vendor_only(samples) == before:
            final = success_polls(exporter_url)
            wait_for(
                functools.partial(scraped, prometheus_url, final),
                "Prometheus to scrape the final state",
                timeout=30,
            )
            return samples
        before = vendor_only(samples)
    raise AssertionError("the exporter's vendor series never stood still with a frozen clock")


def write_config(tmp: Path, sim_url: str) -> Path:
    common = {"base_url": sim_url, "interval": "4s", "timeout": "3s", "backfill": "1d"}
    sources = [
        {
            "kind": "anthropic",
            "name": "claude-org",
            "api_key": ANTHROPIC_KEY,
            "bucket_width": "1h",
            "group_by": ["workspace_id", "api_key_id", "model", "service_tier"],
            "cost_group_by": ["workspace_id", "description"],
            "resources": {"workspaces": False, "api_keys": False, "users": False},
            **common,
        },
        {
            "kind": "anthropic",
            "name": "claude-analytics",
            "api_key": ANALYTICS_KEY,
            "api": "analytics",
            "bucket_width": "1h",
            "group_by": ["workspace_id", "api_key_id", "model", "service_tier", "product"],
            "cost_group_by": ["workspace_id", "model", "cost_type", "token_type"],
            "resources": {"workspaces": False, "api_keys": False, "users": False},
            **common,
        },
        {
            "kind": "openai",
            "name": "openai-org",
            "api_key": OPENAI_KEY,
            "bucket_width": "1h",
            "group_by": ["project_id", "model"],
            **common,
        },
    ]
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp / "state"), "sources": sources}))
    return config


def grafana_regex(values: Iterable[str]) -> str:
    """A multi-value variable as Grafana writes it into a Prometheus query: each value with
    regex metacharacters escaped, several joined as `(a|b)`."""
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", v) for v in sorted(values)]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], expr)


def instant(prom_url: str, expr: str) -> list[dict[str, Any]]:
    url = f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = http_json(url)
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])


def by(result: list[dict[str, Any]], label: str | None) -> dict[str, float]:
    """An instant vector as {label value: value} ('' for a missing label; one key without)."""
    out = {}
    for item in result:
        key = item["metric"].get(label, "") if label else ""
        assert key not in out, (label, result)
        out[key] = float(item["value"][1])
    return out


def label_values(prom_url: str, selector: str, label: str) -> list[str]:
    match = urllib.parse.urlencode({"match[]": selector})
    answer = http_json(f"{prom_url}/api/v1/label/{label}/values?{match}")
    assert answer["status"] == "success", answer
    return [v for v in answer["data"] if v]


def variable_values(prom_url: str, chosen: Mapping[str, str]) -> dict[str, list[str]]:
    """Each query variable's options, resolved in the dashboard's order (a variable's query uses
    the ones before it, substituted as `chosen` says or as All)."""
    options: dict[str, list[str]] = {}
    current: dict[str, str] = {}
    for variable in MIXIN["variables"]:
        if variable["type"] != "query":
            continue
        call = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", variable["query"])
        assert call, variable
        selector, label = call.group(1), call.group(2)
        if selector:
            values = label_values(prom_url, substitute(selector, current), label)
        else:
            answer = http_json(f"{prom_url}/api/v1/label/{label}/values")
            values = [v for v in answer["data"] if v]
        options[variable["name"]] = values
        current[variable["name"]] = chosen.get(variable["name"]) or grafana_regex(values)
    return options


Keep = Callable[[str, dict[str, str]], bool]


def everything(name: str, labels: dict[str, str]) -> bool:
    return True


def exporter_numbers(samples: Samples, keep: Keep) -> dict[str, dict[str, float]]:
    """What each panel must show, summed from the exporter's own samples (only those `keep`
    accepts: the chosen workspace and model)."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (name, labels_set), value in samples.items():
        labels = dict(labels_set)
        if name in TOKEN_TYPES and keep(name, {**labels, "model": ""}):
            sums["rate_models"][labels["model"]] += value  # the rate panel: any model
        if not keep(name, labels):
            continue
        if name in TOKEN_TYPES:
            sums["tokens"][""] += value
            sums["tokens_by_type"][TOKEN_TYPES[name]] += value
            sums["tokens_by_tier"][labels["service_tier"]] += value
            sums["tokens_by_model"][labels["model"]] += value
        elif name == "anthropic_cost_today_usd":
            sums["cost"][""] += value
            sums["cost_by_workspace"][labels["workspace_id"]] += value
    return sums


# (panel title, refId) -> (the label its result is keyed by, the exporter's sum it must equal)
CHECKS: dict[tuple[str, str], tuple[str | None, str]] = {
    ("Total token cost", "A"): (None, "cost"),
    ("Total Tokens Processed", "A"): (None, "tokens"),
    ("Daily Cost by Workspace", "A"): ("gen_ai_anthropic_workspace_id", "cost_by_workspace"),
    ("Total Cost by Service Type", "A"): ("gen_ai_anthropic_workspace_id", "cost_by_workspace"),
    ("Usage by Service Tier", "A"): ("gen_ai_anthropic_service_tier", "tokens_by_tier"),
    ("Token Consumption", "A"): (None, "input"),
    ("Token Consumption", "B"): (None, "output"),
    ("Model Usage Distribution", "A"): ("gen_ai_response_model", "tokens_by_model"),
}


def expected_for(key: str, sums: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    if key in ("input", "output"):
        return {"": sums["tokens_by_type"][key]}
    return dict(sums[key])


def close(got: Mapping[str, float], want: Mapping[str, float], money: bool) -> bool:
    if set(got) != set(want):
        return False
    if money:
        return all(math.isclose(got[k], want[k], rel_tol=0, abs_tol=1e-6) for k in want)
    return all(got[k] == want[k] for k in want)


def mismatches(
    prom_url: str, samples: Samples, chosen: Mapping[str, str], keep: Keep
) -> dict[str, str]:
    """Every dashboard query whose answer is not the exporter's number (empty when all agree)."""
    options = variable_values(prom_url, chosen)
    variables = {name: chosen.get(name) or grafana_regex(vals) for name, vals in options.items()}
    sums = exporter_numbers(samples, keep)
    bad = {}
    for query in MIXIN["queries"]:
        expr = substitute(query["expr"], variables)
        result = instant(prom_url, expr)
        where = f"{query['panel']} [{query['ref_id']}]: {expr}"
        if not result:
            bad[where] = "no data"
            continue
        label, key = CHECKS.get((query["panel"], query["ref_id"]), (None, ""))
        if query["panel"] == "Active Workspaces":
            want = {"": float(len(sums["cost_by_workspace"]))}
            got = by(result, None)
        elif query["panel"] == "Token Processing Rate by Model":
            # a rate over recorded samples: its models are the exporter's, none is OpenAI's
            want = dict.fromkeys(sums["rate_models"], 0.0)
            got = {k: 0.0 for k in by(result, "gen_ai_response_model")}
        else:
            assert key, f"no check for {where}"
            want = expected_for(key, sums)
            got = by(result, label)
        if not close(got, want, money=key.startswith("cost")):
            bad[where] = f"got {got}, exporter serves {want}"
    return bad


def test_grafana_dashboard_shows_the_exporters_numbers_and_no_openai(tmp_path: Path) -> None:
    extra = (
        "--anthropic-key",
        f"{ANTHROPIC_KEY}={ANTHROPIC_ORG}",
        "--anthropic-key",
        f"{ANALYTICS_KEY}={ANALYTICS_ORG}",
        "--openai-key",
        f"{OPENAI_KEY}={OPENAI_ORG}",
    )
    with simulator(tmp_path, extra=extra) as sim:
        clock_in_the_past(sim.url)
        exp = exporter(tmp_path, write_config(tmp_path, sim.url))
        try:
            with prometheus(tmp_path, exp.url, rule_files=(RULES,)) as prom:
                wait_for(lambda: success_polls(exp.url) >= 2, "two polls", timeout=60)
                polls = 'usage_exporter_polls_total{result="success"}'
                wait_for(lambda: bool(instant(prom.url, polls)), "a first scrape", timeout=30)
                settle(sim.url, exp.url, prom.url)
                samples = caught_up(exp.url, prom.url)
                openai_models = {
                    dict(labels).get("model", "")
                    for (name, labels), value in samples.items()
                    if name.startswith("openai_") and name.endswith("_tokens_total") and value
                }
                assert openai_models - {""}, "the OpenAI target must have tokens in the same job"
                anthropic = exporter_numbers(samples, everything)
                assert anthropic["tokens"][""] > 0 and anthropic["cost"][""] > 0

                # every variable on All
                bad: dict[str, str] = {"not run": ""}

                def agree(chosen: Mapping[str, str], keep: Keep) -> bool:
                    nonlocal bad
                    bad = mismatches(prom.url, samples, chosen, keep)
                    return not bad

                if not wait_for_or_false(lambda: agree({}, everything)):
                    pytest.fail("\n".join(f"{w}: {why}" for w, why in bad.items()))
                options = variable_values(prom.url, {})
                assert options["job"] == [JOB]
                assert set(options["workspace"]) == set(anthropic["cost_by_workspace"])
                assert set(options["model"]) == set(anthropic["tokens_by_model"]) - {""}
                assert not set(options["model"]) & openai_models, "an OpenAI model in $model"

                # one workspace and one model chosen (the busiest of each)
                workspace = max(anthropic["cost_by_workspace"].items(), key=lambda kv: kv[1])[0]
                model = max(anthropic["tokens_by_model"].items(), key=lambda kv: kv[1])[0]
                chosen = {"job": JOB, "workspace": workspace, "model": model}

                def keep(name: str, labels: dict[str, str]) -> bool:
                    if labels.get("workspace_id") != workspace:
                        return False
                    # the dashboard filters tokens by model (an empty model: not filtered), never
                    # cost
                    return name not in TOKEN_TYPES or labels["model"] in (model, "")

                narrowed = exporter_numbers(samples, keep)
                assert 0 < narrowed["tokens"][""] < anthropic["tokens"][""]
                if not wait_for_or_false(lambda: agree(chosen, keep)):
                    pytest.fail("\n".join(f"{w}: {why}" for w, why in bad.items()))

                # nothing OpenAI in any recorded gen_ai series
                leaked = instant(
                    prom.url,
                    f'{{__name__=~"gen_ai_.+", target!~"{"|".join(ANTHROPIC_TARGETS)}"}}'
                    ' or {__name__=~"gen_ai_.+", gen_ai_provider_name!="anthropic"}',
                )
                assert not leaked, leaked

                # the cross-vendor view equals both vendors' own counters
                def cross_vendor_agrees() -> bool:
                    try:
                        assert_cross_vendor(prom.url, samples)
                    except AssertionError:
                        return False
                    return True

                if not wait_for_or_false(cross_vendor_agrees):
                    assert_cross_vendor(prom.url, samples)  # fails with the difference
                moved = "the exporter moved meanwhile"
                assert vendor_samples(exp.url) == vendor_only(samples), moved
        finally:
            assert exp.stop() == 0


def wait_for_or_false(condition: Callable[[], bool]) -> bool:
    try:
        wait_for(condition, "the rules to evaluate the final state", timeout=30, every=1)
    except AssertionError:
        return False
    return True


def assert_cross_vendor(prom_url: str, samples: Samples) -> None:
    tokens: dict[tuple[str, str, str], float] = defaultdict(float)
    cost: dict[tuple[str, str], float] = defaultdict(float)
    for (name, labels_set), value in samples.items():
        labels = dict(labels_set)
        if name in TOKEN_TYPES:
            tokens[("anthropic", labels["model"], TOKEN_TYPES[name])] += value
        elif name in ("openai_input_tokens_total", "openai_output_tokens_total"):
            kind = "input" if "input" in name else "output"
            tokens[("openai", labels.get("model", ""), kind)] += value
        elif name == "anthropic_cost_usd_total":
            cost[("anthropic", labels["model"])] += value
        elif name == "openai_cost_usd_total":
            cost[("openai", "")] += value
    assert {p for p, _, _ in tokens} == {"anthropic", "openai"}
    got_tokens = {
        (
            r["metric"]["gen_ai_provider_name"],
            r["metric"].get("gen_ai_request_model", ""),
            r["metric"]["gen_ai_token_type"],
        ): float(r["value"][1])
        for r in instant(prom_url, f'usage_exporter:gen_ai_tokens:sum{{job="{JOB}"}}')
    }
    assert got_tokens == dict(tokens)
    got_cost: dict[tuple[str, str], float] = defaultdict(float)
    for r in instant(prom_url, f'usage_exporter:gen_ai_cost_usd:sum{{job="{JOB}"}}'):
        metric = r["metric"]
        got_cost[(metric["gen_ai_provider_name"], metric.get("gen_ai_request_model", ""))] += float(
            r["value"][1]
        )
    assert set(got_cost) == set(cost)
    for key, value in cost.items():
        assert math.isclose(got_cost[key], value, rel_tol=0, abs_tol=1e-6), (key, got_cost[key])
