"""An Arthur GenAI Engine's configuration (`kind: arthur`)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator

from exporter.config.source import BaseSource, Duration

ArthurScope = Literal["rule_type", "task"]


class ArthurConfig(BaseSource):
    """An Arthur GenAI Engine, read with a key holding a usage-read role (ORG-AUDITOR)."""

    kind: Literal["arthur"]
    window: Duration = 3600
    group_by: list[ArthurScope] = Field(default_factory=lambda: list(get_args(ArthurScope)))
    task_names: bool = True  # arthur_task_info from POST /api/v2/tasks/search (TASK_READ)
    resource_interval: Annotated[Duration, Field(ge=1)] = 900

    @field_validator("group_by")
    @classmethod
    def _unique(cls, value: list[ArthurScope]) -> list[ArthurScope]:
        if not value or len(set(value)) != len(value):
            raise ValueError("list rule_type, task or both, once each")
        return value

    @field_validator("window")
    @classmethod
    def _whole_divisor(cls, value: int) -> int:
        if 86400 % value:
            raise ValueError("must divide a day evenly (e.g. 5m, 15m, 1h, 6h, 1d)")
        return value
