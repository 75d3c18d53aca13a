"""The vendors' specs as referee: the committed conformance data (`tests/spec_data/*.json`, made by
`tools/derive_spec_data.py`), a body validator and a request checker built on it.

OpenAI data has two origins: the spec file (`operations`) and the official package
(`supplement`), which knows what the spec file predates. An operation here is their union,
matched on the path; each parameter enum value and each body schema keeps its origin.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

DATA = Path(__file__).resolve().parent.parent / "spec_data"
VENDORS = ("openai", "arthur", "telnyx", "anylayer")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only with an extra package: done here)."""
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    dt.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    return True


@functools.cache
def load(vendor: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"{vendor}.json").read_text()))


@dataclass
class Parameter:
    name: str
    where: str
    required: bool
    style: str
    explode: bool
    type: str | None
    items_type: str | None = None
    format: str | None = None
    enum: dict[Any, str] = field(default_factory=dict)  # value -> origin ("spec"/"supplement")
    minimum: float | None = None
    maximum: float | None = None
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)  # deepObject
    required_properties: tuple[str, ...] = ()
    additional_properties: bool = True
    origin: str = "spec"


@dataclass
class Operation:
    vendor: str
    method: str
    path: str
    operation_id: str
    parameters: dict[str, Parameter]
    responses: dict[str, list[tuple[str, dict[str, Any] | None]]]  # status -> [(origin, schema)]
    origin: str = "spec"

    def schemas(self, status: int) -> list[tuple[str, dict[str, Any] | None]] | None:
        """The schemas declared for a status (None: status not declared; [(o, None)]: declared
        without a schema); `default` answers for any status not listed."""
        return self.responses.get(str(status)) or self.responses.get("default")


def _parameter(raw: Mapping[str, Any], origin: str) -> Parameter:
    items = raw.get("items") or {}
    enum = raw.get("enum") or items.get("enum") or []
    return Parameter(
        name=raw["name"],
        where=raw["in"],
        required=bool(raw.get("required")),
        style=raw.get("style", "form"),
        explode=bool(raw.get("explode", True)),
        type=raw.get("type"),
        items_type=items.get("type"),
        format=raw.get("format") or items.get("format"),
        enum=dict.fromkeys(enum, origin),
        minimum=raw.get("minimum"),
        maximum=raw.get("maximum"),
        properties=dict(raw.get("properties") or {}),
        required_properties=tuple(raw.get("required_properties") or ()),
        additional_properties=bool(raw.get("additional_properties", True)),
        origin=origin,
    )


def _responses(raw: Mapping[str, Any], origin: str) -> dict[str, list[tuple[str, Any]]]:
    return {status: [(origin, entry.get("schema"))] for status, entry in raw.items()}


@functools.cache
def operations(vendor: str) -> tuple[Operation, ...]:
    data = load(vendor)
    ops: dict[str, Operation] = {}
    for op_id, raw in data["operations"].items():
        ops[raw["path"]] = Operation(
            vendor,
            raw["method"],
            raw["path"],
            op_id,
            {p["name"]: _parameter(p, "spec") for p in raw["parameters"]},
            _responses(raw["responses"], "spec"),
        )
    for name, raw in (data.get("supplement") or {}).get("operations", {}).items():
        op = ops.get(raw["path"])
        if op is None:
            op = ops[raw["path"]] = Operation(
                vendor, raw["method"], raw["path"], f"package:{name}", {}, {}, "supplement"
            )
        for p in raw["parameters"]:
            extra = _parameter(p, "supplement")
            known = op.parameters.get(extra.name)
            if known is None:
                op.parameters[extra.name] = extra
            else:
                for value in extra.enum:
                    known.enum.setdefault(value, "supplement")
        for status, entries in _responses(raw["responses"], "supplement").items():
            op.responses.setdefault(status, []).extend(entries)
    return tuple(ops.values())


def _template(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


def find(vendor: str, method: str, path: str) -> Operation | None:
    """The operation a request path (with the server prefix, e.g. `/v1/...`) belongs to."""
    for prefix in load(vendor)["server_prefixes"]:
        if prefix and not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) :]
        for op in operations(vendor):
            if op.method == method.upper() and _template(op.path).match(rest):
                return op
    return None


# -- bodies ------------------------------------------------------------------------------------


@functools.cache
def _validator(text: str) -> Draft202012Validator:
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def validate(schema: Mapping[str, Any], body: Any) -> list[str]:
    """Every way the body departs from the schema, as readable lines."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    ]


def body_problems(vendor: str, method: str, path: str, status: int, body: Any) -> list[str]:
    """Validate a response body against every schema the data declares for its status.

    Raises LookupError when the operation is unknown or the status has no declared schema: the
    caller must then say which documented envelope it checks instead."""
    op = find(vendor, method, path)
    if op is None:
        raise LookupError(f"{method} {path}: no {vendor} operation")
    declared = op.schemas(status)
    schemas = [(origin, s) for origin, s in declared or () if s is not None]
    if not schemas:
        raise LookupError(f"{op.operation_id}: no schema declared for status {status}")
    return [f"[{origin}] {line}" for origin, schema in schemas for line in validate(schema, body)]


# -- requests ----------------------------------------------------------------------------------


def _value_problem(param: str, value: str, kind: str | None, fmt: str | None) -> str | None:
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return f"{param}={value!r}: not an integer"
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return f"{param}={value!r}: not a number"
    if kind == "boolean" and value not in ("true", "false"):
        return f"{param}={value!r}: not a boolean (true/false)"
    if fmt == "date-time":
        try:
            ok = _is_date_time(value)
        except ValueError:
            ok = False
        if not ok:
            return f"{param}={value!r}: not an RFC 3339 date-time"
    return None


def request_problems(
    vendor: str, method: str, path: str, query: str, *, brackets: bool = False
) -> list[str]:
    """Every way a request departs from the spec: unknown path or method, undeclared parameter,
    wrong style (arrays repeat the name; `name[]` only if `brackets`), type, enum value, bound,
    OpenAI's per-width `limit`, a required parameter missing."""
    op = find(vendor, method, path)
    if op is None:
        return [f"{method} {path}: matches no {vendor} operation"]
    problems: list[str] = []
    seen: dict[str, int] = {}
    values: dict[str, list[str]] = {}
    deep: dict[str, set[str]] = {}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        base, _, rest = name.partition("[")
        param = op.parameters.get(base) if rest else op.parameters.get(name)
        if param is None or param.where != "query":
            problems.append(f"{name}: not a parameter of {op.operation_id}")
            continue
        if rest:
            prop = rest.removesuffix("]")
            if param.style == "deepObject":
                if prop not in param.properties and not param.additional_properties:
                    problems.append(f"{name}: {base} has no property {prop!r}")
                    continue
                spec = param.properties.get(prop, {})
                deep.setdefault(base, set()).add(prop)
                problem = _value_problem(name, value, spec.get("type"), spec.get("format"))
                if problem:
                    problems.append(problem)
                continue
            if prop == "" and brackets and param.type == "array":
                name = base
            else:
                problems.append(
                    f"{name}: brackets, but {base} has style {param.style} "
                    f"(explode={param.explode}): repeat `{base}=` instead"
                )
                continue
        elif param.style == "deepObject":
            problems.append(f"{name}: {name} is a deepObject: send {name}[property]=...")
            continue
        seen[name] = seen.get(name, 0) + 1
        values.setdefault(name, []).append(value)
        if param.type == "array":
            if not param.explode and param.style == "form":
                problems.append(f"{name}: explode=false expects one comma-separated value")
            kind = param.items_type
        else:
            kind = param.type
        problem = _value_problem(name, value, kind, param.format)
        if problem:
            problems.append(problem)
        if param.enum and value not in {
            str(v).lower() if isinstance(v, bool) else str(v) for v in param.enum
        }:
            problems.append(f"{name}={value!r}: not one of {sorted(map(str, param.enum))}")
        if kind in ("integer", "number") and not problem:
            number = float(value)
            if param.minimum is not None and number < param.minimum:
                problems.append(f"{name}={value}: below the minimum {param.minimum}")
            if param.maximum is not None and number > param.maximum:
                problems.append(f"{name}={value}: above the maximum {param.maximum}")
    for name, count in seen.items():
        if count > 1 and op.parameters[name].type != "array":
            problems.append(f"{name}: sent {count} times but it is not an array")
    for param in op.parameters.values():
        if param.where == "path":
            continue
        if param.style == "deepObject":
            missing = [p for p in param.required_properties if p not in deep.get(param.name, ())]
            if param.required and missing:
                problems.append(f"{param.name}: required properties missing: {missing}")
        elif param.required and param.name not in seen:
            problems.append(f"{param.name}: required but missing")
    problems += _limit_problems(vendor, op, values)
    return problems


def _limit_problems(vendor: str, op: Operation, values: Mapping[str, list[str]]) -> list[str]:
    limits = load(vendor).get("limits")
    if not limits or "limit" not in op.parameters:
        return []
    if not op.path.startswith("/organization/usage/") and not op.path.endswith("/costs"):
        return []  # the per-width prose covers usage and costs; lists carry their own bounds
    table = limits["costs"] if op.path.endswith("/costs") else limits["usage"]
    width = (values.get("bucket_width") or ["1d"])[0]
    bounds = table.get(width)
    given = values.get("limit")
    raw = given[0] if given else None
    if bounds is None or raw is None or not re.fullmatch(r"-?\d+", raw):
        return []
    if not bounds["minimum"] <= int(raw) <= bounds["maximum"]:
        return [
            f"limit={raw}: outside {bounds['minimum']}..{bounds['maximum']} for bucket_width="
            f"{width} ({limits['reason'].split(';')[0]})"
        ]
    return []


def iter_result_schemas(vendor: str, op: Operation) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(origin, name, schema) of each `$defs` entry of the op's 200 schemas."""
    for origin, schema in op.responses.get("200", []):
        for name, sub in (schema or {}).get("$defs", {}).items():
            yield origin, name, sub
