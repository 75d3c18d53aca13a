"""An OpenAI organization's configuration (`kind: openai`), checked against the API's facts
(api.py: the endpoints and the group keys each accepts).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from exporter.config.source import BaseSource, Duration, Strict, check_endpoints, check_keys
from exporter.vendors.openai.api import OPENAI_GROUP_BY, OpenAIEndpoint

ALL_GROUP_BY = tuple(dict.fromkeys(k for keys in OPENAI_GROUP_BY.values() for k in keys))


class OpenAIEndpointOverride(Strict):
    group_by: list[str] | None = None
    lookback: Duration | None = None


class OpenAIResources(Strict):
    """Which of the organization's names and limits to read (each one switchable off)."""

    projects: bool = True
    api_keys: bool = True
    users: bool = True
    spend_limits: bool = True
    spend_alerts: bool = True
    rate_limits: bool = True


class OpenAIConfig(BaseSource):
    """An OpenAI organization, read with an Admin API key."""

    kind: Literal["openai"]
    organization: str | None = None
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    endpoints: list[OpenAIEndpoint] = Field(default_factory=lambda: list(get_args(OpenAIEndpoint)))
    bucket_width: Literal["1m", "1h", "1d"] = "1h"
    group_by: list[str] = Field(default_factory=lambda: ["project_id", "model"])
    overrides: dict[OpenAIEndpoint, OpenAIEndpointOverride] = Field(default_factory=dict)
    project_ids: list[str] | None = None
    user_ids: list[str] | None = None
    api_key_ids: list[str] | None = None
    models: list[str] | None = None
    sources: list[str] | None = None
    sizes: list[str] | None = None
    context_levels: list[str] | None = None
    vector_store_ids: list[str] | None = None
    batch: bool | None = None
    # names and limits (openai_*_info, spend limits, rate limits), on their own schedule
    resource_interval: Annotated[Duration, Field(ge=1)] = 900
    resources: OpenAIResources = Field(default_factory=OpenAIResources)
    user_email: bool = False  # personal data: exported (openai_user_info{email}) only if true

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        return check_keys(value, ALL_GROUP_BY)

    def lookbacks(self) -> list[tuple[str, Duration | None]]:
        overrides = [(f"overrides.{e}.lookback", o.lookback) for e, o in self.overrides.items()]
        return [*super().lookbacks(), *overrides]

    def groupings(self) -> list[tuple[str, list[str]]]:
        overrides = [
            (f"overrides.{e}.group_by", list(o.group_by))
            for e, o in self.overrides.items()
            if o.group_by
        ]
        return [("group_by", list(self.group_by)), *overrides]

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: list[str]) -> list[str]:
        return check_endpoints(value)

    @model_validator(mode="after")
    def _override_group_by(self) -> OpenAIConfig:
        for endpoint, override in self.overrides.items():
            if override.group_by is not None:
                try:
                    check_keys(override.group_by, OPENAI_GROUP_BY[endpoint])
                except ValueError as err:
                    raise ValueError(f"overrides.{endpoint}.group_by: {err}") from None
        return self


def openai_costs_user_warning(source: OpenAIConfig) -> str | None:
    """Why the Costs API may refuse this source's costs grouping (HTTP 400), or None.

    The API documents that grouping costs by `user_id` together with `project_id` grouping or
    the `project_ids` filter is supported for some organizations and time ranges only."""
    if "costs" not in source.endpoints:
        return None
    override = source.overrides.get("costs")
    keys = override.group_by if override is not None and override.group_by is not None else []
    if "user_id" not in keys:
        return None
    clash = [
        what
        for what, present in (
            ("group_by project_id", "project_id" in keys),
            ("the project_ids filter", source.project_ids is not None),
        )
        if present
    ]
    if not clash:
        return None
    return (
        f"overrides.costs.group_by: user_id with {' and '.join(clash)}: the Costs API answers "
        "HTTP 400 for this combination in some organizations and time ranges; if costs fail "
        "with 400, drop user_id there (or project_id and the project_ids filter)"
    )


def warnings(source: OpenAIConfig) -> list[str]:
    """Valid settings the Costs API may still refuse (check-config), each naming the field."""
    warning = openai_costs_user_warning(source)
    return [warning] if warning else []
