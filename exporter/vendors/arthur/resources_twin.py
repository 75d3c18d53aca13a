"""The Arthur engine's task search (`POST /api/v2/tasks/search`), as the simulator serves it.

Tasks per engine: the two that usage knows (twin.py TASKS), an archived one, and any
added through `POST /_sim/arthur/tasks` (`{"engine", "action"}`: `rename` (`task_id`, `name`),
`add` (`count`), `fail` (`status`), `heal`). `GET /_sim/arthur/tasks?engine=` is the ground truth.
The role rules are the engine's (TASK_READ: ORG-ADMIN, ORG-AUDITOR, TASK-ADMIN, TENANT-USER);
`page_size` above 5000 or below 1 is a 400, as the engine's code answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exporter.simulator.listing import control_route
from exporter.vendors.arthur import twin as arthur

TASK_READ_ROLES = frozenset({"ORG-ADMIN", "ORG-AUDITOR", "TASK-ADMIN", "TENANT-USER"})
MAX_PAGE_SIZE = 5000
CREATED_MS = 1_700_000_000_000


@dataclass
class Task:
    """A task as the engine answers it (`TaskResponse`; no rules here)."""

    id: str
    name: str
    is_archived: bool = False
    created_at: int = CREATED_MS
    is_agentic: bool = False
    rules: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {**asdict(self), "updated_at": self.created_at}


@dataclass
class Engine:
    tasks: dict[str, Task] = field(default_factory=dict)
    failing: int = 0

    @classmethod
    def default(cls) -> Engine:
        engine = cls()
        names = ("support-bot", "claims-triage")
        for i, (task_id, name) in enumerate(zip(arthur.TASKS, names, strict=False)):
            assert task_id is not None
            engine.tasks[task_id] = Task(task_id, name, created_at=CREATED_MS + i)
        old = "5f0c9a4e-1d2b-4c3e-8f7a-6b5c4d3e2f10"
        engine.tasks[old] = Task(old, "legacy-faq", is_archived=True, created_at=CREATED_MS - 1)
        return engine


class TaskState:
    def __init__(self) -> None:
        self.engines: dict[str, Engine] = {}

    def engine(self, name: str) -> Engine:
        if name not in self.engines:
            self.engines[name] = Engine.default()
        return self.engines[name]

    def control(self, data: Mapping[str, Any]) -> dict[str, Any]:
        engine = self.engine(str(data.get("engine", "")))
        action = str(data.get("action", ""))
        if action == "rename":
            engine.tasks[str(data["task_id"])].name = str(data["name"])
        elif action == "add":
            for _ in range(int(data["count"])):
                n = len(engine.tasks)
                task_id = f"00000000-0000-4000-8000-{n:012d}"
                engine.tasks[task_id] = Task(task_id, f"task-{n}", created_at=CREATED_MS + n)
        elif action == "fail":
            engine.failing = int(data.get("status", 500))
        elif action == "heal":
            engine.failing = 0
        else:
            raise ValueError(f"unknown action {action!r}")
        return self.ground_truth(engine)

    @staticmethod
    def ground_truth(engine: Engine) -> dict[str, Any]:
        tasks = engine.tasks.values()
        return {"tasks": {t.id: {"name": t.name, "archived": t.is_archived} for t in tasks}}


def _invalid(where: str, name: str, value: Any, message: str) -> JSONResponse:
    body = {
        "detail": [{"type": "value_error", "loc": [where, name], "msg": message, "input": value}]
    }
    return JSONResponse(body, status_code=422)


async def search(
    state: TaskState, keys: Mapping[str, tuple[str, str]], request: Request
) -> Response:
    who = arthur.authorize(request, keys, TASK_READ_ROLES)
    if isinstance(who, Response):
        return who
    engine = state.engine(who)
    if engine.failing:
        return JSONResponse({"detail": "simulated failure"}, status_code=engine.failing)
    q = request.query_params
    try:
        page = int(q.get("page", "0"))
    except ValueError:
        return _invalid("query", "page", q.get("page"), "Input should be a valid integer")
    try:
        size = int(q.get("page_size", "10"))
    except ValueError:
        return _invalid("query", "page_size", q.get("page_size"), "Input should be a valid integer")
    if not 0 < size <= MAX_PAGE_SIZE or page < 0:
        return JSONResponse(
            {"detail": f"page_size must be between 1 and {MAX_PAGE_SIZE}, page at least 0"},
            status_code=400,
        )
    sort = q.get("sort", "desc")
    if sort not in ("asc", "desc"):
        return _invalid("query", "sort", sort, "Input should be 'asc' or 'desc'")
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return _invalid("body", "", None, "JSON decode error")
    if not isinstance(body, dict):
        return _invalid("body", "", body, "Field required")
    include_archived = bool(body.get("include_archived"))
    only_archived = bool(body.get("only_archived"))
    ids = body.get("task_ids")
    tasks = sorted(engine.tasks.values(), key=lambda t: t.created_at, reverse=sort == "desc")
    tasks = [
        t
        for t in tasks
        if (include_archived or only_archived or not t.is_archived)
        and (not only_archived or t.is_archived)
        and (ids is None or t.id in ids)
        and (body.get("task_name") is None or str(body["task_name"]).lower() in t.name.lower())
    ]
    chosen = tasks[page * size : (page + 1) * size]
    return JSONResponse({"count": len(tasks), "tasks": [t.body() for t in chosen]})


def routes(keys: Mapping[str, tuple[str, str]]) -> list[Route]:
    """The task search and `/_sim/arthur/tasks` (GET the ground truth of `engine`, POST an
    action)."""
    state = TaskState()

    async def tasks_search(request: Request) -> Response:
        return await search(state, keys, request)

    def ground_truth(query: Mapping[str, str]) -> dict[str, Any]:
        return state.ground_truth(state.engine(query.get("engine", "")))

    return [
        Route("/api/v2/tasks/search", tasks_search, methods=["POST"]),
        control_route("/_sim/arthur/tasks", ground_truth, state.control),
    ]
