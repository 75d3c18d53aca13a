"""Every query the project ships works: each dashboard panel query and variable, and each
recording and alerting rule, run through the HTTP API of a real Prometheus that scraped
`usage-exporter demo` (with the shipped rules loaded) for a while, parses and returns data.

Grafana's variables are substituted as a dashboard left on "All" would: a label filter becomes
`.*`, `$__rate_interval` a minute (four 1 s scrapes and then some), `$__range` an hour; a variable's
`label_values(selector, label)` goes through the same label-values API Grafana calls. An alert's
condition is rightly false on a healthy demo, so for alerts the full expression must evaluate and
each side of its top-level `and`/`or`/`unless`, cut before its comparison, must return data; an
operand whose condition is a label matcher (HTTP 401/403 answers, which the demo never gets) must
return data once its matchers are dropped.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import (
    demo as start_demo,
)
from tests.harness import (
    http,
    http_json,
    prometheus,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "config" / "prometheus" / "rules" / "usage-exporter.yml"
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
MATCHERS = re.compile(r"\{[^}]*\}")
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return BUILTINS.get(name, ".*")

    return GRAFANA_VARIABLE.sub(value, expr)


def panel_queries() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                found.append((f"{path.stem}: {panel['title']} [{target['refId']}]", target["expr"]))
    return found


def variable_queries() -> list[tuple[str, str, str]]:
    """(where, series selector, label) of every `label_values(selector, label)` variable; for a
    `query_result(expr)` variable (names listed for ids), (where, expr, its regex)."""
    found = []
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            if variable["type"] != "query":
                continue
            text = variable["query"]["query"]
            result = re.fullmatch(r"query_result\((.+)\)", text)
            if result:
                regex = variable["regex"]
                found.append((f"{path.stem}: ${variable['name']}", result.group(1), regex))
                continue
            call = re.fullmatch(r"label_values\((.+), (\w+)\)", text)
            assert call, variable["query"]
            found.append((f"{path.stem}: ${variable['name']}", call.group(1), call.group(2)))
    return found


def query_result_options(prometheus_url: str, expr: str, regex: str) -> list[tuple[str, str]]:
    """(text, value) pairs a `query_result` variable offers, as Grafana makes them: each series
    written `name{label="value", ...} value timestamp` (labels sorted), matched by the regex
    (`/.../` with JavaScript named groups `text` and `value`)."""
    answer = query(prometheus_url, substitute(expr))
    assert answer.get("status") == "success", answer
    pattern = re.compile(regex.strip("/").replace("(?<", "(?P<"))
    options = []
    for item in answer["data"]["result"]:
        metric = dict(item["metric"])
        name = metric.pop("__name__", "")
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()))
        line = f"{name}{{{labels}}} {item['value'][1]} {item['value'][0]}"
        match = pattern.search(line)
        if match:
            options.append((match.group("text"), match.group("value")))
    return options


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def top_level(expr: str) -> Iterator[tuple[int, str]]:
    """(position, character) of the expression outside brackets and string literals."""
    depth, quote = 0, ""
    for i, char in enumerate(expr):
        if quote:
            quote = "" if char == quote and expr[i - 1] != "\\" else quote
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            yield i, char


def operands(expr: str) -> list[str]:
    """The operands of the top-level set operators, each cut before its first comparison."""
    visible = dict(top_level(expr))
    outside = "".join(visible.get(i, " ") for i in range(len(expr)))
    bounds = [0]
    for match in re.finditer(r"\b(and|or|unless)\b", outside):
        bounds += [match.start(), match.end()]
    bounds.append(len(expr))
    parts = []
    for begin, end in zip(bounds[::2], bounds[1::2], strict=True):
        comparison = re.search(r"==|!=|>=|<=|>|<", outside[begin:end])
        parts.append(expr[begin : begin + comparison.start() if comparison else end].strip())
    return parts


def test_operands_cut_at_the_top_level_only() -> None:
    assert operands('a{x=~">"} > 2 * sum(b > 1) and c < 1') == ['a{x=~">"}', "c"]
    assert operands("sum(x) / on (t) (y > 0)") == ["sum(x) / on (t) (y > 0)"]


def query(prometheus_url: str, expr: str) -> dict[str, Any]:
    """Prometheus's answer, errors included (a query that does not parse is HTTP 400)."""
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    return dict(json.loads(http(url)[1]))


def empty_or_failing(prometheus_url: str, exprs: dict[str, str]) -> dict[str, str]:
    """The queries among `exprs` that fail or return nothing, with why."""
    bad = {}
    for where, expr in exprs.items():
        answer = query(prometheus_url, expr)
        if answer.get("status") != "success":
            bad[where] = f"{expr}: {answer.get('error')}"
        elif not answer["data"]["result"]:
            if not (where.startswith("alert ") and "{" in expr):
                bad[where] = f"{expr}: no data"
            elif not query(prometheus_url, MATCHERS.sub("", expr))["data"]["result"]:
                bad[where] = f"{expr}: no data, even without its label matchers"
    return bad


def variables_without_values(prometheus_url: str) -> dict[str, str]:
    """The dashboard variables whose `label_values` query lists no value."""
    bad = {}
    for where, selector, label in variable_queries():
        if label.startswith("/"):  # query_result: names shown, ids as values
            options = query_result_options(prometheus_url, selector, label)
            if not [t for t, v in options if t and v and t != v]:
                bad[where] = f"query_result({selector}) {label}: no names: {options}"
            continue
        match = urllib.parse.urlencode({"match[]": substitute(selector)})
        answer = json.loads(http(f"{prometheus_url}/api/v1/label/{label}/values?{match}")[1])
        if answer.get("status") != "success" or not [v for v in answer["data"] if v]:
            bad[where] = f"label_values({selector}, {label}): {answer}"
    return bad


@pytest.fixture(scope="module")
def demo_scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("shipped-queries")
    demo = start_demo(tmp)
    try:
        with prometheus(tmp, demo.url, rule_files=(RULES,)) as server:
            yield server.url
    finally:
        demo.stop()


def every_query() -> dict[str, str]:
    exprs = {where: substitute(expr) for where, expr in panel_queries()}
    for rule in rules():
        if "record" in rule:
            exprs[f"record {rule['record']}"] = rule["expr"]
            exprs[f"recorded {rule['record']}"] = rule["record"]
        else:
            for n, operand in enumerate(operands(rule["expr"])):
                exprs[f"alert {rule['alert']} operand {n}"] = operand
    return exprs


def test_every_panel_variable_and_rule_query_returns_data(demo_scraped: str) -> None:
    exprs = every_query()
    assert len(panel_queries()) >= 50 and len(rules()) >= 15
    started = time.monotonic()
    bad: dict[str, str] = dict.fromkeys(exprs, "not run")

    def all_answer() -> bool:
        nonlocal bad
        bad = empty_or_failing(demo_scraped, exprs) | variables_without_values(demo_scraped)
        return not bad

    try:
        wait_for(all_answer, "every shipped query to return data", timeout=120, every=2)
    except AssertionError:
        report = "\n".join(f"{where}: {why}" for where, why in bad.items())
        pytest.fail(f"queries without data after 120 s:\n{report}")
    # Not vacuous: a query on a family that does not exist is reported.
    assert empty_or_failing(demo_scraped, {"x": "openai_no_such_metric_total"}) == {
        "x": "openai_no_such_metric_total: no data"
    }
    assert time.monotonic() - started < 120


def test_panels_that_show_projects_keys_users_and_tasks_show_names(demo_scraped: str) -> None:
    """A panel that joins a name (`group_left (project_name)`, ...) returns at least one series
    with the name filled in; each such variable lists names for ids."""
    names = ("project_name", "api_key_name", "user_name", "task_name")
    joined = {
        where: expr
        for where, expr in panel_queries()
        if any(f"group_left ({n}" in expr for n in names)
    }
    assert len(joined) >= 8, sorted(joined)
    missing: dict[str, str] = dict.fromkeys(joined, "not run")

    def named() -> bool:
        missing.clear()
        for where, expr in joined.items():
            result = query(demo_scraped, substitute(expr))["data"]["result"]
            if not any(item["metric"].get(n) for item in result for n in names):
                missing[where] = expr
        return not missing

    try:
        wait_for(named, "every name-joining panel to show names", timeout=60, every=2)
    except AssertionError:
        pytest.fail("panels without names:\n" + "\n".join(f"{w}: {e}" for w, e in missing.items()))
    shown = [v for v in variable_queries() if v[2].startswith("/")]
    assert {where.split("$")[1] for where, _, _ in shown} >= {"project_id", "task_id"}
    for _, expr, regex in shown:
        # not vacuous: a regex that matches no series offers nothing
        assert not query_result_options(demo_scraped, expr, regex.replace('="', '="nomatch'))


def test_every_alert_expression_evaluates(demo_scraped: str) -> None:
    for rule in rules():
        if "alert" in rule:
            answer = query(demo_scraped, rule["expr"])
            assert answer["status"] == "success", (rule["alert"], answer)
    loaded = http_json(f"{demo_scraped}/api/v1/rules")["data"]["groups"]
    health = {r["name"]: r["health"] for g in loaded for r in g["rules"]}
    names = {r.get("alert") or r.get("record") for r in rules()}
    assert set(health) == names

    def evaluated_ok() -> bool:
        groups = http_json(f"{demo_scraped}/api/v1/rules")["data"]["groups"]
        return all(r["health"] == "ok" for g in groups for r in g["rules"])

    wait_for(evaluated_ok, "every rule evaluated without error", timeout=60, every=1)
