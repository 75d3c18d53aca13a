"""The Arthur GenAI Engine's `GET /api/v2/usage/tokens`, as the simulator speaks it.

One total per `[start_time, end_time)` (no buckets), grouped by rule type and/or task, with the
engine's quirks: an omitted bound means all time, a key without a usage-read role gets 403, bad
input gets FastAPI's 422 body, and rule results keep landing in windows already closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from random import Random
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exporter.simulator.twin import GeneratedUsage, Shape
from exporter.simulator.usage import MINUTE, Key, digest, rate, visible

RULE_TYPES = (
    "ModelHallucinationRuleV2",
    "ModelSensitiveDataRule",
    "PIIDataRule",
    "ToxicityRule",
    "PromptInjectionRule",
)
LLM_RULES = frozenset(RULE_TYPES[:2])
TASKS = (
    "7c1e0f4e-3b7a-4a57-9a1d-0c9a1f2b6e10",
    "0b5d2c9e-8f61-4d2a-b0c4-5e1f7a9d3c22",
    None,
)
USAGE_READ_ROLES = frozenset({"ORG-ADMIN", "ORG-AUDITOR", "TENANT-USER"})
FIELDS = (("inference", 400), ("eval_prompt", 900), ("eval_completion", 120))
DEPRECATED = {"inference": "user_input", "eval_prompt": "prompt", "eval_completion": "completion"}
SHAPE = Shape(quantities=frozenset({*DEPRECATED, *DEPRECATED.values()}), required=("count",))


class ArthurUsage(GeneratedUsage):
    """Every engine's rule results, per rule type and task, as of any time."""

    def value(
        self,
        engine: str,
        rule: str,
        task: str | None,
        field: str,
        maximum: int,
        start: int,
        end: int,
        now: int,
    ) -> int:
        if field != "inference" and rule not in LLM_RULES:
            return 0

        def per_minute(hour: int) -> int:
            if hour < self.usage_start:
                return 0
            return rate(self.seed, "arthur", engine, rule, task, field, hour, maximum=maximum)

        start = max(start + (-start) % MINUTE, self.usage_start)
        end = end - end % MINUTE
        if start >= end:
            return 0
        generated = visible(per_minute, start, end, now, self.late)
        return generated + self.revisions.shift((engine, rule, task, field), start, end, now)

    def runs(self, engine: str, rule: str, task: str | None) -> bool:
        """Not every rule runs on every task."""
        return digest(self.seed, "arthur-pair", engine, rule, task)[0] % 5 != 0

    def revise(self, engine: str, up: bool, now: int, rng: Random) -> bool:
        """A late revision of one closed minute of one rule, task and field of the engine."""
        series: dict[Key, tuple[str, str | None, str, int]] = {
            (engine, rule, task, field): (rule, task, field, maximum)
            for rule in RULE_TYPES
            for task in TASKS
            for field, maximum in FIELDS
            if self.runs(engine, rule, task) and (field == "inference" or rule in LLM_RULES)
        }

        def minute_value(key: Key, minute: int) -> int:
            rule, task, field, maximum = series[key]
            return self.value(engine, rule, task, field, maximum, minute, minute + MINUTE, now)

        return self.revisions.revise(up, list(series), minute_value, now, rng)

    def grouped(
        self, engine: str, start: int, end: int, now: int, group_by: Sequence[str]
    ) -> dict[tuple[str | None, str | None], dict[str, int]]:
        groups: dict[tuple[str | None, str | None], dict[str, int]] = {}
        for rule in RULE_TYPES:
            for task in TASKS:
                if not self.runs(engine, rule, task):
                    continue
                key = (
                    rule if "rule_type" in group_by else None,
                    task if "task" in group_by else None,
                )
                sums = groups.setdefault(key, {f: 0 for f, _ in FIELDS})
                for field, maximum in FIELDS:
                    sums[field] += self.value(engine, rule, task, field, maximum, start, end, now)
        return {k: v for k, v in groups.items() if any(v.values())}


def _parse_time(value: str, name: str) -> int:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(name, value, "Input should be a valid datetime") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


class _Invalid(Exception):
    def __init__(self, name: str, value: str, message: str) -> None:
        super().__init__(message)
        self.body: dict[str, list[dict[str, Any]]] = {
            "detail": [
                {"type": "value_error", "loc": ["query", name], "msg": message, "input": value}
            ]
        }


def authorize(
    request: Request,
    keys: Mapping[str, tuple[str, str]],
    roles: frozenset[str] = USAGE_READ_ROLES,
) -> str | Response:
    """The engine of the Bearer key, if its role is one of `roles`; else the engine's 401/403."""
    header = request.headers.get("authorization", "")
    key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if key not in keys:
        return JSONResponse({"detail": "Not authenticated"}, status_code=401)
    engine, role = keys[key]
    if role not in roles:
        return JSONResponse({"detail": "Forbidden"}, status_code=403)
    return engine


def query(request: Request, now: int) -> tuple[int, int, list[str]]:
    q = request.query_params
    start = _parse_time(q["start_time"], "start_time") if "start_time" in q else 0
    end = _parse_time(q["end_time"], "end_time") if "end_time" in q else now + 86400
    group_by = q.getlist("group_by") or ["rule_type"]
    for i, key in enumerate(group_by):
        if key not in ("rule_type", "task"):
            error = _Invalid("group_by", key, "Input should be 'rule_type' or 'task'")
            error.body["detail"][0]["loc"] = ["query", "group_by", i]
            raise error
    return start, end, group_by


def answer(
    usage: ArthurUsage, engine: str, start: int, end: int, now: int, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    rows = []
    for (rule, task), sums in usage.grouped(engine, start, end, now, group_by).items():
        count: dict[str, int] = dict(sums)
        count.update({DEPRECATED[f]: v for f, v in sums.items()})
        rows.append({"rule_type": rule, "task_id": task, "count": count})
    return rows


def ground_truth(
    usage: ArthurUsage, engine: str, start: int, now: int, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    """Per group, the engine's token counts from `start` to now (`/_sim/arthur/truth`)."""
    return [
        {"group": {"rule_type": rule, "task_id": task}, "values": sums}
        for (rule, task), sums in usage.grouped(engine, start, now + 86400, now, group_by).items()
    ]


def handle_query(request: Request, now: int) -> tuple[int, int, list[str]] | Response:
    try:
        return query(request, now)
    except _Invalid as err:
        return JSONResponse(err.body, status_code=422)
