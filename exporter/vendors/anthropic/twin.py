"""The Anthropic twin's ground truth: one organization's usage and cost as of any time, shared by
the legacy Admin API routes (`routes.py`), the Analytics API routes (`analytics_routes.py`) and
the names routes (`resources_twin.py`).

An organization (`org`: who an accepted key belongs to) has a fixed set of raw rows, each one
combination of every dimension both APIs know (workspace, API key, model, service tier, context
window, inference geo, speed, account, service account, product). Each row's counts per minute
come from `exporter/simulator/usage.py` (deterministic, visible in two halves: at the minute's end
and `late` seconds later) plus late revisions up and down (`Revisions`), so buckets of any width
agree and any group's sum is known exactly.

Cost is derived from the same counts: tokens times a per-token price in cents (`Decimal`, exact),
web searches at 1 cent each, and code execution (cost only, never usage) per minute. `amount` is
the net (post-discount) cost, `list_amount` the cost at list price. Priority Tier cost is left
out of the legacy cost report (as the docs say); the Analytics cost endpoint has it.

The API other twins use (all times unix seconds, `[start, end)`, `now` the simulator's time):

- `WORKSPACES`, `API_KEYS`, `ARCHIVED_WORKSPACES`: the names (ids as the usage rows carry them;
  `None` is the default workspace / keyless Console usage and has no id).
- `AnthropicUsage(seed, usage_start, late)`, with `.revisions` and `.revise(org, up, now, rng)`.
- `.usage(org, start, end, now, group_by, filters)`: `{group tuple: {field: int}}` for the
  groups with any usage (fields `USAGE_FIELDS` + `requests`; dotted names are nested fields).
- `.cost(org, start, end, now, group_by, legacy=..., filters=...)`: `{group tuple: CostSums}`
  (amount and list amount in cents as exact `Decimal`, requests) for the groups with any cost;
  `group_by` over `COST_DIMENSIONS`.
- `cents(value)`: a `Decimal` as the decimal string the API sends.
- `analytics_value(dimension, value)`: a row's value as the Analytics API shows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from random import Random

from exporter.simulator.usage import HOUR, MINUTE, Key, Revisions, digest, rate, visible

# --- the organization's names -------------------------------------------------------------

PROD = "wrkspc_01AcmeProd7Hq2nV9xLcT4"
RESEARCH = "wrkspc_01AcmeResearch3Fk8Zp1M"
SANDBOX = "wrkspc_01AcmeSandbox6Yw5Rb2Q"  # archived: has names, no recent usage
WORKSPACES: dict[str, str] = {
    PROD: "acme-prod",
    RESEARCH: "acme-research",
    SANDBOX: "acme-sandbox",
}
ARCHIVED_WORKSPACES = frozenset({SANDBOX})
DEFAULT_WORKSPACE_NAME = "Default"  # the default workspace has no id (null in every report)


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    workspace_id: str | None  # None: the default workspace
    status: str = "active"


K_BACKEND = "apikey_01Rj2N8SVvo6BePZj99NhmiT"
K_BATCH = "apikey_01Kx7BatchJobs4Vd3WqP8sLm"
K_NOTEBOOK = "apikey_01Nb5ResearchNotes9Gh2Tz"
K_SCRIPT = "apikey_01Sc3DefaultScripts7Ju4"
K_CI = "apikey_01Ci8ClaudeCode2Rn6Xe5Wa"
K_OLD = "apikey_01Od4Retired1Kp9Bv3Ns7Y"  # inactive: has names, no recent usage
API_KEYS: dict[str, ApiKey] = {
    K_BACKEND: ApiKey("backend-prod", PROD),
    K_BATCH: ApiKey("batch-nightly", PROD),
    K_NOTEBOOK: ApiKey("notebooks", RESEARCH),
    K_SCRIPT: ApiKey("ops-scripts", None),
    K_CI: ApiKey("ci-claude-code", RESEARCH),
    K_OLD: ApiKey("retired-2025", PROD, status="inactive"),
}

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
OPUS = "claude-opus-4-1-20250805"
MODEL_TITLES = {SONNET: "Claude Sonnet 4.5", HAIKU: "Claude Haiku 4.5", OPUS: "Claude Opus 4.1"}

# --- the raw rows ---------------------------------------------------------------------------

DIMENSIONS = (
    "workspace_id",
    "api_key_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "account_id",
    "service_account_id",
    "product",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One raw row: every dimension's value (None where the API says null)."""

    index: int
    dims: Mapping[str, str | None]
    code_execution: bool = False  # runs code execution (cost only)


def _row(index: int, *values: str | None, code_execution: bool = False) -> Row:
    return Row(index, dict(zip(DIMENSIONS, values, strict=True)), code_execution)


ROWS: tuple[Row, ...] = (
    _row(0, PROD, K_BACKEND, SONNET, "standard", "0-200k", "global", "standard", None, None, None),
    _row(1, PROD, K_BACKEND, HAIKU, "standard", "0-200k", "us", "standard", None, None, None),
    _row(2, PROD, K_BATCH, SONNET, "batch", "0-200k", "global", "standard", None, None, None),
    _row(3, PROD, K_BACKEND, OPUS, "priority", "200k-1M", "global", "fast", None, None, None),
    _row(
        4,
        RESEARCH,
        K_NOTEBOOK,
        OPUS,
        "standard",
        "200k-1M",
        "not_available",
        "standard",
        None,
        None,
        None,
        code_execution=True,
    ),
    # Console / Workbench usage: no API key
    _row(5, RESEARCH, None, SONNET, "standard", "0-200k", "global", "standard", None, None, None),
    _row(6, None, K_SCRIPT, HAIKU, "batch", "0-200k", "us", "standard", None, None, None),
    # Console usage in the default workspace by a signed-in (OAuth) account
    _row(
        7,
        None,
        None,
        SONNET,
        "standard",
        "0-200k",
        "global",
        "standard",
        "user_01AnaReyes8Kd2Pq",
        None,
        None,
    ),
    # Claude Code in CI through a federated service account
    _row(
        8,
        RESEARCH,
        K_CI,
        SONNET,
        "standard",
        "0-200k",
        "us",
        "standard",
        None,
        "svac_01CiRunner5Lm7Tq",
        "claude_code",
        code_execution=True,
    ),
)

# --- counts ---------------------------------------------------------------------------------

# result field -> the most a busy row uses per minute (the rate is in [0, 2*max))
USAGE_FIELDS: dict[str, int] = {
    "uncached_input_tokens": 900,
    "cache_read_input_tokens": 2000,
    "cache_creation.ephemeral_5m_input_tokens": 300,
    "cache_creation.ephemeral_1h_input_tokens": 100,
    "output_tokens": 400,
    "server_tool_use.web_search_requests": 2,
}
REQUESTS = "requests"  # Analytics only
CODE_EXECUTION = "code_execution_minutes"  # cost only
_MAXIMA = {**USAGE_FIELDS, REQUESTS: 6, CODE_EXECUTION: 2}
TOKEN_FIELDS = tuple(f for f in USAGE_FIELDS if f != "server_tool_use.web_search_requests")

# --- prices (cents, exact) ----------------------------------------------------------------

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

# dimensions a cost group may be keyed by (legacy: workspace_id and description, which adds
# cost_type, token_type, model, service_tier, context_window)
COST_DIMENSIONS = (
    "workspace_id",
    "api_key_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "cost_type",
    "token_type",
    "description",
)


def token_price(model: str, tier: str, field: str) -> Decimal:
    """List price of one token of `field` in cents."""
    price_in, price_out = _BASE_PRICES[model]
    base = price_out if field == "output_tokens" else price_in * _INPUT_FACTOR[field]
    return base * _TIER_FACTOR.get(tier, Decimal(1))


@dataclass(frozen=True, slots=True)
class CostSums:
    """A cost group's sums: net and list amount in cents, and API requests."""

    amount: Decimal
    list_amount: Decimal
    requests: int


@dataclass(frozen=True, slots=True)
class _CostLine:
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


def _cost_lines(row: Row) -> list[_CostLine]:
    dims = row.dims
    model, tier = str(dims["model"]), str(dims["service_tier"])
    common = {
        "workspace_id": dims["workspace_id"],
        "api_key_id": dims["api_key_id"],
        "inference_geo": None,
    }
    lines = [
        _CostLine(
            {
                **common,
                "model": model,
                "service_tier": tier,
                "context_window": dims["context_window"],
                "cost_type": "tokens",
                "token_type": field,
                "description": _description(model, tier, str(dims["context_window"]), field),
            },
            field,
            token_price(model, tier, field),
        )
        for field in TOKEN_FIELDS
    ]
    untyped = {"model": None, "service_tier": None, "context_window": None, "token_type": None}
    lines.append(
        _CostLine(
            {**common, **untyped, "cost_type": "web_search", "description": "Web Search Usage"},
            "server_tool_use.web_search_requests",
            WEB_SEARCH_CENTS,
        )
    )
    if row.code_execution:
        lines.append(
            _CostLine(
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


_COST_LINES = {row.index: _cost_lines(row) for row in ROWS}


def cents(value: Decimal) -> str:
    """A cents amount as the API writes it: a plain decimal string (no exponent)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def analytics_value(dimension: str, value: str | None) -> str | None:
    """A row's dimension as the Analytics API shows it: its inference geos are `global` and
    `us` only (the legacy `not_available` is null there)."""
    if dimension == "inference_geo" and value == "not_available":
        return None
    return value


def _passes(dims: Mapping[str, str | None], filters: Mapping[str, set[str | None]] | None) -> bool:
    return not filters or all(dims.get(d) in allowed for d, allowed in filters.items())


class AnthropicUsage:
    """The usage and cost of every organization, as of any time."""

    def __init__(self, seed: int, usage_start: int, late: int) -> None:
        self.seed = seed
        self.usage_start = usage_start - usage_start % HOUR
        self.late = late
        self.revisions = Revisions(late)

    def _rate(self, org: str, row: Row, field: str, hour: int) -> int:
        if hour < self.usage_start:
            return 0
        if field == CODE_EXECUTION and not row.code_execution:
            return 0
        maximum = _MAXIMA[field]
        # a few rows are busy, most are quiet: the data looks like real usage
        if digest(self.seed, "anthropic", org, row.index)[0] % 4 == 0:
            maximum = max(min(maximum, 2), maximum // 20)
        return rate(self.seed, "anthropic", org, row.index, field, hour, maximum=maximum)

    def value(self, org: str, row: Row, field: str, start: int, end: int, now: int) -> int:
        """Row `row`'s count of `field` in [start, end) as reported at `now`."""
        start = max(start, self.usage_start)
        if end <= start:
            return 0
        generated = visible(lambda h: self._rate(org, row, field, h), start, end, now, self.late)
        return generated + self.revisions.shift((org, row.index, field), start, end, now)

    def usage(
        self,
        org: str,
        start: int,
        end: int,
        now: int,
        group_by: Sequence[str],
        filters: Mapping[str, set[str | None]] | None = None,
    ) -> dict[tuple[str | None, ...], dict[str, int]]:
        """Usage per group (keyed by the values of `group_by`, None for null), groups with
        usage only. Fields: `USAGE_FIELDS` and `requests`."""
        groups: dict[tuple[str | None, ...], dict[str, int]] = {}
        for row in ROWS:
            if not _passes(row.dims, filters):
                continue
            key = tuple(row.dims[d] for d in group_by)
            sums = groups.setdefault(key, dict.fromkeys((*USAGE_FIELDS, REQUESTS), 0))
            for field in sums:
                sums[field] += self.value(org, row, field, start, end, now)
        return {k: v for k, v in groups.items() if any(v.values())}

    def cost(
        self,
        org: str,
        start: int,
        end: int,
        now: int,
        group_by: Sequence[str],
        *,
        legacy: bool,
        filters: Mapping[str, set[str | None]] | None = None,
    ) -> dict[tuple[str | None, ...], CostSums]:
        """Cost per group (keyed by the values of `group_by` over `COST_DIMENSIONS`), groups
        with cost only. `legacy`: the legacy cost report (no Priority Tier cost)."""
        amounts: dict[tuple[str | None, ...], list[Decimal]] = {}
        requests: dict[tuple[str | None, ...], int] = {}
        for row in ROWS:
            if legacy and row.dims["service_tier"] in PRIORITY_TIERS:
                continue
            discount = DISCOUNT.get(row.dims["workspace_id"], Decimal(1))
            counted: set[tuple[str | None, ...]] = set()
            for line in _COST_LINES[row.index]:
                if not _passes(line.dims, filters):
                    continue
                key = tuple(line.dims[d] for d in group_by)
                quantity = self.value(org, row, line.field, start, end, now)
                sums = amounts.setdefault(key, [Decimal(0), Decimal(0)])
                sums[0] += quantity * line.price * discount
                sums[1] += quantity * line.price
                if key not in counted:  # a row's requests count once per group
                    counted.add(key)
                    requests[key] = requests.get(key, 0) + self.value(
                        org, row, REQUESTS, start, end, now
                    )
        return {
            k: CostSums(v[0], v[1], requests.get(k, 0)) for k, v in amounts.items() if v[1] != 0
        }

    def revise(self, org: str, up: bool, now: int, rng: Random) -> bool:
        """A late revision (up or down) of one closed, final minute of one row's field."""
        keys: list[Key] = [
            (org, row.index, field) for row in ROWS for field in (*USAGE_FIELDS, REQUESTS)
        ]
        rows = {row.index: row for row in ROWS}

        def minute_value(series: Key, minute: int) -> int:
            row = rows[int(str(series[1]))]
            return self.value(org, row, str(series[2]), minute, minute + MINUTE, now)

        return self.revisions.revise(up, keys, minute_value, now, rng)


def rfc3339(t: int) -> str:
    """A bucket bound as the API writes it (UTC, whole seconds, `Z`)."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
