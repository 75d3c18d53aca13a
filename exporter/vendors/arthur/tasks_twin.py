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
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exporter.vendors.arthur import twin as arthur

TASK_READ_ROLES = frozenset({"ORG-ADMIN", "ORG-AUDITOR", "TASK-ADMIN", "TENANT-USER"})
MAX_PAGE_SIZE = 5000
CREATED_MS = 1_700_000_000_000


@dataclass
class Task:
    id: str
    name: str
    archived: bool = False
    created: int = CREATED_MS

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created,
            "updated_at": self.created,
            "is_agentic": False,
            "is_archived": self.archived,
            "rules": [],
        }


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
            engine.tasks[task_id] = Task(task_id, name, created=CREATED_MS + i)
        old = "5f0c9a4e-1d2b-4c3e-8f7a-6b5c4d3e2f10"
        engine.tasks[old] = Task(old, "legacy-faq", archived=True, created=CREATED_MS - 1)
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
                engine.tasks[task_id] = Task(task_id, f"task-{n}", created=CREATED_MS + n)
        elif action == "fail":
            engine.failing = int(data.get("status", 500))
        elif action == "heal":
            engine.failing = 0
        else:
            raise ValueError(f"unknown action {action!r}")
        return self.truth(engine)

    @staticmethod
    def truth(engine: Engine) -> dict[str, Any]:
        return {
            "tasks": {t.id: {"name": t.name, "archived": t.archived} for t in engine.tasks.values()}
        }


def _authorize(request: Request, keys: Mapping[str, tuple[str, str]]) -> str | Response:
    header = request.headers.get("authorization", "")
    key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if key not in keys:
        return JSONResponse({"detail": "Not authenticated"}, status_code=401)
    engine, role = keys[key]
    if role not in TASK_READ_ROLES:
        return JSONResponse({"detail": "Forbidden"}, status_code=403)
    return engine


def _invalid(where: str, name: str, value: Any, message: str) -> JSONResponse:
    body = {
        "detail": [{"type": "value_error", "loc": [where, name], "msg": message, "input": value}]
    }
    return JSONResponse(body, status_code=422)


async def search(
    state: TaskState, keys: Mapping[str, tuple[str, str]], request: Request
) -> Response:
    who = _authorize(request, keys)
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
    tasks = sorted(engine.tasks.values(), key=lambda t: t.created, reverse=sort == "desc")
    tasks = [
        t
        for t in tasks
        if (include_archived or only_archived or not t.archived)
        and (not only_archived or t.archived)
        and (ids is None or t.id in ids)
        and (body.get("task_name") is None or str(body["task_name"]).lower() in t.name.lower())
    ]
    chosen = tasks[page * size : (page + 1) * size]
    return JSONResponse({"count": len(tasks), "tasks": [t.body() for t in chosen]})
