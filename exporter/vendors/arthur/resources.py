"""Arthur GenAI Engine task names (`POST /api/v2/tasks/search`), as `arthur_task_info`.

A *resource* stream (`Stream.every`, the source's `resource_interval`): read outside the usage
polls, a failure keeps the last names, a 403 (the key lacks TASK_READ) turns it off. Archived
tasks are included (`include_archived: true`) so old usage keeps its name; pages (`page`,
`page_size`) are read until `count` tasks were seen. The deprecated `GET /api/v2/tasks` is not used.

    # TYPE arthur_task_info gauge
    arthur_task_info{target="guardrails",task_id="7c1e...",task_name="support-bot"} 1
"""

from __future__ import annotations

from exporter.model import Family, Level
from exporter.upstream import Upstream, UpstreamError
from exporter.upstream.listing import ResourceSource, info_family, text
from exporter.vendors.arthur.config import ArthurConfig

PATH = "/api/v2/tasks/search"
PAGE_SIZE = 500  # the engine allows up to 5000; task bodies carry every rule, so keep pages small
MAX_PAGES = 1000

FAMILIES: tuple[Family, ...] = (
    info_family(
        "arthur_task_info",
        "A task of the engine (archived ones too), always 1: its current name.",
        ("task_id", "task_name"),
    ),
)


class ArthurResourceSource(ResourceSource):
    """The task names of one Arthur engine (one target): the resource `tasks`."""

    def __init__(self, config: ArthurConfig, upstream: Upstream) -> None:
        self._upstream = upstream
        readers = {"tasks": self._levels} if config.task_names else {}
        super().__init__(config.name, readers, int(config.resource_interval))

    def off(self, name: str, status: int | None) -> str | None:
        if status not in (403, 404):
            return None
        return (
            f"{status}: the key may not search tasks (TASK_READ: ORG-AUDITOR, ORG-ADMIN, "
            "TASK-ADMIN or TENANT-USER) or the engine has no task search; task names turned off "
            "until a reload or restart (task_names: false silences this)"
        )

    async def _levels(self) -> list[Level]:
        tasks = await self._tasks()
        return [Level("arthur_task_info", (task_id, name), 1) for task_id, name in tasks.items()]

    async def _tasks(self) -> dict[str, str]:
        tasks: dict[str, str] = {}
        seen = 0
        for page in range(MAX_PAGES):
            params = [("page", str(page)), ("page_size", str(PAGE_SIZE)), ("sort", "asc")]
            body = await self._upstream.post_json(
                "tasks/search", PATH, params, {"include_archived": True}
            )
            if not isinstance(body, dict) or not isinstance(body.get("tasks"), list):
                raise UpstreamError("tasks/search", "answer is not an object with a tasks list")
            count = body.get("count")
            if isinstance(count, bool) or not isinstance(count, int):
                raise UpstreamError("tasks/search", "count is not an integer")
            for task in body["tasks"]:
                if not isinstance(task, dict) or not isinstance(task.get("id"), str):
                    raise UpstreamError("tasks/search", "a task is not an object with an id")
                tasks[task["id"]] = text(task.get("name"))
            seen += len(body["tasks"])
            if not body["tasks"] or seen >= count:
                return tasks
        raise UpstreamError("tasks/search", f"more than {MAX_PAGES} pages: stopped")
