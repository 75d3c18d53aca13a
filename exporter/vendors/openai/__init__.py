"""OpenAI: an organization's Usage & Costs API, with its names and limits (Admin API)."""

from __future__ import annotations

from collections.abc import Mapping

from exporter.focus.mapping import CostMapping, Names, Quantity
from exporter.model import Source
from exporter.plugin import Demo, Plugin, Twin
from exporter.upstream import Upstream
from exporter.upstream.composite import Composite
from exporter.vendors.openai import api, metrics, resources, source
from exporter.vendors.openai.config import OpenAIConfig, warnings


def build(config: OpenAIConfig, upstream: Upstream) -> Source:
    """Usage and costs, with the organization's names and limits on their own schedule (and
    their own concurrency slot: they never hold up a usage call)."""
    return Composite(
        source.OpenAISource(config, upstream),
        resources.OpenAIResourceSource(config, upstream.with_own_slots()),
    )


def headers(config: OpenAIConfig) -> Mapping[str, str]:
    return {"OpenAI-Organization": config.organization} if config.organization else {}


# The costs endpoint as FOCUS rows: a SKU per line item, the project as sub-account (named from
# the projects listing), the billed `quantity` in its `quantity_unit` (docs/finops.md).
FOCUS = CostMapping(
    family="openai_cost_usd_total",
    provider="OpenAI",
    service="OpenAI API",
    sku=("line_item",),
    sub_account="project_id",
    names=Names("openai_project_info", key="project_id", name="project_name"),
    quantity=Quantity(
        "openai_cost_quantity_total",
        unit="quantity_unit",
        units={"1000_tokens": "1000 Tokens", "1m_tokens": "1000000 Tokens"},
    ),
    extra={
        "x_LineItem": "line_item",
        "x_ApiKeyId": "api_key_id",
        "x_ApiSource": "api_source",
        "x_UserId": "user_id",
    },
)

_DEMO = {"interval": "5s", "timeout": "4s", "bucket_width": "1h", "backfill": "1d"}

PLUGIN = Plugin(
    kind="openai",
    title="OpenAI organization Usage & Costs API",
    config_model=OpenAIConfig,
    families=metrics.FAMILIES + resources.FAMILIES,
    default_base_url=api.DEFAULT_BASE_URL,
    build=build,
    twin=Twin(
        mount="exporter.vendors.openai.routes:mount",
        expected="exporter.vendors.openai.expected:expected",
        default_keys={"sk-admin-demo": "org-demo"},
        key_help="KEY=ORG",
    ),
    demo=Demo(
        sources=(
            {
                "kind": "openai",
                "name": "acme-prod",
                "api_key": "sk-admin-demo-acme-prod",
                **_DEMO,
                "group_by": [
                    "project_id",
                    "model",
                    "line_item",
                    "size",
                    "source",
                    "context_level",
                    "api_source",
                    "api_key_id",
                ],
                "monthly_budget_usd": 500,
                "resource_interval": "1m",  # names and limits: a rename shows within a minute
            },
            {
                "kind": "openai",
                "name": "acme-research",
                "api_key": "sk-admin-demo-acme-research",
                **_DEMO,
                "group_by": ["project_id", "model", "line_item"],
                # costs per user: only here, and not with project_id grouping
                "overrides": {"costs": {"group_by": ["line_item", "user_id"]}},
                "resource_interval": "1m",
            },
        ),
        keys={
            "sk-admin-demo-acme-prod": "org-acme-prod",
            "sk-admin-demo-acme-research": "org-acme-research",
        },
        faults=(
            {
                "kind": "status",
                "status": 429,
                "retry_after": 1,
                "count": 1,
                "path_contains": "completions",
                "upstream": "openai",
            },
        ),
    ),
    extra_headers=headers,
    api_version=api.API_VERSION,
    error_hints=api.ERROR_HINTS,
    # (`endpoints` is not one: an added endpoint is a new stream, a removed one stops)
    series_keys=("bucket_width", "group_by", "overrides"),
    lateness=2 * 3600,
    lateness_source="OpenAI: closed buckets change as late data arrives; re-read the "
    "last 2-3 hourly buckets",
    wide_keys=("user_id", "api_key_id"),
    warnings=warnings,
    focus=(FOCUS,),
)
