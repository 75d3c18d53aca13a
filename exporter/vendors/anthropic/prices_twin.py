"""What the twin's organization pays: per-token list prices in cents (`Decimal`, exact), web
searches and code execution, a negotiated discount, and the cost lines each raw row is billed
in (cost type, token type and the legacy `description`).

`amount` is the net (post-discount) cost, `list_amount` the cost at list price. Priority Tier
cost is left out of the legacy cost report (as the docs say); the Analytics cost endpoint has
it. The docs publish no price list: these are the twin's own (docs/upstreams.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from exporter.vendors.anthropic.twin import (
    CODE_EXECUTION,
    HAIKU,
    MODEL_TITLES,
    OPUS,
    RESEARCH,
    ROWS,
    SONNET,
    TOKEN_FIELDS,
    Row,
)

# input and output price per token in cents ($3/MTok = 0.0003 cents a token)
_BASE_PRICES = {
    SONNET: (Decimal("0.0003"), Decimal("0.0015")),
    HAIKU: (Decimal("0.0001"), Decimal("0.0005")),
    OPUS: (Decimal("0.0015"), Decimal("0.0075")),
}
_INPUT_FACTOR = {
    "uncached_input_tokens": Decimal(1),
    "cache_read_input_tokens": Decimal("0.1"),
    "cache_creation.ephemeral_5m_input_tokens": Decimal("1.25"),
    "cache_creation.ephemeral_1h_input_tokens": Decimal(2),
}
_TIER_FACTOR = {"batch": Decimal("0.5")}
WEB_SEARCH_CENTS = Decimal(1)  # $10 per 1000 searches
CODE_EXECUTION_CENTS = Decimal("0.0833")  # per container minute (the twin's own price)
# net = list x discount: a negotiated discount in one workspace
DISCOUNT: dict[str | None, Decimal] = {RESEARCH: Decimal("0.85")}
_TOKEN_TITLES = {
    "uncached_input_tokens": "Input Tokens",
    "cache_read_input_tokens": "Cache Read Input Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "5m Cache Write Input Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "1h Cache Write Input Tokens",
    "output_tokens": "Output Tokens",
}
PRIORITY_TIERS = frozenset({"priority", "priority_on_demand"})


def token_price(model: str, tier: str, field: str) -> Decimal:
    """List price of one token of `field` in cents."""
    price_in, price_out = _BASE_PRICES[model]
    base = price_out if field == "output_tokens" else price_in * _INPUT_FACTOR[field]
    return base * _TIER_FACTOR.get(tier, Decimal(1))


@dataclass(frozen=True, slots=True)
class CostLine:
    """One cost line of a row: what it is billed for, its quantity field and unit price."""

    dims: Mapping[str, str | None]
    field: str
    price: Decimal  # list price per unit, cents


def _description(model: str, tier: str, context_window: str, field: str) -> str:
    """The cost line's `description`: unique per model, tier, context window and token type
    (grouping by it is grouping by all of them, as the API's parsed fields say)."""
    text = f"{MODEL_TITLES[model]} Usage - {_TOKEN_TITLES[field]}"
    if tier == "batch":
        text += ", Batch"
    if context_window != "0-200k":
        text += ", Long Context"
    return text


def _cost_lines(row: Row) -> list[CostLine]:
    model, tier = row.model, row.service_tier
    common = {"workspace_id": row.workspace_id, "api_key_id": row.api_key_id, "inference_geo": None}
    lines = [
        CostLine(
            {
                **common,
                "model": model,
                "service_tier": tier,
                "context_window": row.context_window,
                "cost_type": "tokens",
                "token_type": field,
                "description": _description(model, tier, row.context_window, field),
            },
            field,
            token_price(model, tier, field),
        )
        for field in TOKEN_FIELDS
    ]
    untyped = {"model": None, "service_tier": None, "context_window": None, "token_type": None}
    lines.append(
        CostLine(
            {**common, **untyped, "cost_type": "web_search", "description": "Web Search Usage"},
            "server_tool_use.web_search_requests",
            WEB_SEARCH_CENTS,
        )
    )
    if row.code_execution:
        lines.append(
            CostLine(
                {
                    **common,
                    **untyped,
                    "cost_type": "code_execution",
                    "description": "Code Execution Usage",
                },
                CODE_EXECUTION,
                CODE_EXECUTION_CENTS,
            )
        )
    return lines


COST_LINES = {row.index: _cost_lines(row) for row in ROWS}  # by row index
# the dimensions a cost group may be keyed by: a cost line's (the legacy report groups by
# workspace_id and description, which adds cost_type, token_type, model, service_tier and
# context_window)
COST_DIMENSIONS = frozenset(d for lines in COST_LINES.values() for line in lines for d in line.dims)
