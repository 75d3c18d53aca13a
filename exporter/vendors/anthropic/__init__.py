"""Anthropic (Claude): an organization's usage and cost, from the legacy Usage & Cost Admin API
(`api: admin`) or the Usage and Cost Analytics API (`api: analytics`), with its names."""

from __future__ import annotations

from exporter.focus.mapping import CostMapping, Names
from exporter.model import Source
from exporter.plugin import Demo, Plugin, Twin
from exporter.upstream import Upstream
from exporter.upstream.composite import Composite
from exporter.vendors.anthropic import families, resources, source
from exporter.vendors.anthropic.analytics_source import AnalyticsSource
from exporter.vendors.anthropic.config import AnthropicConfig, warnings


def build(config: AnthropicConfig, upstream: Upstream) -> Source:
    """Usage and cost from the chosen API, with the organization's names on their own schedule
    (and their own concurrency slot: they never hold up a usage call)."""
    usage: Source
    if config.api == "analytics":
        usage = AnalyticsSource(config, upstream)
    else:
        usage = source.AnthropicSource(config, upstream)
    return Composite(usage, resources.AnthropicResourceSource(config, upstream.with_own_slots()))


# Cost as FOCUS rows: a SKU per model, cost type and token type, the workspace as sub-account
# (named from the workspaces listing), the Analytics API's list-price amount as ListCost (the
# net amount is BilledCost); the cost report has no billed quantity (docs/finops.md).
FOCUS = CostMapping(
    family="anthropic_cost_usd_total",
    provider="Anthropic",
    service="Claude API",
    sku=("model", "cost_type", "token_type"),
    sub_account="workspace_id",
    names=Names("anthropic_workspace_info", key="workspace_id", name="workspace_name"),
    list_cost="anthropic_list_cost_usd_total",
    extra={
        "x_Model": "model",
        "x_CostType": "cost_type",
        "x_TokenType": "token_type",
        "x_ServiceTier": "service_tier",
        "x_ContextWindow": "context_window",
        "x_ApiKeyId": "api_key_id",
    },
    absent=frozenset({families.NULL_OTHER}),  # a model or token type on a non-token cost
)

_DEMO = {"interval": "5s", "timeout": "4s", "backfill": "1d", "resource_interval": "1m"}

PLUGIN = Plugin(
    kind="anthropic",
    title="Anthropic (Claude) organization usage and cost",
    config_model=AnthropicConfig,
    families=families.FAMILIES + resources.FAMILIES,
    default_base_url=source.DEFAULT_BASE_URL,
    build=build,
    twin=Twin(
        mount="exporter.vendors.anthropic.routes:mount",
        expected="exporter.vendors.anthropic.expected:expected",
        default_keys={"sk-ant-admin01-demo": "org-demo"},
        key_help="KEY=ORG",
    ),
    demo=Demo(
        sources=(
            {
                "kind": "anthropic",
                "name": "anthropic-console",
                "api_key": "sk-ant-admin01-demo-console",
                "api": "admin",
                "bucket_width": "1h",
                "group_by": ["workspace_id", "api_key_id", "model", "service_tier"],
                "cost_group_by": ["workspace_id", "description"],
                "monthly_budget_usd": 800,
                **_DEMO,
            },
            {
                "kind": "anthropic",
                "name": "anthropic-analytics",
                "api_key": "sk-ant-admin01-demo-analytics",
                "api": "analytics",
                "bucket_width": "1h",
                "group_by": ["workspace_id", "api_key_id", "model", "service_tier", "product"],
                "cost_group_by": ["workspace_id", "api_key_id", "model", "cost_type", "token_type"],
                "monthly_budget_usd": 800,
                **_DEMO,
            },
        ),
        keys={
            "sk-ant-admin01-demo-console": "org-acme",
            "sk-ant-admin01-demo-analytics": "org-acme-analytics",
        },
        faults=(
            {
                "kind": "status",
                "status": 429,
                "retry_after": 1,
                "count": 1,
                "path_contains": "usage_report",
                "upstream": "anthropic",
            },
        ),
    ),
    extra_headers=source.headers,
    auth_headers=source.x_api_key,
    api_version=source.API_VERSION,
    error_hints=source.ERROR_HINTS,
    series_keys=("api", "bucket_width", "group_by", "cost_group_by"),
    lateness=5 * 60,
    lateness_source="Anthropic usage-cost-api docs: data usually appears within 5 minutes of a "
    "request finishing, sometimes later",
    wide_keys=("api_key_id", "account_id", "service_account_id"),
    example={"bucket_width": "1h"},
    warnings=warnings,
    focus=(FOCUS,),
)
