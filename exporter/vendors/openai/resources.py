"""OpenAI organization names and limits: projects, API keys, users, spend limits, spend alerts
and per-project rate limits, as gauges read on their own slower schedule.

Each is a *resource* stream (`Stream.every`): read every `resource_interval` (default 15 min),
outside the usage polls, so a slow or failing listing never delays or fails the exact counters.
A failed read keeps the last names; a 403 (or a 404 on an organization-level call) turns that
resource off (`Unavailable`). Names are joined to usage at query time, never pasted into the
counters' labels, so a rename changes one info series and no counter:

    # TYPE openai_project_info gauge
    openai_project_info{target="acme",project_id="proj_a",project_name="Search",status="active"} 1
    # TYPE openai_api_key_info gauge
    openai_api_key_info{target="acme",api_key_id="key_a",api_key_name="ci",project_id="proj_a",
      owner_type="service_account",owner_name="ci-bot"} 1
    # TYPE openai_spend_limit_usd gauge
    openai_spend_limit_usd{target="acme"} 1500
    # TYPE openai_project_rate_limit gauge
    openai_project_rate_limit{target="acme",project_id="proj_a",model="gpt-4o",
      limit="tokens_per_minute"} 30000

E-mail addresses (users, key owners, spend-alert recipients) are personal data: they are read
only to be dropped, unless `user_email: true` puts a user's address in `openai_user_info`'s
`email` label. They are never logged and never part of an error message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from exporter.model import Family, Kind, Level
from exporter.upstream import Upstream, UpstreamError, gather_all
from exporter.upstream.listing import CursorPager, ResourceSource, info_family, text, user_levels
from exporter.vendors.openai.config import OpenAIConfig

PROJECTS = "/v1/organization/projects"
USERS = "/v1/organization/users"
SPEND_LIMIT = "/v1/organization/spend_limit"
SPEND_ALERTS = "/v1/organization/spend_alerts"
PAGE_LIMIT = 100  # the documented maximum of every list here
MAX_PAGES = 1000  # a cursor that never ends is an upstream bug: stop and fail the read
ENFORCEMENT_STATUSES = ("inactive", "enforcing")
# ProjectRateLimit field -> the `limit` label value (only the fields present are exported)
_PER_MINUTE = ("requests", "tokens", "images", "audio_megabytes")
RATE_LIMIT_FIELDS = {f"max_{what}_per_1_minute": f"{what}_per_minute" for what in _PER_MINUTE} | {
    "max_requests_per_1_day": "requests_per_day",
    "batch_1_day_max_input_tokens": "batch_input_tokens_per_day",
}

FAMILIES: tuple[Family, ...] = (
    info_family(
        "openai_project_info",
        "A project of the organization (archived ones too), always 1: its current name and "
        "status (active, archived).",
        ("project_id", "project_name", "status"),
    ),
    info_family(
        "openai_api_key_info",
        "A project API key, always 1: its name, project and owner (a user's name or a service "
        "account's).",
        ("api_key_id", "api_key_name", "project_id", "owner_type", "owner_name"),
    ),
    info_family(
        "openai_user_info",
        "A user of the organization, always 1: name and role (owner, reader). `email` is empty "
        "unless the source sets `user_email: true` (personal data).",
        ("user_id", "user_name", "role", "email"),
    ),
    Family(
        "openai_spend_limit_usd",
        Kind.GAUGE,
        "The organization's hard spend limit per month (OpenAI's own, threshold_amount cents "
        "as dollars).",
    ),
    Family(
        "openai_spend_limit_enforced",
        Kind.GAUGE,
        "The organization's hard spend limit enforcement as a state set: 1 for the current "
        "status (enforcing: requests are refused until the month ends or the limit is raised), "
        "0 for the others.",
        ("status",),
    ),
    Family(
        "openai_project_spend_limit_usd",
        Kind.GAUGE,
        "A project's hard spend limit per month (threshold_amount cents as dollars).",
        ("project_id",),
    ),
    Family(
        "openai_project_spend_limit_enforced",
        Kind.GAUGE,
        "A project's hard spend limit enforcement as a state set (1 for the current status).",
        ("project_id", "status"),
    ),
    Family(
        "openai_spend_alert_threshold_usd",
        Kind.GAUGE,
        "A spend alert's monthly threshold in dollars; scope organization (project_id empty) "
        "or project. Its e-mail recipients are not exported.",
        ("alert_id", "scope", "project_id"),
    ),
    Family(
        "openai_project_rate_limit",
        Kind.GAUGE,
        "A project's rate limit for a model; `limit` is requests_per_minute, "
        "tokens_per_minute, images_per_minute, audio_megabytes_per_minute, requests_per_day or "
        "batch_input_tokens_per_day (only those the API lists for the model).",
        ("project_id", "model", "limit"),
    ),
)


def dollars(cents: Any, endpoint: str, field: str) -> float:
    """An integer amount of cents as dollars: `cents / 100`, the double nearest the exact
    decimal (IEEE division is correctly rounded), so 12345 is exported as 123.45."""
    if isinstance(cents, bool) or not isinstance(cents, int | float):
        raise UpstreamError(endpoint, f"{field} is not a number of cents")
    if isinstance(cents, float):
        if not cents.is_integer():
            raise UpstreamError(endpoint, f"{field} is not a whole number of cents")
        cents = int(cents)
    if cents < 0:
        raise UpstreamError(endpoint, f"{field} is negative")
    return float(cents / 100)


class OpenAIResourceSource(ResourceSource):
    """The names and limits of one OpenAI organization (one target), one stream per resource."""

    def __init__(self, config: OpenAIConfig, upstream: Upstream) -> None:
        self._config = config
        self._upstream = upstream
        self._list = CursorPager(upstream, PAGE_LIMIT, "after", MAX_PAGES)
        readers = {
            "projects": self._projects,
            "api_keys": self._api_keys,
            "users": self._users,
            "spend_limits": self._spend_limits,
            "spend_alerts": self._spend_alerts,
            "rate_limits": self._rate_limits,
        }
        wanted = {name: read for name, read in readers.items() if getattr(config.resources, name)}
        super().__init__(config.name, wanted, int(config.resource_interval))

    def forbidden(self, name: str) -> str:
        return f"the Admin key may not read {name}"

    # -- listing ---------------------------------------------------------------------------

    async def _all_projects(self) -> list[dict[str, Any]]:
        return await self._list("projects", PROJECTS, [("include_archived", "true")])

    async def _active_projects(self) -> list[str]:
        return [p["id"] for p in await self._all_projects() if p.get("status") != "archived"]

    async def _per_project(
        self,
        projects: Sequence[str],
        read: Callable[[str], Awaitable[list[Level]]],
    ) -> list[Level]:
        """`read` for every project; a 404 for one project (archived or deleted between the
        listing and this call) skips it, any other error fails the read."""

        async def one(project: str) -> list[Level]:
            try:
                return await read(project)
            except UpstreamError as err:
                if err.status == 404:
                    return []
                raise

        return [level for levels in await gather_all(map(one, projects)) for level in levels]

    # -- resources -------------------------------------------------------------------------

    async def _projects(self) -> list[Level]:
        return [
            Level(
                "openai_project_info",
                (p["id"], text(p.get("name")), text(p.get("status"))),
                1,
            )
            for p in await self._all_projects()
        ]

    async def _api_keys(self) -> list[Level]:
        projects = [p["id"] for p in await self._all_projects()]

        async def keys(project: str) -> list[Level]:
            items = await self._list(
                "project_api_keys",
                f"{PROJECTS}/{project}/api_keys",
                [("owner_project_access", "any")],
            )
            levels = []
            for key in items:
                found = key.get("owner")
                owner: dict[str, Any] = found if isinstance(found, dict) else {}
                kind = text(owner.get("type"))
                who = owner.get(kind) if kind in ("user", "service_account") else None
                name = text(who.get("name")) if isinstance(who, dict) else ""
                levels.append(
                    Level(
                        "openai_api_key_info",
                        (key["id"], text(key.get("name")), project, kind, name),
                        1,
                    )
                )
            return levels

        return await self._per_project(projects, keys)

    async def _users(self) -> list[Level]:
        users = await self._list("users", USERS)
        return user_levels("openai_user_info", users, bool(self._config.user_email))

    @staticmethod
    def _limit(body: Any, endpoint: str) -> tuple[float, str]:
        if not isinstance(body, dict):
            raise UpstreamError(endpoint, "answer is not a spend limit object")
        enforcement = body.get("enforcement")
        status = enforcement.get("status") if isinstance(enforcement, dict) else None
        return dollars(body.get("threshold_amount"), endpoint, "threshold_amount"), text(status)

    @staticmethod
    def _states(status: str) -> list[str]:
        return list(dict.fromkeys((*ENFORCEMENT_STATUSES, *([status] if status else []))))

    async def _spend_limits(self) -> list[Level]:
        body = await self._upstream.get_json("spend_limit", SPEND_LIMIT)
        usd, status = self._limit(body, "spend_limit")
        levels = [Level("openai_spend_limit_usd", (), usd)]
        levels += [
            Level("openai_spend_limit_enforced", (s,), 1 if s == status else 0)
            for s in self._states(status)
        ]

        async def project_limit(project: str) -> list[Level]:
            body = await self._upstream.get_json(
                "project_spend_limit", f"{PROJECTS}/{project}/spend_limit"
            )
            usd, status = self._limit(body, "project_spend_limit")
            return [
                Level("openai_project_spend_limit_usd", (project,), usd),
                *(
                    Level("openai_project_spend_limit_enforced", (project, s), int(s == status))
                    for s in self._states(status)
                ),
            ]

        return levels + await self._per_project(await self._active_projects(), project_limit)

    async def _spend_alerts(self) -> list[Level]:
        def level(alert: dict[str, Any], scope: str, project: str, endpoint: str) -> Level:
            usd = dollars(alert.get("threshold_amount"), endpoint, "threshold_amount")
            return Level("openai_spend_alert_threshold_usd", (alert["id"], scope, project), usd)

        levels = [
            level(a, "organization", "", "spend_alerts")
            for a in await self._list("spend_alerts", SPEND_ALERTS)
        ]

        async def project_alerts(project: str) -> list[Level]:
            items = await self._list("project_spend_alerts", f"{PROJECTS}/{project}/spend_alerts")
            return [level(a, "project", project, "project_spend_alerts") for a in items]

        return levels + await self._per_project(await self._active_projects(), project_alerts)

    async def _rate_limits(self) -> list[Level]:
        async def limits(project: str) -> list[Level]:
            items = await self._list("project_rate_limits", f"{PROJECTS}/{project}/rate_limits")
            out = []
            for item in items:
                model = text(item.get("model"))
                for field, limit in RATE_LIMIT_FIELDS.items():
                    value = item.get(field)
                    if value is None:
                        continue
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise UpstreamError("project_rate_limits", f"{field} is not a number")
                    out.append(
                        Level("openai_project_rate_limit", (project, model, limit), float(value))
                    )
            return out

        return await self._per_project(await self._active_projects(), limits)
