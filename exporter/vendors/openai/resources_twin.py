"""The OpenAI organization's names and limits, as the simulator serves them.

`GET /v1/organization/projects` (`include_archived`), `.../projects/{id}/api_keys`
(`owner_project_access`), `.../users`, `.../spend_limit`, `.../spend_alerts`, and per project
`spend_limit`, `spend_alerts`, `rate_limits`: the specs' shapes (tests/spec_data/openai.json),
cursor pages (`limit`, `after`, `has_more`, `first_id`, `last_id`).

State per organization, changed through `POST /_sim/openai/admin` (no auth, loopback only):
`{"org", "action": ...}` with the actions `rename_project` (`project_id`, `name`),
`archive_project` (`project_id`), `delete_key` (`api_key_id`), `add_projects` (`count`),
`enforce` (`status`) and those of every twin's listings (simulator/listing.py: `forbid`, `fail`,
`heal`, `page_size`). `GET /_sim/openai/admin?org=` is the ground truth.
Resources: projects, api_keys, users, spend_limit, spend_alerts, rate_limits (per-project calls
count under the same names). Keys that are not Admin keys get 403 on everything, as usage does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.listing import BadQuery, Organizations, cursor_page
from exporter.vendors.openai import twin as openai

CREATED = 1_700_000_000
RESOURCES = ("projects", "api_keys", "users", "spend_limit", "spend_alerts", "rate_limits")
# projects as usage knows them (twin.py PROJECTS), then an archived one
PROJECT_NAMES = {
    "proj_alpha": "Search",
    "proj_beta": "Support bot",
    "proj_gamma": "Research",
    "proj_legacy": "Legacy pilot",
}
USERS = {  # id -> (name, e-mail, role); ids as usage knows them
    "user-ana": ("Ana Lima", "ana.lima@example.com", "owner"),
    "user-bo": ("Bo Chen", "bo.chen@example.com", "reader"),
}
RATE_LIMITS = {
    "gpt-4o-mini": {
        "max_requests_per_1_minute": 5000,
        "max_tokens_per_1_minute": 2_000_000,
        "max_requests_per_1_day": 100_000,
        "batch_1_day_max_input_tokens": 20_000_000,
    },
    "gpt-4.1-2025-04-14": {"max_requests_per_1_minute": 500, "max_tokens_per_1_minute": 300_000},
    "gpt-image-1": {
        "max_requests_per_1_minute": 50,
        "max_tokens_per_1_minute": 100_000,
        "max_images_per_1_minute": 5,
    },
    "whisper-1": {
        "max_requests_per_1_minute": 50,
        "max_tokens_per_1_minute": 10_000,
        "max_audio_megabytes_per_1_minute": 20,
    },
}


@dataclass
class Project:
    id: str
    name: str
    status: str = "active"
    archived_at: int | None = None

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "organization.project",
            "name": self.name,
            "created_at": CREATED,
            "archived_at": self.archived_at,
            "status": self.status,
        }


@dataclass
class ApiKey:
    id: str
    name: str
    project_id: str
    owner: str  # a user id, or a service account name
    service_account: bool = False

    def body(self) -> dict[str, Any]:
        if self.service_account:
            owner: dict[str, Any] = {
                "type": "service_account",
                "service_account": {
                    "id": f"svc_acct_{self.owner}",
                    "name": self.owner,
                    "created_at": CREATED,
                    "role": "member",
                },
            }
        else:
            name, email, role = USERS[self.owner]
            owner = {
                "type": "user",
                "user": {
                    "id": self.owner,
                    "name": name,
                    "email": email,
                    "created_at": CREATED,
                    "role": "owner" if role == "owner" else "member",
                },
            }
        return {
            "object": "organization.project.api_key",
            "id": self.id,
            "name": self.name,
            "redacted_value": "sk-proj-****" + self.id[-4:],
            "created_at": CREATED,
            "last_used_at": None,
            "owner_project_access": "active",
            "owner": owner,
        }


@dataclass
class Org:
    """One organization's names and limits; what the control endpoint changes."""

    projects: dict[str, Project] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    spend_limit_cents: int = 150_000
    enforcement: str = "inactive"
    project_limits: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    project_alerts: dict[str, dict[str, int]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # resource -> status answered

    @classmethod
    def default(cls) -> Org:
        org = cls()
        for pid, name in PROJECT_NAMES.items():
            org.projects[pid] = Project(pid, name)
        org.projects["proj_legacy"].status = "archived"
        org.projects["proj_legacy"].archived_at = CREATED + 86400
        for pid, owner, service in (
            ("proj_alpha", "user-ana", False),
            ("proj_beta", "support-bot-sa", True),
            ("proj_gamma", "user-bo", False),
            ("proj_legacy", "user-ana", False),
        ):
            kid = "key_" + pid.removeprefix("proj_")
            org.keys[kid] = ApiKey(kid, f"{pid.removeprefix('proj_')}-prod", pid, owner, service)
        # cents: 123.45 and 999.99 dollars are not exact in binary, the check of the conversion
        org.project_limits = {"proj_alpha": 50_000, "proj_beta": 12_345, "proj_gamma": 99_999}
        org.alerts = {"alert_org_50": 75_000, "alert_org_80": 120_000}
        org.project_alerts = {"proj_alpha": {"alert_alpha_1": 40_001}}
        return org

    def active(self) -> list[Project]:
        return [p for p in self.projects.values() if p.status == "active"]

    def act(self, action: str, data: Mapping[str, Any]) -> None:
        """Apply one of this twin's own `/_sim/openai/admin` actions; ValueError for a bad one."""
        if action == "rename_project":
            self.projects[str(data["project_id"])].name = str(data["name"])
        elif action == "archive_project":
            project = self.projects[str(data["project_id"])]
            project.status, project.archived_at = "archived", CREATED + 2 * 86400
        elif action == "delete_key":
            del self.keys[str(data["api_key_id"])]
        elif action == "add_projects":
            for i in range(int(data["count"])):
                pid = f"proj_extra{len(self.projects):04d}_{i}"
                self.projects[pid] = Project(pid, f"Extra project {pid[-6:]}")
        elif action == "enforce":
            self.enforcement = str(data.get("status", "enforcing"))
        else:
            raise ValueError(f"unknown action {action!r}")

    def ground_truth(self) -> dict[str, Any]:
        return {
            "projects": [p.body() for p in self.projects.values()],
            "api_keys": [k.body() for k in self.keys.values()],
            "users": [_user(uid) for uid in USERS],
            "spend_limit": {"cents": self.spend_limit_cents, "status": self.enforcement},
            "project_spend_limits": {p.id: self.project_limits.get(p.id, 0) for p in self.active()},
            "spend_alerts": dict(self.alerts),
            "project_spend_alerts": {
                p.id: dict(self.project_alerts.get(p.id, {})) for p in self.active()
            },
            "rate_limits": {p.id: RATE_LIMITS for p in self.active()},
        }


def _user(uid: str) -> dict[str, Any]:
    name, email, role = USERS[uid]
    return {
        "object": "organization.user",
        "id": uid,
        "name": name,
        "email": email,
        "role": role,
        "added_at": CREATED,
    }


def _page(
    request: Request, items: list[dict[str, Any]], cap: int, *, limit_max: int = 100
) -> dict[str, Any]:
    return {"object": "list", **cursor_page(request, items, limit_max=limit_max, cap=cap)}


def _refused(org: Org, resource: str) -> Response | None:
    status = org.refused.get(resource)
    if status is None:
        return None
    if status == 403:
        return openai.error(
            403,
            "You have insufficient permissions for this operation. Missing scopes: "
            f"api.management.read ({resource}).",
            "invalid_request_error",
        )
    return openai.error(status, "simulated failure", "server_error")


def handle(
    state: Organizations[Org], keys: Mapping[str, str], request: Request, resource: str
) -> Response:
    """Answer one names-and-limits call; `resource` as in RESOURCES, per-project calls with
    `project_id` in the path parameters."""
    who = openai.authorize(request, keys)
    if isinstance(who, Response):
        return who
    org = state.org(who)
    refused = _refused(org, resource)
    if refused is not None:
        return refused
    project_id = request.path_params.get("project_id")
    if project_id is not None and project_id not in org.projects:
        return openai.error(404, f"No such project: {project_id}", "invalid_request_error")
    try:
        return JSONResponse(_answer(state, org, request, resource, project_id))
    except BadQuery as err:
        return openai.error(400, str(err), "invalid_request_error")


def _answer(
    state: Organizations[Org], org: Org, request: Request, resource: str, project_id: str | None
) -> dict[str, Any]:
    q = request.query_params
    cap = state.page_size
    if resource == "projects":
        archived = q.get("include_archived", "false")
        if archived not in ("true", "false"):
            raise BadQuery("include_archived must be a boolean")
        projects = [p.body() for p in org.projects.values()]
        if archived == "false":
            projects = [p for p in projects if p["status"] == "active"]
        return _page(request, projects, cap)
    if resource == "api_keys":
        access = q.get("owner_project_access", "active")
        if access not in ("active", "inactive", "any"):
            raise BadQuery("owner_project_access must be active, inactive or any")
        keys = [k.body() for k in org.keys.values() if k.project_id == project_id]
        if access == "inactive":
            keys = []
        return _page(request, keys, cap)
    if resource == "users":
        return _page(request, [_user(uid) for uid in USERS], cap)
    if resource == "spend_limit":
        cents = org.spend_limit_cents
        if project_id is not None:
            cents = org.project_limits.get(project_id, 0)
        return {
            "object": "project.spend_limit" if project_id else "organization.spend_limit",
            "threshold_amount": cents,
            "currency": "USD",
            "interval": "month",
            "enforcement": {"status": org.enforcement if project_id is None else "inactive"},
        }
    if resource == "spend_alerts":
        alerts = org.alerts if project_id is None else org.project_alerts.get(project_id, {})
        kind = "organization.spend_alert" if project_id is None else "project.spend_alert"
        items = [
            {
                "id": alert_id,
                "object": kind,
                "threshold_amount": cents,
                "currency": "USD",
                "interval": "month",
                "notification_channel": {
                    "type": "email",
                    "recipients": ["finops@example.com"],
                    "subject_prefix": "OpenAI spend alert",
                },
            }
            for alert_id, cents in alerts.items()
        ]
        return _page(request, items, cap)
    if resource == "rate_limits":
        items = [
            {"object": "project.rate_limit", "id": f"rl-{model}", "model": model, **limits}
            for model, limits in RATE_LIMITS.items()
        ]
        return _page(request, items, cap, limit_max=1000)
    raise BadQuery(f"unknown resource {resource}")


ROUTES = (
    ("/v1/organization/projects", "projects"),
    ("/v1/organization/projects/{project_id}/api_keys", "api_keys"),
    ("/v1/organization/projects/{project_id}/spend_limit", "spend_limit"),
    ("/v1/organization/projects/{project_id}/spend_alerts", "spend_alerts"),
    ("/v1/organization/projects/{project_id}/rate_limits", "rate_limits"),
    ("/v1/organization/users", "users"),
    ("/v1/organization/spend_limit", "spend_limit"),
    ("/v1/organization/spend_alerts", "spend_alerts"),
)


def routes(keys: Mapping[str, str]) -> list[Route]:
    """The names-and-limits routes, and `/_sim/openai/admin` (GET the ground truth of `org`,
    POST an action)."""
    state = Organizations(Org.default, RESOURCES)

    def listing(resource: str) -> Any:
        async def handler(request: Request) -> Response:
            return handle(state, keys, request, resource)

        return handler

    out = [Route(path, listing(resource)) for path, resource in ROUTES]
    out.append(state.control_route("/_sim/openai/admin"))
    return out
