"""Derive the conformance data the tests use from the vendors' own API descriptions.

    python -m tools.derive_spec_data ../shared/specs            # writes tests/spec_data/*.json
    python -m tools.derive_spec_data ../shared/specs --check    # exit 1 if the files would change

Reads, from the directory given:

- `openai-openapi.json`, `arthur-genai-engine.openapi.json`, `telnyx-storage-usage.subset.json`
  (OpenAPI 3.1): for each operation the exporter or the simulator uses, its method, path,
  parameters (location, style/explode as declared or the OpenAPI default, required, type, enum,
  bounds, default) and its response schemas per status, each a self-contained JSON Schema (draft
  2020-12) with `$ref`s bundled under `$defs` and prose (`description`, `summary`, `title`,
  `example(s)`, `x-*`) removed;
- the installed `openai` package (pinned in the test extra): what the OpenAI API has that the
  spec file predates (`decisions`, `api_source`, the costs `user_id`/`line_items`, the 12h/30m
  cache-write fields), as a separate `supplement` section with the package version and the sha256
  of every module read;
- for Anylayer, which publishes no machine-readable description: `../seeds/001_*.txt` (the "Get
  Usage" page) and the response example it documents as transcribed in `../docs/upstream-apis.md`
  section 2, as a JSON Schema of the documented keys and JSON types.

Every output names its source files and their sha256. Output is deterministic (sorted keys).
The tests read only the committed output, never the spec directory.
"""

from __future__ import annotations

import argparse
import collections.abc
import copy
import hashlib
import importlib
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from exporter.vendors.openai.api import ENDPOINTS

OUT = Path(__file__).resolve().parent.parent / "tests" / "spec_data"

PROSE = frozenset({"description", "summary", "title", "example", "examples", "externalDocs"})

# the usage endpoints the exporter reads (exporter/vendors/openai/api.py), but `decisions`: newer
# than the spec file, it comes from the installed package (the supplement)
OPENAI_USAGE = tuple(
    name
    for name, endpoint in ENDPOINTS.items()
    if endpoint.path.startswith("/v1/organization/usage/") and name != "decisions"
)
OPENAI_OPERATIONS = (
    *(("get", f"/organization/usage/{name}") for name in OPENAI_USAGE),
    ("get", "/organization/costs"),
    # names and limits (exporter/vendors/openai/resources.py), read on their own schedule
    ("get", "/organization/projects"),
    ("get", "/organization/projects/{project_id}/api_keys"),
    ("get", "/organization/users"),
    ("get", "/organization/spend_limit"),
    ("get", "/organization/spend_alerts"),
    ("get", "/organization/projects/{project_id}/spend_limit"),
    ("get", "/organization/projects/{project_id}/spend_alerts"),
    ("get", "/organization/projects/{project_id}/rate_limits"),
)
ARTHUR_OPERATIONS = (
    ("get", "/api/v2/usage/tokens"),
    ("post", "/api/v2/tasks/search"),  # task names (exporter/vendors/arthur/resources.py)
)
TELNYX_OPERATIONS = (
    ("get", "/storage/buckets/{bucketName}/usage/api"),
    ("get", "/storage/buckets/{bucketName}/usage/storage"),
)
# The OpenAI package modules read for the supplement (relative to the package directory).
OPENAI_PACKAGE = "openai"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rebuild(node: Any, member: Callable[[str, Any], tuple[str, Any] | None]) -> Any:
    """A copy of a JSON tree: a list item by item, an object member by member through
    `member(key, value)`, which recurses as it needs (None leaves the member out)."""
    if isinstance(node, list):
        return [rebuild(v, member) for v in node]
    if not isinstance(node, dict):
        return node
    return dict(m for key, value in node.items() if (m := member(key, value)) is not None)


# members that map names (of properties, definitions) to schemas, whatever the names are
NAMED = frozenset({"properties", "$defs", "patternProperties", "definitions"})


def strip_prose(node: Any) -> Any:
    """A copy of a schema without prose; property names are kept whatever they are called."""

    def member(key: str, value: Any) -> tuple[str, Any] | None:
        if key in PROSE or key.startswith("x-"):
            return None
        if key in NAMED:
            return key, {name: strip_prose(v) for name, v in value.items()}
        return key, strip_prose(value)

    return rebuild(node, member)


class Bundler:
    """Bundles the component schemas a schema references under its own `$defs`."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def resolve(self, ref: str) -> Any:
        node: Any = self.doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def bundle(self, schema: Any) -> dict[str, Any]:
        defs: dict[str, Any] = {}

        def walk(node: Any) -> Any:
            return rebuild(node, member)

        def member(key: str, value: Any) -> tuple[str, Any]:
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[1]
                if name not in defs:
                    defs[name] = {}  # placeholder: recursion stops here
                    defs[name] = walk(strip_prose(self.resolve(value)))
                return key, f"#/$defs/{name}"
            if key == "discriminator" and isinstance(value, dict) and "mapping" in value:
                mapping = {k: f"#/$defs/{v.rsplit('/', 1)[1]}" for k, v in value["mapping"].items()}
                return key, {**value, "mapping": mapping}
            if key == "properties" and isinstance(value, dict):
                return key, {name: walk(v) for name, v in value.items()}
            return key, walk(value)

        top = walk(strip_prose(schema))
        if defs:
            top = {**top, "$defs": dict(sorted(defs.items()))}
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", **top}


def _parameter(bundler: Bundler, raw: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in raw:
        raw = bundler.resolve(raw["$ref"])
    where = raw["in"]
    default_style = {"query": "form", "cookie": "form", "path": "simple", "header": "simple"}
    style = raw.get("style", default_style[where])
    schema = bundler.bundle(raw.get("schema", {}))
    body = _deref(bundler, raw.get("schema", {}))
    out: dict[str, Any] = {
        "name": raw["name"],
        "in": where,
        "required": bool(raw.get("required", where == "path")),
        "style": style,
        "explode": bool(raw.get("explode", style == "form")),
        "style_declared": "style" in raw,
        "schema": schema,
        "type": body.get("type"),
    }
    for key in ("enum", "minimum", "maximum", "default", "format"):
        if key in body:
            out[key] = body[key]
    if body.get("type") == "array":
        items = _deref(bundler, body.get("items", {}))
        out["items"] = {k: items[k] for k in ("type", "enum", "format") if k in items}
    if body.get("type") == "object":
        out["properties"] = {
            name: {k: v for k, v in _deref(bundler, p).items() if k in ("type", "format", "enum")}
            for name, p in body.get("properties", {}).items()
        }
        out["required_properties"] = list(body.get("required", []))
        out["additional_properties"] = body.get("additionalProperties", True) is not False
    if raw.get("deprecated"):
        out["deprecated"] = True
    return out


def _deref(bundler: Bundler, node: Any) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node:
        node = bundler.resolve(node["$ref"])
    return dict(node) if isinstance(node, dict) else {}


def _responses(bundler: Bundler, responses: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, raw in responses.items():
        if "$ref" in raw:
            raw = bundler.resolve(raw["$ref"])
        media = raw.get("content", {}).get("application/json")
        entry: dict[str, Any] = {
            "schema": bundler.bundle(media["schema"]) if media and "schema" in media else None
        }
        headers = {
            name: strip_prose(_deref(bundler, h.get("schema", {})))
            for name, h in (raw.get("headers") or {}).items()
        }
        if headers:
            entry["headers"] = headers
        out[str(status)] = entry
    return out


def openapi_operations(
    doc: dict[str, Any], wanted: Iterable[tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    bundler = Bundler(doc)
    out: dict[str, dict[str, Any]] = {}
    for method, path in wanted:
        item = doc["paths"][path]
        op = item[method]
        params = [*item.get("parameters", []), *op.get("parameters", [])]
        entry: dict[str, Any] = {
            "method": method.upper(),
            "path": path,
            "operation_id": op["operationId"],
            "parameters": [_parameter(bundler, p) for p in params],
            "responses": _responses(bundler, op["responses"]),
        }
        if op.get("deprecated"):
            entry["deprecated"] = True
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            entry["request_body"] = bundler.bundle(body["schema"])
        out[op["operationId"]] = entry
    return dict(sorted(out.items()))


def _source(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": path.name,
        "sha256": sha256(path),
        # the Telnyx extract has no `info`: its server says "Version 2.0.0 of the Telnyx API"
        "info_version": doc.get("info", {}).get("version") or _server_version(doc),
        "openapi": doc["openapi"],
    }


def _server_version(doc: dict[str, Any]) -> str | None:
    servers = doc.get("servers") or [{}]
    match = re.search(r"Version (\S+) of", str(servers[0].get("description", "")))
    return match.group(1) if match else None


def _server_prefix(doc: dict[str, Any]) -> str:
    servers = doc.get("servers") or []
    if not servers:
        return ""
    return "/" + str(servers[0]["url"]).split("://", 1)[1].partition("/")[2].strip("/")


# -- OpenAI: the limits the spec gives only in prose ------------------------------------------


def openai_limits(doc: dict[str, Any]) -> dict[str, Any]:
    """Per-bucket-width `limit` defaults and maxima, parsed from the `limit` parameter's prose
    (the schema has no `maximum`: a validator derived from it alone would accept limit=500)."""
    usage: dict[str, dict[str, int]] = {}
    for name in OPENAI_USAGE:
        params = doc["paths"][f"/organization/usage/{name}"]["get"]["parameters"]
        text = next(p for p in params if p.get("name") == "limit").get("description", "")
        for width, default, maximum in re.findall(
            r"bucket_width=(\w+)`: default: (\d+), max: (\d+)", text
        ):
            found = {"default": int(default), "minimum": 1, "maximum": int(maximum)}
            if usage.setdefault(width, found) != found:
                raise SystemExit(f"{name}: limit prose for {width} differs from other endpoints")
    params = doc["paths"]["/organization/costs"]["get"]["parameters"]
    text = next(p for p in params if p.get("name") == "limit").get("description", "")
    match = re.search(r"between (\d+) and (\d+), and the default is (\d+)", text)
    if not match or sorted(usage) != ["1d", "1h", "1m"]:
        raise SystemExit("the limit prose of the OpenAI spec changed: update openai_limits()")
    low, high, default = (int(g) for g in match.groups())
    return {
        "reason": "OpenAI states the `limit` bounds per bucket width only in the parameter's "
        "description, not in its schema; parsed from that prose by tools/derive_spec_data.py",
        "usage": dict(sorted(usage.items())),
        "costs": {"1d": {"default": default, "minimum": low, "maximum": high}},
    }


# -- OpenAI: the supplement from the official package -----------------------------------------


def _json_type(annotation: Any) -> dict[str, Any]:
    """A JSON Schema fragment for a TypedDict field's annotation (Required/Optional unwrapped)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Required, typing.NotRequired):
        return _json_type(args[0])
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        if len(parts) == 1:
            return _json_type(parts[0])
        return {"anyOf": [_json_type(a) for a in parts]}
    if origin is typing.Literal:
        kinds = {type(a) for a in args}
        kind = {str: "string", int: "integer", bool: "boolean"}[kinds.pop()]
        return {"type": kind, "enum": list(args)}
    if annotation is int:
        return {"type": "integer"}
    if annotation is str:
        return {"type": "string"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is float:
        return {"type": "number"}
    if origin in (list, tuple, collections.abc.Sequence):
        inner = args[0] if args else str
        return {"type": "array", "items": _json_type(inner)}
    name = getattr(origin or annotation, "__name__", str(annotation))
    if name == "SequenceNotStr":
        return {"type": "array", "items": _json_type(args[0] if args else str)}
    raise SystemExit(f"unexpected annotation in the openai package: {annotation!r}")


def _supplement_parameter(name: str, annotation: Any, required: bool) -> dict[str, Any]:
    schema = _json_type(annotation)
    out: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": required,
        "style": "form",
        "explode": True,
        "style_declared": False,
        "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema},
        "type": schema.get("type"),
    }
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if schema.get("type") == "array":
        out["items"] = {k: v for k, v in schema["items"].items() if k in ("type", "enum")}
    return out


def openai_supplement() -> dict[str, Any]:
    package = importlib.import_module(OPENAI_PACKAGE)
    root = Path(inspect.getfile(package)).parent
    read: dict[str, str] = {}

    def record(module: types.ModuleType) -> None:
        path = Path(inspect.getfile(module))
        read[path.relative_to(root.parent).as_posix()] = sha256(path)

    resource = importlib.import_module("openai.resources.admin.organization.usage")
    record(resource)
    client = importlib.import_module("openai._client")
    record(client)
    client_source = Path(inspect.getfile(client)).read_text()
    array_format = re.search(r'Querystring\(array_format="(\w+)"\)', client_source)
    source = Path(inspect.getfile(resource)).read_text()
    methods = dict(
        re.findall(r"\n    def (\w+)\(\n.*?self\._get\(\n\s+\"([^\"]+)\"", source, flags=re.S)
    )
    operations: dict[str, Any] = {}
    for method, path in sorted(methods.items()):
        params_module = importlib.import_module(
            f"openai.types.admin.organization.usage_{method}_params"
        )
        response_module = importlib.import_module(
            f"openai.types.admin.organization.usage_{method}_response"
        )
        record(params_module)
        record(response_module)
        camel = "".join(part.title() for part in method.split("_"))
        params_type = getattr(params_module, f"Usage{camel}Params")
        response_type = getattr(response_module, f"Usage{camel}Response")
        hints = typing.get_type_hints(params_type, include_extras=True)
        parameters = [
            _supplement_parameter(name, hint, name in params_type.__required_keys__)
            for name, hint in sorted(hints.items())
        ]
        schema = strip_prose(response_type.model_json_schema())
        operations[method] = {
            "method": "GET",
            "path": path,
            "parameters": parameters,
            "responses": {
                "200": {
                    "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
                }
            },
        }
    unit_module = importlib.import_module("openai.types.admin.organization.cost_quantity_unit")
    record(unit_module)
    units = [
        a
        for arg in typing.get_args(unit_module.CostQuantityUnit)
        if typing.get_origin(arg) is typing.Literal
        for a in typing.get_args(arg)
    ]
    return {
        "source": {
            "package": OPENAI_PACKAGE,
            "version": str(package.__version__),
            "files": dict(sorted(read.items())),
        },
        "client_array_format": array_format.group(1) if array_format else None,
        "cost_quantity_units": units,
        "operations": operations,
    }


# -- Anylayer: seed 001 and the transcribed response example ----------------------------------

_EXAMPLE_HEADING = "### Response schema (verbatim field names)"
_PARAMS_HEADING = "### Query parameters"


def _example_schema(value: Any) -> dict[str, Any]:
    """The keys and JSON types of a documented example: 123 a number, "<string>" a string,
    true a boolean, {} an object of unspecified shape; every documented key is required."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int | float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": _example_schema(value[0]) if value else {}}
    if isinstance(value, dict):
        if not value:
            return {"type": "object"}
        return {
            "type": "object",
            "properties": {k: _example_schema(v) for k, v in value.items()},
            "required": sorted(value),
        }
    raise SystemExit(f"unexpected example value {value!r}")


def anylayer_data(seed: Path, notes: Path) -> dict[str, Any]:
    page = seed.read_text()
    text = notes.read_text()
    section = text.split(_EXAMPLE_HEADING, 1)[1]
    block = section.split("```json", 1)[1].split("```", 1)[0]
    example = json.loads(block)
    if page.count("Response Example") != 1:
        raise SystemExit(f"{seed.name}: no 'Response Example' heading: is this the Get Usage page?")
    body = _example_schema(example)
    table = text.split(_PARAMS_HEADING, 1)[1].split("\n\n", 1)[1].split("\n\n", 1)[0]
    parameters = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = cells[0].strip("`").split(" ")[0].strip("`")
        values = cells[2]
        enum = re.findall(r"`([^`]+)`", values)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": False,
            "style": "form",
            "explode": True,
            "style_declared": False,
        }
        if enum:
            missing = [v for v in enum if f"{v}-" not in page]
            if missing:
                raise SystemExit(f"{name}: {missing} not on the seed page")
            param.update(type="string", enum=enum)
            default = re.search(r"`([^`]+)` \(default\)", values)
            if default:
                param["default"] = default.group(1)
        elif values.startswith("bool"):
            param.update(type="boolean", default="true" in values)
        elif "max" in values:
            numbers = [int(n) for n in re.findall(r"\d+", values)]
            param.update(type="integer", minimum=1, maximum=max(numbers), default=min(numbers))
            if f"max: {max(numbers)}" not in page:
                raise SystemExit(f"{name}: maximum {max(numbers)} not on the seed page")
        elif "default 0" in values:
            param.update(type="integer", minimum=0, default=0)
        else:
            param.update(type="string")
        param["schema"] = {
            k: param[k] for k in ("type", "enum", "minimum", "maximum") if k in param
        }
        parameters.append(param)
    error = {
        "type": "object",
        "properties": {
            "success": {"const": False},
            "error": {"type": "string"},
            "message": {"type": "string"},
            "timestamp": {"type": "string"},
        },
        "required": ["success", "error", "message", "timestamp"],
    }
    schema_2020 = "https://json-schema.org/draft/2020-12/schema"
    operation = {
        "method": "GET",
        "path": "/developer/usage",
        "operation_id": "get-usage",
        "parameters": parameters,
        "responses": {
            "200": {"schema": {"$schema": schema_2020, **body}},
            "default": {"schema": {"$schema": schema_2020, **error}},
        },
    }
    return {
        "vendor": "anylayer",
        "source": {
            "file": seed.name,
            "sha256": sha256(seed),
            "info_version": None,
            "openapi": None,
            "example_from": {"file": notes.name, "sha256": sha256(notes)},
            "note": "no machine-readable description exists; the keys and JSON types of the "
            "page's response example (transcribed in upstream-apis.md section 2, the page text "
            "in the seed lost its code blocks), its parameter table (names inferred there, "
            "values checked against the seed page) and its documented error envelope",
        },
        "server_prefixes": ["/v1", "/api/v1"],
        "operations": {"get-usage": operation},
    }


# -- driver -----------------------------------------------------------------------------------


def derive(specs: Path) -> dict[str, Any]:
    def load(name: str) -> tuple[Path, dict[str, Any]]:
        path = specs / name
        return path, json.loads(path.read_text())

    def described(
        vendor: str, path: Path, doc: dict[str, Any], operations: Iterable[tuple[str, str]]
    ) -> dict[str, Any]:
        """A vendor's entry from its OpenAPI description: its source and its operations."""
        return {
            "vendor": vendor,
            "source": _source(path, doc),
            "server_prefixes": [_server_prefix(doc)],
            "operations": openapi_operations(doc, operations),
        }

    out: dict[str, Any] = {}
    path, doc = load("openai-openapi.json")
    out["openai"] = {
        **described("openai", path, doc, OPENAI_OPERATIONS),
        "generic_error": Bundler(doc).bundle({"$ref": "#/components/schemas/ErrorResponse"}),
        "limits": openai_limits(doc),
        "supplement": openai_supplement(),
    }
    arthur = load("arthur-genai-engine.openapi.json")
    out["arthur"] = described("arthur", *arthur, ARTHUR_OPERATIONS)
    telnyx = load("telnyx-storage-usage.subset.json")
    out["telnyx"] = described("telnyx", *telnyx, TELNYX_OPERATIONS)
    seeds = sorted((specs.parent / "seeds").glob("001_*.txt"))
    if len(seeds) != 1:
        raise SystemExit(f"expected one seeds/001_*.txt beside {specs}")
    out["anylayer"] = anylayer_data(seeds[0], specs.parent / "docs" / "upstream-apis.md")
    return out


def render(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None, write: Callable[[Path, str], None] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", type=Path, help="the directory of the vendors' spec files")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if an output would change")
    args = parser.parse_args(argv)
    derived = derive(args.specs.resolve())
    changed = []
    for vendor, data in derived.items():
        target = args.out / f"{vendor}.json"
        text = render(copy.deepcopy(data))
        if target.exists() and target.read_text() == text:
            continue
        changed.append(target.name)
        if not args.check:
            args.out.mkdir(parents=True, exist_ok=True)
            (write or (lambda p, t: p.write_text(t)))(target, text)
    if args.check and changed:
        print(f"out of date: {', '.join(changed)}", file=sys.stderr)
        return 1
    print(("would change: " if args.check else "written: ") + (", ".join(changed) or "nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
