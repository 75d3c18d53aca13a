"""An Anthropic organization's configuration (`kind: anthropic`) and the API facts it is checked
against: the dimensions each API groups by, the Analytics API's limits (5 dimensions, 31-day
spans, history from 2026-01-01) and the key types the Admin API refuses.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from exporter.config.source import BaseSource, Duration, Strict, check_keys

DAY = 86400
# legacy Usage API (`group_by[]` of /v1/organizations/usage_report/messages)
ADMIN_GROUP_BY = (
    "account_id",
    "api_key_id",
    "context_window",
    "inference_geo",
    "model",
    "service_account_id",
    "service_tier",
    "speed",
    "workspace_id",
)
# legacy Cost API (`group_by[]` of /v1/organizations/cost_report); `description` adds
# cost_type, token_type, model, service_tier and context_window to each result
ADMIN_COST_GROUP_BY = ("workspace_id", "description")
# Analytics API dimensions the exporter exports (labels of the usage families)
ANALYTICS_GROUP_BY = (
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
    "product",
)
ANALYTICS_COST_GROUP_BY = (
    "workspace_id",
    "api_key_id",
    "model",
    "service_tier",
    "context_window",
    "cost_type",
    "token_type",
)
ANALYTICS_FREE_DIMENSIONS = ("cost_type", "token_type")  # not counted toward the 5
ANALYTICS_MAX_DIMENSIONS = 5
ANALYTICS_MAX_SPAN = 31 * DAY
ANALYTICS_HISTORY_START = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp())
# Analytics dimensions the API takes but the exporter refuses, and why
ANALYTICS_REFUSED: dict[str, str] = {
    **dict.fromkeys(
        ("actor", "actor_type", "user_profile_id"),
        "an identity dimension (people and their e-mail addresses): not exported",
    ),
    "rbac_group_id": "its rows overlap (a user counts in each of their groups): sums would be "
    "wrong",
    "claude_tag_user_id": "its rows are partial (unattributed Claude Tag usage is left out)",
    **dict.fromkeys(
        (
            "organization_id",
            "agent_id",
            "deployment_id",
            "environment_id",
            "session_id",
            "claude_tag_category",
            "slack_channel_id",
        ),
        "not a label of the exporter's families",
    ),
}
ANALYTICS_ONLY_KEYS = ("revision_window", "sweep_interval")
DEFAULT_GROUP_BY = ("workspace_id", "api_key_id", "model")
DEFAULT_COST_GROUP_BY = {
    "admin": ("workspace_id", "description"),
    "analytics": ("workspace_id", "model", "cost_type", "token_type"),
}
WORKSPACE_KEY_PREFIX = "sk-ant-api"  # a workspace-scoped key (sk-ant-api03-...)
ADMIN_KEY_PREFIX = "sk-ant-admin"

AnthropicEndpoint = Literal["messages", "costs"]


class AnthropicResources(Strict):
    """Which of the organization's names to read (each one switchable off)."""

    workspaces: bool = True
    api_keys: bool = True
    users: bool = True


class AnthropicConfig(BaseSource):
    """An Anthropic organization, read with an Admin API key (legacy Usage & Cost Admin API, or
    the Usage and Cost Analytics API with `api: analytics`)."""

    kind: Literal["anthropic"]
    api: Literal["admin", "analytics"] = "admin"
    endpoints: list[AnthropicEndpoint] = Field(
        default_factory=lambda: list(get_args(AnthropicEndpoint))
    )
    bucket_width: Literal["1m", "1h", "1d"] = "1h"
    group_by: list[str] = Field(default_factory=lambda: list(DEFAULT_GROUP_BY))
    # None: the chosen API's default (DEFAULT_COST_GROUP_BY); read `cost_dimensions`
    cost_group_by: list[str] | None = None
    cost_lookback: Duration = 2 * DAY
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    # names (anthropic_*_info), on their own schedule
    resource_interval: Annotated[Duration, Field(ge=1)] = 900
    resources: AnthropicResources = Field(default_factory=AnthropicResources)
    user_email: bool = False  # personal data: exported (anthropic_user_info{email}) only if true
    # Analytics API only (None: the default, read `revision_seconds` / `sweep_seconds`)
    revision_window: Duration | None = None
    sweep_interval: Duration | None = None

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one endpoint")
        if len(set(value)) != len(value):
            raise ValueError("an endpoint is listed twice")
        return value

    def lookbacks(self) -> list[tuple[str, Duration | None]]:
        return [*super().lookbacks(), ("cost_lookback", self.cost_lookback)]

    def groupings(self) -> list[tuple[str, list[str]]]:
        # The default (api_key_id included) is what the dashboards join names on: only a
        # grouping the operator wrote is worth a warning.
        chosen = self.model_fields_set
        usage = [("group_by", list(self.group_by))] if "group_by" in chosen else []
        costs = [("cost_group_by", list(self.cost_group_by))] if self.cost_group_by else []
        return [*usage, *costs]

    @property
    def cost_dimensions(self) -> tuple[str, ...]:
        """The cost grouping: as configured, or the chosen API's default."""
        if self.cost_group_by is not None:
            return tuple(self.cost_group_by)
        return DEFAULT_COST_GROUP_BY[self.api]

    @property
    def revision_seconds(self) -> int:
        """How far back the Analytics revision sweep re-reads (default 30 days)."""
        return int(self.revision_window or 30 * DAY)

    @property
    def sweep_seconds(self) -> int:
        """How often the Analytics revision sweep runs (default 6 hours)."""
        return int(self.sweep_interval or 6 * 3600)

    @model_validator(mode="after")
    def _anthropic_rules(self) -> AnthropicConfig:
        key = self.api_key.get_secret_value() if self.api_key is not None else ""
        if self.api == "admin" and key.startswith(WORKSPACE_KEY_PREFIX):
            where = "api_key_file" if self.api_key_file is not None else "api_key"
            raise ValueError(
                f"{where}: a workspace-scoped API key ({WORKSPACE_KEY_PREFIX}...) is refused by "
                f"the Admin API's usage and cost reports: use an Admin key "
                f"({ADMIN_KEY_PREFIX}...; Console > Settings > Admin keys)"
            )
        if self.api == "admin":
            self._check_admin()
        else:
            self._check_analytics()
        return self

    def _check_admin(self) -> None:
        given = [k for k in ANALYTICS_ONLY_KEYS if getattr(self, k) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)}: only with `api: analytics` (the legacy Admin API has no "
                "revision sweep)"
            )
        _check(self.group_by, ADMIN_GROUP_BY, "group_by", "the legacy Usage API (api: admin)")
        if self.cost_group_by is not None:
            _check(
                self.cost_group_by,
                ADMIN_COST_GROUP_BY,
                "cost_group_by",
                "the legacy Cost API (api: admin)",
            )

    def _check_analytics(self) -> None:
        _check(self.group_by, ANALYTICS_GROUP_BY, "group_by", "the Analytics API (api: analytics)")
        if len(self.group_by) > ANALYTICS_MAX_DIMENSIONS:
            raise ValueError(
                f"group_by: {len(self.group_by)} dimensions; the Analytics API groups by at "
                f"most {ANALYTICS_MAX_DIMENSIONS}"
            )
        costs = list(self.cost_dimensions)
        _check(
            costs, ANALYTICS_COST_GROUP_BY, "cost_group_by", "the Analytics API (api: analytics)"
        )
        if "token_type" in costs and "cost_type" not in costs:
            raise ValueError(
                "cost_group_by: token_type without cost_type returns token rows only (the "
                "Analytics API drops web search, code execution and session costs): add cost_type"
            )
        counted = [k for k in costs if k not in ANALYTICS_FREE_DIMENSIONS]
        if len(counted) > ANALYTICS_MAX_DIMENSIONS:
            raise ValueError(
                f"cost_group_by: {len(counted)} dimensions besides cost_type and token_type; the "
                f"Analytics API groups by at most {ANALYTICS_MAX_DIMENSIONS}"
            )
        spans = {
            "revision_window": self.revision_seconds,
            "lookback": int(self.lookback or 0),
            "cost_lookback": int(self.cost_lookback),
        }
        for name, span in spans.items():
            if span > ANALYTICS_MAX_SPAN:
                raise ValueError(
                    f"{name}: {span // DAY}d re-read in one request exceeds the Analytics API's "
                    "31-day span"
                )
        if self.count_from is not None and self.count_from < ANALYTICS_HISTORY_START:
            raise ValueError(
                "count_from: the Analytics API has no data before 2026-01-01T00:00:00Z (it "
                "refuses an earlier starting_at)"
            )


def _check(keys: list[str], allowed: tuple[str, ...], field: str, where: str) -> None:
    for key in keys:
        if key in ANALYTICS_REFUSED and field == "group_by":
            raise ValueError(f"{field}: {key!r} is refused: {ANALYTICS_REFUSED[key]}")
        if key not in allowed:
            raise ValueError(
                f"{field}: {key!r} is not a dimension {where} takes (one of {', '.join(allowed)})"
            )
    try:
        check_keys(keys, allowed)
    except ValueError as err:
        raise ValueError(f"{field}: {err}") from None


def warnings(config: AnthropicConfig) -> list[str]:
    """Valid settings the API may still refuse or treat specially (check-config)."""
    out: list[str] = []
    key = config.secret()
    if config.api == "analytics" and key.startswith(WORKSPACE_KEY_PREFIX):
        out.append(
            "api_key: a workspace-scoped key: the Analytics API needs an Admin key or a key "
            "with read:analytics, and the names (workspaces, API keys, users) need an Admin key"
        )
    if config.api == "admin" and "speed" in config.group_by:
        out.append(
            "group_by: speed is a beta dimension (sent with anthropic-beta: "
            "fast-mode-2026-02-01); an organization without the beta may refuse it"
        )
    return out
