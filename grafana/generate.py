"""The Grafana dashboards, written as data: `python grafana/generate.py` rewrites
`grafana/dashboards/*.json` from the tables below (`--check` fails when they are out of date; the
test suite runs it).

Generating keeps the six dashboards uniform (the same datasource and `target` variables, units
and descriptions on every panel, no hand-kept ids or grid positions) and keeps each query in one
place, where the query test reads it back from the JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


Thresholds = tuple[tuple[float | None, str], ...]  # (from value, colour), the first from None


@dataclass(frozen=True)
class Panel:
    """One panel: `kind` is Grafana's panel type; `width` in grid columns (24 per row)."""

    kind: str
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    width: int = 8
    height: int = 8
    options: dict[str, Any] = field(default_factory=dict)
    thresholds: Thresholds = ((None, "green"),)
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Variable:
    """A multi-value label filter filled from `label_values(metric, label)`; with `shows` set,
    from `query_result(metric)` instead, listing the value of label `shows` (a name) for each
    value of `label` (an id), so the list shows names and the queries still filter by id."""

    label: str
    metric: str
    title: str
    shows: str = ""


@dataclass(frozen=True)
class Dashboard:
    """One dashboard: `dashboards/<name>.json`, uid `usage-exporter-<name>`, tagged
    `usage-exporter` and `tags` (None: its name, as a vendor's dashboard is)."""

    name: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] | None = None
    time_from: str = "now-24h"

    @property
    def uid(self) -> str:
        return f"usage-exporter-{self.name}"

    @property
    def tag_names(self) -> tuple[str, ...]:
        return (self.name,) if self.tags is None else self.tags


def filtered(metric: str, by: str = "target") -> str:
    """A variable's series: `metric` where the dashboard's variable `by` has the chosen values."""
    return f'{metric}{{{by}=~"${by}"}}'


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


# Names, from the vendors' own listings (info metrics, always 1), joined at query time: a rename
# changes the info series only, never a counter. Series without a name (an id the listing does
# not know, or the listing turned off) are kept, with their id.
NAMES = {
    "project_id": ("project_name", "openai_project_info"),
    "api_key_id": ("api_key_name", "openai_api_key_info"),
    "user_id": ("user_name", "openai_user_info"),
    "task_id": ("task_name", "arthur_task_info"),
}


# Anthropic's listings (resources.py): the same join, from its own info metrics.
ANTHROPIC_NAMES = {
    "workspace_id": ("workspace_name", "anthropic_workspace_info"),
    "api_key_id": ("api_key_name", "anthropic_api_key_info"),
}


def named(expr: str, key: str, names: dict[str, tuple[str, str]] = NAMES) -> str:
    """`expr` (which keeps `target` and `key`) with the name of `key` joined in."""
    name, info = names[key]
    return (
        f"({expr}) * on (target, {key}) group_left ({name}) {info} or on (target, {key}) ({expr})"
    )


def name_legend(key: str, *more: str, names: dict[str, tuple[str, str]] = NAMES) -> str:
    """A legend showing the name, and the id when there is no name."""
    name = names[key][0]
    return " ".join(["{{" + name + "}}", "({{" + key + "}})", *("{{" + m + "}}" for m in more)])


def selector(variables: tuple[Variable, ...], *labels: str, extra: str = "") -> str:
    """`{target=~"$target",...}` for the named variables (all of them when none is named)."""
    names = labels or tuple(v.label for v in variables)
    matchers = [f'{name}=~"${name}"' for name in names]
    if extra:
        matchers.append(extra)
    return "{" + ", ".join(matchers) + "}"


def stat(title: str, description: str, expr: str, unit: str, **kw: Any) -> Panel:
    return Panel("stat", title, description, (q(expr),), unit=unit, width=6, height=5, **kw)


def series(title: str, description: str, *queries: Query, unit: str = "short", **kw: Any) -> Panel:
    return Panel("timeseries", title, description, queries, unit=unit, **kw)


def table(title: str, description: str, expr: str, unit: str, width: int = 12, **kw: Any) -> Panel:
    return Panel("table", title, description, (q(expr),), unit=unit, width=width, height=9, **kw)


SHARE_USED = ((None, "green"), (0.8, "orange"), (1, "red"))  # red when all of it is used


def shares(
    title: str, description: str, *queries: Query, thresholds: Thresholds = SHARE_USED, **kw: Any
) -> Panel:
    """Horizontal bars of a share between 0 and 1 (a budget, a limit), one per series."""
    options = {"displayMode": "gradient", "orientation": "horizontal"}
    return Panel(
        "bargauge",
        title,
        description,
        queries,
        unit="percentunit",
        minimum=0,
        maximum=1,
        thresholds=thresholds,
        options=options,
        **kw,
    )


def up_timeline(title: str, description: str, query: Query) -> Panel:
    """A row per series over time: red at 0, green at 1."""
    return Panel(
        "state-timeline",
        title,
        description,
        (query,),
        width=12,
        thresholds=((None, "red"), (1, "green")),
    )


def budget_used(description: str, *vendors: str) -> Panel:
    """Each organization's month-to-date spend as a share of its `monthly_budget_usd`, for the
    vendors named (`openai`, `anthropic`: their families share the pattern)."""
    used = (
        q(
            f'sum by (target) ({vendor}_cost_month_to_date_usd{{target=~"$target"}})'
            " / on (target)"
            f' (sum by (target) ({vendor}_cost_budget_usd{{target=~"$target"}}) > 0)',
            "{{target}}",
        )
        for vendor in vendors
    )
    return shares("Budget used", description, *used, width=6, height=5)


# --- spend ----------------------------------------------------------------------------------

SPEND_VARS = (
    Variable(
        "target", '{__name__=~"openai_cost_usd_total|anthropic_cost_usd_total"}', "Organization"
    ),
    Variable("project_id", filtered("openai_project_info"), "Project", "project_name"),
    Variable("line_item", filtered("openai_cost_usd_total"), "Line item"),
)
_S = selector(SPEND_VARS)
_ELAPSED = (
    "clamp_min((day_of_month() - 1 + hour() / 24 + minute() / 1440) / days_in_month(), 1 / 744)"
)
SPEND = Dashboard(
    "spend",
    "Spend",
    "OpenAI and Anthropic spend from their cost APIs: today, month to date, projected "
    "month end and budget use, by organization, project, workspace and line item. Exact to the "
    "vendors' daily buckets.",
    SPEND_VARS,
    (
        stat(
            "Cost today",
            "Spend so far in the current UTC day (the costs API's daily bucket).",
            f"sum(openai_cost_today_usd{_S})",
            "currencyUSD",
        ),
        stat(
            "Month to date",
            "Spend so far in the current UTC calendar month.",
            f"sum(openai_cost_month_to_date_usd{_S})",
            "currencyUSD",
        ),
        stat(
            "Projected month end",
            "Month-to-date spend divided by the share of the month that has passed. Noisy in "
            "the first days of a month.",
            f"sum(openai_cost_month_to_date_usd{_S}) / scalar({_ELAPSED})",
            "currencyUSD",
        ),
        budget_used(
            "Month-to-date spend of each organization (OpenAI and Anthropic) as a share of its "
            "monthly_budget_usd (organizations without a budget are not shown).",
            "openai",
            "anthropic",
        ),
        series(
            "Month to date against budget",
            "Month-to-date spend per organization, and its configured monthly budget.",
            q(f"sum by (target) (openai_cost_month_to_date_usd{_S})", "{{target}} month to date"),
            q('openai_cost_budget_usd{target=~"$target"}', "{{target}} budget"),
            unit="currencyUSD",
            width=12,
        ),
        series(
            "Spend today by project",
            "Spend so far today, per project; it restarts at 0 at each UTC midnight.",
            q(
                named(f"sum by (target, project_id) (openai_cost_today_usd{_S})", "project_id"),
                "{{target}} " + name_legend("project_id"),
            ),
            unit="currencyUSD",
            width=12,
        ),
        series(
            "Spend per day by line item",
            "Spend over the trailing 24 hours per line item (increase of the exact cost counter).",
            q(
                f"sum by (line_item) (increase(openai_cost_usd_total{_S}[1d]))",
                "{{line_item}}",
            ),
            unit="currencyUSD",
            width=12,
        ),
        table(
            "Month to date by project and line item",
            "Where this month's money went.",
            named(
                f"sum by (target, project_id, line_item) (openai_cost_month_to_date_usd{_S})",
                "project_id",
            ),
            "currencyUSD",
        ),
        series(
            "Month to date against OpenAI's hard spend limit",
            "Month-to-date spend per organization next to the spend limit set in OpenAI "
            "(organization settings > Limits; the spend_limit API) and the monthly_budget_usd "
            "configured here. At the hard limit OpenAI refuses further API requests until the "
            "month ends or the limit is raised.",
            q(f"sum by (target) (openai_cost_month_to_date_usd{_S})", "{{target}} month to date"),
            q('openai_spend_limit_usd{target=~"$target"}', "{{target}} OpenAI hard limit"),
            q('openai_cost_budget_usd{target=~"$target"}', "{{target}} budget (configured)"),
            unit="currencyUSD",
            width=12,
        ),
        shares(
            "Hard spend limit used",
            "Month-to-date spend of each organization as a share of OpenAI's own hard spend "
            "limit (organizations without a limit, or whose key may not read it, are not shown).",
            q(
                'sum by (target) (openai_cost_month_to_date_usd{target=~"$target"})'
                ' / on (target) (openai_spend_limit_usd{target=~"$target"} > 0)',
                "{{target}}",
            ),
            width=6,
            height=9,
        ),
        table(
            "Spend limits and alerts",
            "OpenAI's hard spend limit per project and the spend alert thresholds (organization "
            "and project) as set in OpenAI, in dollars per month; recipients are not exported.",
            named(
                "max by (target, project_id, alert_id, scope) (openai_spend_alert_threshold_usd"
                '{target=~"$target", project_id=~"$project_id|"})'
                " or max by (target, project_id) (openai_project_spend_limit_usd"
                '{target=~"$target", project_id=~"$project_id"})',
                "project_id",
            ),
            "currencyUSD",
            width=6,
        ),
        table(
            "Month to date by user",
            "This month's spend per user (where costs are grouped by user_id), with the user's "
            "name from the organization's user list.",
            named(
                f"sum by (target, user_id) (openai_cost_month_to_date_usd{_S})",
                "user_id",
            ),
            "currencyUSD",
        ),
        table(
            "Month to date by API key",
            "This month's spend per project API key (where costs are grouped by api_key_id), "
            "with the key's name and owner.",
            f"sum by (target, api_key_id, api_key_name, owner_name) ("
            f"sum by (target, api_key_id) (openai_cost_month_to_date_usd{_S})"
            " * on (target, api_key_id) group_left (api_key_name, owner_name) openai_api_key_info)",
            "currencyUSD",
        ),
        table(
            "Billed quantity per day by line item",
            "What the money bought over the trailing 24 hours: the quantity the Costs API bills "
            "per line item, in its own unit (tokens, 1000_tokens, images, ...; an unknown unit "
            "is shown as reported). Needs group_by line_item.",
            f"sum by (target, line_item, quantity_unit) "
            f"(increase(openai_cost_quantity_total{_S}[1d]))",
            "short",
        ),
        stat(
            "Anthropic cost today",
            "Anthropic spend so far in the current UTC day (the Cost API's daily bucket, or the "
            "Analytics API's buckets of the day).",
            'sum(anthropic_cost_today_usd{target=~"$target"})',
            "currencyUSD",
        ),
        stat(
            "Anthropic month to date",
            "Anthropic spend so far in the current UTC calendar month.",
            'sum(anthropic_cost_month_to_date_usd{target=~"$target"})',
            "currencyUSD",
        ),
        series(
            "Month to date by vendor",
            "Month-to-date spend per organization, OpenAI next to Anthropic.",
            q(
                'sum by (target) (openai_cost_month_to_date_usd{target=~"$target"})',
                "OpenAI {{target}}",
            ),
            q(
                'sum by (target) (anthropic_cost_month_to_date_usd{target=~"$target"})',
                "Anthropic {{target}}",
            ),
            unit="currencyUSD",
            width=12,
        ),
        series(
            "Anthropic spend today by workspace",
            "Anthropic spend so far today per workspace, by the workspace's name; it restarts at "
            "0 at each UTC midnight.",
            q(
                named(
                    'sum by (target, workspace_id) (anthropic_cost_today_usd{target=~"$target"})',
                    "workspace_id",
                    ANTHROPIC_NAMES,
                ),
                "{{target}} " + name_legend("workspace_id", names=ANTHROPIC_NAMES),
            ),
            unit="currencyUSD",
            width=12,
        ),
    ),
    tags=("finops", "openai", "anthropic"),
)

# --- OpenAI usage ---------------------------------------------------------------------------

OPENAI_VARS = (
    Variable("target", "openai_input_tokens_total", "Organization"),
    Variable("project_id", filtered("openai_project_info"), "Project", "project_name"),
    Variable("model", filtered("openai_input_tokens_total"), "Model"),
)
_O = selector(OPENAI_VARS)
_OD = selector(OPENAI_VARS, extra='endpoint="decisions"')
_OP = selector(OPENAI_VARS, "target", "project_id")


def legend_of(by: str) -> str:
    return " ".join("{{" + label.strip() + "}}" for label in by.split(","))


def per_hour(metric: str, by: str, sel: str = _O) -> Query:
    """Increase over the trailing hour: usage buckets are hourly or daily."""
    return q(f"sum by ({by}) (increase({metric}{sel}[1h]))", legend_of(by))


def per_second(metric: str, by: str, sel: str, suffix: str = "") -> Query:
    return q(f"sum by ({by}) (rate({metric}{sel}[$__rate_interval]))", legend_of(by) + suffix)


OPENAI = Dashboard(
    "openai",
    "OpenAI usage",
    "OpenAI organization usage: tokens, requests, images, audio, tool calls and "
    "vector stores, by model, project and endpoint. Counts per trailing hour.",
    OPENAI_VARS,
    (
        series(
            "Input tokens per hour by model",
            "Input tokens (cached included) over the trailing hour.",
            per_hour("openai_input_tokens_total", "model"),
        ),
        series(
            "Output tokens per hour by model",
            "Output tokens over the trailing hour.",
            per_hour("openai_output_tokens_total", "model"),
        ),
        series(
            "Tokens per hour by project",
            "Input plus output tokens over the trailing hour.",
            q(
                named(
                    f"sum by (target, project_id) (increase(openai_input_tokens_total{_O}[1h]))"
                    " + on (target, project_id)"
                    " sum by (target, project_id)"
                    f" (increase(openai_output_tokens_total{_O}[1h]))",
                    "project_id",
                ),
                name_legend("project_id"),
            ),
        ),
        series(
            "Input tokens per hour by endpoint",
            "Completions, embeddings and moderations.",
            per_hour("openai_input_tokens_total", "endpoint"),
        ),
        Panel(
            "gauge",
            "Prompt cache hit ratio",
            "Share of input tokens served from the prompt cache over the trailing hour.",
            (
                q(
                    f"sum(increase(openai_input_cached_tokens_total{_O}[1h]))"
                    f" / sum(increase(openai_input_tokens_total{_O}[1h]))"
                ),
            ),
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
        series(
            "Prompt cache writes per hour by retention",
            "Input tokens written to the prompt cache over the trailing hour, split by the "
            "retention the API reports (12 hours or 30 minutes; completions and decisions).",
            q(
                f"sum(increase(openai_input_cache_write_12h_tokens_total{_O}[1h]))",
                "12h retention",
            ),
            q(
                f"sum(increase(openai_input_cache_write_30m_tokens_total{_O}[1h]))",
                "30m retention",
            ),
        ),
        series(
            "Decisions API per hour",
            "Input and output tokens and model requests of the Decisions API (the decisions "
            "usage endpoint) over the trailing hour.",
            *(
                q(f"sum(increase({metric}{_OD}[1h]))", legend)
                for metric, legend in (
                    ("openai_input_tokens_total", "input tokens"),
                    ("openai_output_tokens_total", "output tokens"),
                    ("openai_model_requests_total", "model requests"),
                )
            ),
        ),
        series(
            "Tokens per hour by API source",
            "Input tokens over the trailing hour by api_source: agents_api is attributed Agents "
            "API activity; unlabeled is everything else (also history), not only direct API use; "
            "empty where the source is not grouped by api_source.",
            per_hour("openai_input_tokens_total", "api_source"),
        ),
        series(
            "Model requests per hour by endpoint",
            "num_model_requests of every usage endpoint.",
            per_hour("openai_model_requests_total", "endpoint"),
        ),
        series(
            "Images per hour",
            "Images generated, edited or varied, by size and source.",
            per_hour("openai_images_total", "size, source", _OP),
        ),
        series(
            "Speech characters per hour",
            "Characters synthesised to speech.",
            per_hour("openai_audio_characters_total", "model"),
        ),
        series(
            "Transcribed audio per hour",
            "Seconds of audio transcribed.",
            per_hour("openai_audio_transcription_seconds_total", "model"),
            unit="s",
        ),
        series(
            "Tool calls per hour",
            "Built-in tool calls (file search, web search) and code interpreter sessions.",
            per_hour("openai_tool_calls_total", "tool"),
            q(
                f"sum(increase(openai_code_interpreter_sessions_total{_OP}[1h]))",
                "code interpreter sessions",
            ),
        ),
        series(
            "Vector store bytes",
            "Bytes stored in vector stores, per project (newest daily bucket).",
            q(
                named(
                    f"sum by (target, project_id) (openai_vector_store_bytes{_OP})", "project_id"
                ),
                name_legend("project_id"),
            ),
            unit="bytes",
        ),
        table(
            "Rate limits per project and model",
            "Each project's rate limits per model as set in OpenAI (the rate_limits API): "
            "requests and tokens per minute, and images, audio megabytes, requests per day and "
            "batch input tokens per day where the model has them.",
            "max by (target, project_name, model, limit) ("
            'openai_project_rate_limit{target=~"$target", project_id=~"$project_id", '
            'model=~"$model"} * on (target, project_id) group_left (project_name) '
            "openai_project_info)",
            "short",
            width=24,
        ),
    ),
)

# --- Anthropic usage ------------------------------------------------------------------------

ANTHROPIC_VARS = (
    Variable("target", "anthropic_output_tokens_total", "Organization"),
    Variable("workspace_id", filtered("anthropic_workspace_info"), "Workspace", "workspace_name"),
    Variable("model", filtered("anthropic_output_tokens_total"), "Model"),
)
_C = selector(ANTHROPIC_VARS)
_CW = selector(ANTHROPIC_VARS, "target", "workspace_id")
# Input as OpenTelemetry counts it: uncached + cache read + cache writes (5 m and 1 h). Both
# APIs report the four in every row, so each label set has all four series.
_INPUT = (
    "anthropic_input_uncached_tokens_total",
    "anthropic_input_cache_read_tokens_total",
    "anthropic_input_cache_write_5m_tokens_total",
    "anthropic_input_cache_write_1h_tokens_total",
)


def _input_per_hour(by: str, sel: str = _C) -> str:
    """`sum by (by)` of the input tokens' increase over the trailing hour."""
    parts = " + ".join(f"increase({metric}{sel}[1h])" for metric in _INPUT)
    return f"sum by ({by}) ({parts})" if by else f"sum({parts})"


def _anthropic_per_hour(metric: str, by: str, sel: str = _C) -> Query:
    return q(f"sum by ({by}) (increase({metric}{sel}[1h]))", legend_of(by))


ANTHROPIC = Dashboard(
    "anthropic",
    "Anthropic usage",
    "Anthropic (Claude) organization usage and cost: input tokens by cache use, output "
    "tokens, web searches and cost, by workspace, API key and model, with their names. Counts "
    "per trailing hour; cost per UTC day and month.",
    ANTHROPIC_VARS,
    (
        stat(
            "Cost today",
            "Spend so far in the current UTC day.",
            f"sum(anthropic_cost_today_usd{_CW})",
            "currencyUSD",
        ),
        stat(
            "Month to date",
            "Spend so far in the current UTC calendar month.",
            f"sum(anthropic_cost_month_to_date_usd{_CW})",
            "currencyUSD",
        ),
        Panel(
            "gauge",
            "Prompt cache read share",
            "Share of input tokens read from the prompt cache over the trailing hour (input = "
            "uncached + cache read + cache writes).",
            (
                q(
                    f"sum(increase(anthropic_input_cache_read_tokens_total{_C}[1h]))"
                    f" / {_input_per_hour('')}"
                ),
            ),
            unit="percentunit",
            width=6,
            height=5,
            minimum=0,
            maximum=1,
        ),
        budget_used(
            "Month-to-date spend of each organization as a share of its monthly_budget_usd "
            "(organizations without a budget are not shown).",
            "anthropic",
        ),
        series(
            "Input tokens per hour by model",
            "Input tokens (uncached, cache reads and cache writes) over the trailing hour.",
            q(_input_per_hour("model"), "{{model}}"),
        ),
        series(
            "Output tokens per hour by model",
            "Output tokens over the trailing hour.",
            _anthropic_per_hour("anthropic_output_tokens_total", "model"),
        ),
        series(
            "Input tokens per hour by cache use",
            "Input tokens over the trailing hour: not cached, read from the prompt cache, and "
            "written to it with a 5-minute or a 1-hour retention.",
            *(
                q(f"sum(increase({metric}{_C}[1h]))", legend)
                for metric, legend in (
                    ("anthropic_input_uncached_tokens_total", "uncached"),
                    ("anthropic_input_cache_read_tokens_total", "cache read"),
                    ("anthropic_input_cache_write_5m_tokens_total", "cache write 5m"),
                    ("anthropic_input_cache_write_1h_tokens_total", "cache write 1h"),
                )
            ),
        ),
        series(
            "Tokens per hour by workspace",
            "Input plus output tokens over the trailing hour, by the workspace's name "
            "(default: the organization's default workspace).",
            q(
                named(
                    _input_per_hour("target, workspace_id")
                    + " + on (target, workspace_id) sum by (target, workspace_id)"
                    f" (increase(anthropic_output_tokens_total{_C}[1h]))",
                    "workspace_id",
                    ANTHROPIC_NAMES,
                ),
                name_legend("workspace_id", names=ANTHROPIC_NAMES),
            ),
        ),
        series(
            "Tokens per hour by API key",
            "Input plus output tokens over the trailing hour, by the key's name (console: "
            "Console and Workbench use without a key).",
            q(
                named(
                    _input_per_hour("target, api_key_id")
                    + " + on (target, api_key_id) sum by (target, api_key_id)"
                    f" (increase(anthropic_output_tokens_total{_C}[1h]))",
                    "api_key_id",
                    ANTHROPIC_NAMES,
                ),
                name_legend("api_key_id", names=ANTHROPIC_NAMES),
            ),
        ),
        series(
            "Tokens per hour by service tier",
            "Output tokens over the trailing hour by service tier (standard, batch, priority).",
            _anthropic_per_hour("anthropic_output_tokens_total", "service_tier"),
        ),
        series(
            "Web search requests per hour",
            "Server-side web search tool requests over the trailing hour.",
            _anthropic_per_hour("anthropic_web_search_requests_total", "model"),
        ),
        series(
            "Spend today by workspace",
            "Spend so far today per workspace, by its name; it restarts at 0 at each UTC midnight.",
            q(
                named(
                    f"sum by (target, workspace_id) (anthropic_cost_today_usd{_CW})",
                    "workspace_id",
                    ANTHROPIC_NAMES,
                ),
                "{{target}} " + name_legend("workspace_id", names=ANTHROPIC_NAMES),
            ),
            unit="currencyUSD",
            width=12,
        ),
        series(
            "Spend per day by model",
            "Spend over the trailing 24 hours per model (increase of the exact cost counter; "
            "model none: costs that are not per model, such as web search).",
            q(f"sum by (model) (increase(anthropic_cost_usd_total{_C}[1d]))", "{{model}}"),
            unit="currencyUSD",
            width=12,
        ),
        series(
            "Requests per hour by model",
            "API requests over the trailing hour (Analytics API sources only: the legacy Usage "
            "API has no request count).",
            _anthropic_per_hour("anthropic_requests_total", "model"),
        ),
        series(
            "Spend per day: net and list price",
            "Spend over the trailing 24 hours at the price paid (net of discounts) and at list "
            "price (Analytics API sources only).",
            q(f"sum(increase(anthropic_cost_usd_total{_C}[1d]))", "net"),
            q(f"sum(increase(anthropic_list_cost_usd_total{_C}[1d]))", "list price"),
            unit="currencyUSD",
        ),
        series(
            "Age of Anthropic's data",
            "Time since the Analytics API last refreshed its usage and cost data "
            "(data_refreshed_at; usually within 4 hours). AnthropicCostDataLagging fires past 6 "
            "hours for cost.",
            q(
                "time() - max by (target, endpoint)"
                ' (anthropic_data_refreshed_timestamp_seconds{target=~"$target"})',
                "{{target}} {{endpoint}}",
            ),
            unit="s",
        ),
        table(
            "Month to date by workspace, model and token type",
            "Where this month's money went (needs cost_group_by with description).",
            named(
                "sum by (target, workspace_id, model, cost_type, token_type)"
                f" (anthropic_cost_month_to_date_usd{_C})",
                "workspace_id",
                ANTHROPIC_NAMES,
            ),
            "currencyUSD",
            width=24,
        ),
    ),
)

# --- Telnyx storage -------------------------------------------------------------------------

TELNYX_VARS = (
    Variable("target", "telnyx_storage_operations_total", "Account"),
    Variable("bucket", filtered("telnyx_storage_operations_total"), "Bucket"),
    Variable("category", filtered("telnyx_storage_operations_total"), "Category"),
)
_T = selector(TELNYX_VARS)
_TB = selector(TELNYX_VARS, "target", "bucket")
TELNYX = Dashboard(
    "telnyx",
    "Telnyx storage",
    "Telnyx Cloud Storage: S3 operations and bytes by bucket and category, success "
    "ratio, bucket size and objects.",
    TELNYX_VARS,
    (
        *(
            series(
                f"Operations by {by}",
                description,
                per_second("telnyx_storage_operations_total", by, _T),
                unit="ops",
            )
            for by, description in (
                ("bucket", "S3 API operations per second."),
                ("category", "S3 API operations per second by operation category."),
            )
        ),
        series(
            "Success ratio by bucket",
            "Successful operations over all operations in the trailing hour.",
            q(
                f"sum by (bucket) (increase(telnyx_storage_successful_operations_total{_T}[1h]))"
                f" / (sum by (bucket) (increase(telnyx_storage_operations_total{_T}[1h])) > 0)",
                "{{bucket}}",
            ),
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
        series(
            "Bytes sent and received",
            "Bytes per second sent (egress) and received (ingress) by the storage service.",
            per_second("telnyx_storage_sent_bytes_total", "bucket", _T, " sent"),
            per_second("telnyx_storage_received_bytes_total", "bucket", _T, " received"),
            unit="Bps",
            width=12,
        ),
        series(
            "Bucket size",
            "Bytes stored per bucket (newest usage snapshot).",
            q(f"sum by (bucket) (telnyx_storage_bucket_size_bytes{_TB})", "{{bucket}}"),
            unit="bytes",
            width=6,
        ),
        series(
            "Objects",
            "Objects per bucket (newest usage snapshot).",
            q(f"sum by (bucket) (telnyx_storage_bucket_objects{_TB})", "{{bucket}}"),
            width=6,
        ),
    ),
)

# --- Arthur guardrails ----------------------------------------------------------------------

ARTHUR_VARS = (
    Variable("target", "arthur_inference_tokens_total", "Engine"),
    Variable("rule_type", filtered("arthur_inference_tokens_total"), "Rule type"),
    Variable("task_id", filtered("arthur_task_info"), "Task", "task_name"),
)
_A = selector(ARTHUR_VARS)
ARTHUR = Dashboard(
    "arthur",
    "Arthur guardrails",
    "Arthur GenAI Engine token usage by rule type and task: inference tokens "
    "checked by guardrails and the tokens LLM-judged rules spend evaluating.",
    ARTHUR_VARS,
    (
        series(
            "Inference tokens per hour by rule type",
            "Prompt and response tokens evaluated, counted once per rule that evaluated them.",
            per_hour("arthur_inference_tokens_total", "rule_type", _A),
            width=12,
        ),
        series(
            "Inference tokens per hour by task",
            "Prompt and response tokens evaluated per task, by the task's name.",
            q(
                named(
                    f"sum by (target, task_id) (increase(arthur_inference_tokens_total{_A}[1h]))",
                    "task_id",
                ),
                name_legend("task_id"),
            ),
            width=12,
        ),
        series(
            "Evaluation tokens per hour by rule type",
            "Tokens the engine's LLM-judged rules spent: prompt and completion.",
            q(
                f"sum by (rule_type) (increase(arthur_eval_prompt_tokens_total{_A}[1h]))",
                "{{rule_type}} prompt",
            ),
            q(
                f"sum by (rule_type) (increase(arthur_eval_completion_tokens_total{_A}[1h]))",
                "{{rule_type}} completion",
            ),
            width=12,
        ),
        table(
            "Tokens over the range by rule type and task",
            "Inference tokens over the dashboard's time range.",
            named(
                "sum by (target, rule_type, task_id)"
                f" (increase(arthur_inference_tokens_total{_A}[$__range]))",
                "task_id",
            ),
            "short",
        ),
    ),
)

# --- Anylayer API keys ----------------------------------------------------------------------

ANYLAYER_VARS = (
    Variable("target", "anylayer_requests_total", "Account"),
    Variable("key_id", filtered("anylayer_requests_total"), "API key"),
)
_K = selector(ANYLAYER_VARS)
ANYLAYER = Dashboard(
    "anylayer",
    "Anylayer API keys",
    "Anylayer (ZKScore) API-key usage: requests, errors, latency, rate-limit "
    "headroom and the alerts the API raises.",
    ANYLAYER_VARS,
    (
        series(
            "Requests per hour by key",
            "API requests over the trailing hour.",
            per_hour("anylayer_requests_total", "key_id", _K),
        ),
        series(
            "Error rate by key",
            "Failed requests over all requests in the trailing hour.",
            q(
                f"sum by (key_id) (increase(anylayer_failed_requests_total{_K}[1h]))"
                f" / (sum by (key_id) (increase(anylayer_requests_total{_K}[1h])) > 0)",
                "{{key_id}}",
            ),
            unit="percentunit",
        ),
        series(
            "Latency",
            "Average and peak latency over the API's timeframe.",
            q(f"max by (key_id, stat) (anylayer_latency_seconds{_K})", "{{key_id}} {{stat}}"),
            unit="s",
        ),
        shares(
            "Rate-limit headroom",
            "Share of each key's rate limit still unused, per period. Alert below 10%.",
            q(
                f"1 - max by (key_id, period) (anylayer_rate_limit_utilisation_ratio{_K})",
                "{{key_id}} {{period}}",
            ),
            thresholds=((None, "red"), (0.1, "orange"), (0.25, "green")),
        ),
        series(
            "Bytes transferred",
            "Bytes per second transferred for the key's requests.",
            per_second("anylayer_transferred_bytes_total", "key_id", _K),
            unit="Bps",
        ),
        series(
            "Errors by type",
            "Errors over the API's timeframe, by type.",
            q(f"sum by (key_id, type) (anylayer_errors{_K})", "{{key_id}} {{type}}"),
        ),
        table(
            "Requests by endpoint",
            "Requests per API endpoint over the API's timeframe.",
            f"sum by (key_id, endpoint) (anylayer_endpoint_requests{_K})",
            "short",
        ),
        table(
            "Active alerts",
            "Alerts the Anylayer API reports as active, by type and priority.",
            f"sum by (key_id, type, priority) (anylayer_alerts{_K}) > 0",
            "short",
        ),
    ),
)

# --- exporter health ------------------------------------------------------------------------

HEALTH_VARS = (
    Variable("source", "usage_exporter_up", "Source"),
    Variable("target", filtered("usage_exporter_up", "source"), "Target"),
)
_H = selector(HEALTH_VARS)
HEALTH = Dashboard(
    "health",
    "usage-exporter health",
    "Is the exporter reading every upstream, how fresh is the data, and what do "
    "the upstreams answer: polls, freshness, response codes, rate limits, revisions, series.",
    HEALTH_VARS,
    (
        up_timeline(
            "Up",
            "1 when the target's last poll read every stream and saved it.",
            q(f"usage_exporter_up{_H}", "{{target}}"),
        ),
        up_timeline(
            "Names and limits read",
            "1 when the last read of a resource (names, spend and rate limits; read every "
            "resource_interval, apart from usage) succeeded; 0 keeps its last values. A resource "
            "the key may not read is turned off and has no row.",
            q(f"usage_exporter_resource_up{_H}", "{{target}} {{resource}}"),
        ),
        series(
            "Data freshness",
            "Age of the newest settled bucket (watermark): how far behind the exact data is.",
            q(
                f"time() - max by (target) (usage_exporter_data_watermark_timestamp_seconds{_H})",
                "{{target}}",
            ),
            unit="s",
            width=12,
        ),
        series(
            "Time since last successful poll",
            "Seconds since the target was last read completely.",
            q(
                f"time() - max by (target) (usage_exporter_last_success_timestamp_seconds{_H})",
                "{{target}}",
            ),
            unit="s",
        ),
        series(
            "Poll duration p90",
            "90th percentile of poll wall time (every stream read and the ledger commit).",
            q(
                "histogram_quantile(0.9, sum by (target, le) "
                f"(rate(usage_exporter_poll_duration_seconds_bucket{_H}[$__rate_interval])))",
                "{{target}}",
            ),
            unit="s",
        ),
        series(
            "Polls by result",
            "Polls per second, successful or failed.",
            per_second("usage_exporter_polls_total", "target, result", _H),
            unit="reqps",
        ),
        series(
            "Upstream responses by code",
            "HTTP calls to the upstreams per second, retries included, by status code.",
            per_second("usage_exporter_upstream_requests_total", "target, code", _H),
            unit="reqps",
            width=12,
        ),
        series(
            "Rate limited (429) per hour",
            "Answers with 429: retried after Retry-After, nothing is lost, data arrives later.",
            q(
                "sum by (target) (increase(usage_exporter_upstream_requests_total"
                + selector(HEALTH_VARS, extra='code="429"')
                + "[1h]))",
                "{{target}}",
            ),
            width=12,
        ),
        series(
            "Upstream rate-limit remaining",
            "Requests left in the upstream's rate-limit window, from its headers.",
            q(f"usage_exporter_upstream_rate_limit_remaining{_H}", "{{target}}"),
        ),
        series(
            "Bucket revisions per hour",
            "Re-read buckets whose value changed: up is late data, down a downward revision.",
            per_hour("usage_exporter_bucket_revisions_total", "target, direction", _H),
        ),
        series(
            "Series and overflow",
            "Series held per target, and observations folded into __overflow__ in the last hour.",
            q(f"usage_exporter_series{_H}", "{{target}} series"),
            q(f"increase(usage_exporter_series_overflow_total{_H}[1h])", "{{target}} overflow"),
        ),
        series(
            "Upstream schema drift",
            "Unknown fields and self-contradicting answers seen in the last hour.",
            q(
                f"increase(usage_exporter_upstream_unknown_fields_total{_H}[1h])",
                "{{target}} unknown fields",
            ),
            q(
                f"increase(usage_exporter_upstream_inconsistencies_total{_H}[1h])",
                "{{target}} inconsistencies",
            ),
            width=12,
        ),
        table(
            "Build",
            "Exporter version and Python version.",
            'usage_exporter_build_info{target=~"$target"}',
            "short",
        ),
    ),
    tags=(),
    time_from="now-6h",
)

ALL = (SPEND, OPENAI, ANTHROPIC, TELNYX, ARTHUR, ANYLAYER, HEALTH)


def render_panel(panel: Panel, pid: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for value, color in panel.thresholds],
        },
    }
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    instant = panel.kind in {"table", "bargauge", "stat", "gauge"}
    targets = []
    for ref, query in zip("ABCDEFGH", panel.queries, strict=False):
        target: dict[str, Any] = {
            "refId": ref,
            "datasource": DATASOURCE,
            "expr": query.expr,
            "legendFormat": query.legend or "__auto",
            "range": not instant,
            "instant": instant,
        }
        if panel.kind == "table":
            target["format"] = "table"
        targets.append(target)
    options: dict[str, Any] = dict(panel.options)
    if panel.kind == "table":
        options.setdefault("showHeader", True)
    if panel.kind in {"stat", "gauge", "bargauge"}:
        options.setdefault(
            "reduceOptions", {"calcs": ["lastNotNull"], "fields": "", "values": False}
        )
    rendered: dict[str, Any] = {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    }
    if panel.kind == "table":
        rendered["transformations"] = [
            {"id": "organize", "options": {"excludeByName": {"Time": True}}}
        ]
    return rendered


def render_variable(variable: Variable) -> dict[str, Any]:
    query = f"label_values({variable.metric}, {variable.label})"
    extra: dict[str, Any] = {}
    if variable.shows:
        # query_result lists series as `name{a="..", b=".."} 1 ts` with labels sorted; the
        # regex's named groups give Grafana the value (the id) and the text shown (the name)
        first, second = sorted((variable.label, variable.shows))
        groups = {variable.label: "value", variable.shows: "text"}
        query = f"query_result({variable.metric})"
        extra["regex"] = (
            f'/{first}="(?<{groups[first]}>[^"]*)".*{second}="(?<{groups[second]}>[^"]*)"/'
        )
    return {
        "name": variable.label,
        "label": variable.title,
        "type": "query",
        "datasource": DATASOURCE,
        **extra,
        "query": {
            "qryType": 1 if not variable.shows else 3,
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "description": f"Filter by {variable.label}.",
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"text": ["All"], "value": ["$__all"]},
        "refresh": 2,
        "sort": 1,
        "hide": 0,
    }


def render(dashboard: Dashboard) -> dict[str, Any]:
    panels = []
    x = y = row_height = 0
    for pid, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > WIDTH:
            x, y, row_height = 0, y + row_height, 0
        panels.append(render_panel(panel, pid, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    datasource_variable = {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "description": "The Prometheus that scrapes usage-exporter.",
        "current": {"text": "Prometheus", "value": "prometheus"},
        "hide": 0,
        "refresh": 1,
    }
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["usage-exporter", *dashboard.tag_names],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": dashboard.time_from, "to": "now"},
        "timezone": "utc",
        "annotations": {"list": []},
        "links": [
            {
                "title": "usage-exporter dashboards",
                "type": "dashboards",
                "tags": ["usage-exporter"],
                "asDropdown": True,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {
            "list": [datasource_variable, *(render_variable(v) for v in dashboard.variables)]
        },
        "panels": panels,
    }


def files() -> dict[Path, str]:
    return {DASHBOARDS / f"{d.name}.json": json.dumps(render(d), indent=2) + "\n" for d in ALL}


def main(argv: list[str]) -> int:
    wanted = files()
    if "--check" in argv:
        stale = [str(p) for p, text in wanted.items() if not p.exists() or p.read_text() != text]
        extra = sorted(set(DASHBOARDS.glob("*.json")) - set(wanted))
        if stale or extra:
            print("out of date (run python grafana/generate.py):", *stale, *map(str, extra))
            return 1
        return 0
    DASHBOARDS.mkdir(exist_ok=True)
    for path, text in wanted.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
