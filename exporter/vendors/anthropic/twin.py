"""The Anthropic twin's organization: its names (workspaces, API keys, models) and its raw rows,
each one combination of every dimension both APIs know, and the counts a row has.

An organization (`org`: who an accepted key belongs to) has these rows; their counts per minute
come from `usage_twin.py`, their cost from `prices_twin.py`. The names routes (`resources_twin.py`)
list the names, with ids as the usage rows carry them (`None` is the default workspace, or
keyless Console usage, and has no id).

Written from the API docs, not from the exporter's tables (`families.py`, `config.py`): the
twin is what the sources are checked against, so it shares no table with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

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
ANA = "user_01AnaReyes8Kd2Pq"  # a signed-in (OAuth) Console account
CI_RUNNER = "svac_01CiRunner5Lm7Tq"  # a federated service account

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
OPUS = "claude-opus-4-1-20250805"
MODEL_TITLES = {SONNET: "Claude Sonnet 4.5", HAIKU: "Claude Haiku 4.5", OPUS: "Claude Opus 4.1"}

# --- the raw rows ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One raw row: every dimension's value (None where the API says null; the dimensions are
    the fields from `workspace_id` to `product`), and whether it runs code execution (cost
    only, never usage)."""

    index: int
    workspace_id: str | None
    api_key_id: str | None
    model: str
    service_tier: str
    context_window: str
    inference_geo: str
    speed: str = "standard"
    account_id: str | None = None
    service_account_id: str | None = None
    product: str | None = None  # Analytics only
    code_execution: bool = False
    dims: Mapping[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", {d: getattr(self, d) for d in DIMENSIONS})


DIMENSIONS = tuple(f.name for f in fields(Row) if f.name not in {"index", "code_execution", "dims"})

ROWS: tuple[Row, ...] = (
    Row(0, PROD, K_BACKEND, SONNET, "standard", "0-200k", "global"),
    Row(1, PROD, K_BACKEND, HAIKU, "standard", "0-200k", "us"),
    Row(2, PROD, K_BATCH, SONNET, "batch", "0-200k", "global"),
    Row(3, PROD, K_BACKEND, OPUS, "priority", "200k-1M", "global", "fast"),
    Row(4, RESEARCH, K_NOTEBOOK, OPUS, "standard", "200k-1M", "not_available", code_execution=True),
    # Console / Workbench usage: no API key
    Row(5, RESEARCH, None, SONNET, "standard", "0-200k", "global"),
    Row(6, None, K_SCRIPT, HAIKU, "batch", "0-200k", "us"),
    # Console usage in the default workspace by a signed-in account
    Row(7, None, None, SONNET, "standard", "0-200k", "global", account_id=ANA),
    # Claude Code in CI through a federated service account
    Row(
        8,
        RESEARCH,
        K_CI,
        SONNET,
        "standard",
        "0-200k",
        "us",
        service_account_id=CI_RUNNER,
        product="claude_code",
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
MAXIMA = {**USAGE_FIELDS, REQUESTS: 6, CODE_EXECUTION: 2}
TOKEN_FIELDS = tuple(f for f in USAGE_FIELDS if f != "server_tool_use.web_search_requests")
COUNT_KEYS = frozenset(f.rpartition(".")[2] for f in USAGE_FIELDS)  # as JSON keys (nested ones too)
