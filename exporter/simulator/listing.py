"""Resources as the twins serve them: cursor-paged lists, every organization's listings (made on
first use, changed through a `/_sim/<kind>/<part>` control route) and that route.

Vendor-free: a twin brings its items, its cursor's query parameter names, its actions and its
error envelope. The control actions every twin's listings share: `page_size` (`size`: the most
items one page holds, whatever `limit` asks; 0 for no cap), `forbid` / `fail` (`resource`,
`status`: answer 403 / that status for that resource until `heal`), `heal` (`resource`, or all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class BadQuery(Exception):
    """A query the API refuses (a 400); the message says which parameter and why."""


def cursor_page(
    request: Request,
    items: Sequence[dict[str, Any]],
    *,
    limit_max: int,
    cap: int = 0,
    after: str = "after",
    before: str | None = None,
) -> dict[str, Any]:
    """One page of `items` (objects with an `id`): `limit` (1..`limit_max`, default 20; at most
    `cap` when set), the cursor `after` (the id just before the page) or `before` (the id just
    after it), answered `{data, has_more, first_id, last_id}`."""
    q = request.query_params
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        raise BadQuery("limit: must be an integer") from None
    if not 1 <= limit <= limit_max:
        raise BadQuery(f"limit: must be between 1 and {limit_max}")
    if cap:
        limit = min(limit, cap)
    since, until = q.get(after), q.get(before) if before is not None else None
    if since is not None and until is not None:
        raise BadQuery(f"{after} and {before} cannot both be given")
    ids = [item["id"] for item in items]
    for name, cursor in ((after, since), (before, until)):
        if cursor is not None and cursor not in ids:
            raise BadQuery(f"{name}: no object with this id")
    if until is not None:
        end = ids.index(until)
        start = max(0, end - limit)
        data, more = list(items[start:end]), start > 0
    else:
        start = ids.index(since) + 1 if since is not None else 0
        data, more = list(items[start : start + limit]), start + limit < len(items)
    return {
        "data": data,
        "has_more": more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


class Listings(Protocol):
    """One organization's listings, as a twin keeps them."""

    refused: dict[str, int]  # resource -> the status it is answered with

    def act(self, action: str, data: Mapping[str, Any]) -> None:
        """Apply a twin's own control action; ValueError (or KeyError) for a bad one."""

    def ground_truth(self) -> dict[str, Any]: ...


L = TypeVar("L", bound=Listings)


class Organizations(Generic[L]):
    """Every organization's listings, made by `make` on first use."""

    def __init__(self, make: Callable[[], L], resources: Sequence[str]) -> None:
        self.make = make
        self.resources = tuple(resources)
        self.orgs: dict[str, L] = {}
        self.page_size = 0

    def org(self, name: str) -> L:
        if name not in self.orgs:
            self.orgs[name] = self.make()
        return self.orgs[name]

    def control(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one control action to `data["org"]` and answer its ground truth; KeyError or
        ValueError for a bad one."""
        action = str(data.get("action", ""))
        if action == "page_size":
            self.page_size = int(data["size"])
            return {"page_size": self.page_size}
        org = self.org(str(data.get("org", "")))
        if action in ("forbid", "fail"):
            resource = str(data["resource"])
            if resource not in self.resources:
                known = ", ".join(self.resources)
                raise ValueError(f"unknown resource {resource!r}; one of {known}")
            org.refused[resource] = 403 if action == "forbid" else int(data.get("status", 500))
        elif action == "heal":
            if "resource" in data:
                org.refused.pop(str(data["resource"]), None)
            else:
                org.refused.clear()
        else:
            org.act(action, data)
        return org.ground_truth()

    def ground_truth(self, query: Mapping[str, str]) -> dict[str, Any]:
        return self.org(query.get("org", "")).ground_truth()

    def control_route(self, path: str) -> Route:
        """`path`: GET the ground truth of `?org=`, POST an action (`control`)."""
        return control_route(path, self.ground_truth, self.control)


def control_route(
    path: str,
    ground_truth: Callable[[Mapping[str, str]], dict[str, Any]],
    act: Callable[[dict[str, Any]], dict[str, Any]],
) -> Route:
    """`path` (no auth, loopback only): GET answers `ground_truth(query)`, POST applies the JSON
    action with `act`; a bad action is a 400 that names the error."""

    async def control(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(ground_truth(request.query_params))
        try:
            return JSONResponse(act(dict(await request.json())))
        except (KeyError, ValueError, TypeError) as err:
            return JSONResponse({"error": f"{type(err).__name__}: {err}"}, status_code=400)

    return Route(path, control, methods=["GET", "POST"])
