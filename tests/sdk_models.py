"""Checks on an official SDK's pydantic models, shared by the tests that read a twin through
the SDK: a field the SDK does not declare is one the twin invented."""

from __future__ import annotations

from typing import Any


def undeclared(model: Any, where: str) -> list[str]:
    """Fields the SDK's model does not declare, on this model and every model inside it."""
    found = [f"{where}.{k}" for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if hasattr(type(item), "model_fields") and hasattr(item, "model_extra"):
                found += undeclared(item, f"{where}.{name}[{i}]")
    return found
