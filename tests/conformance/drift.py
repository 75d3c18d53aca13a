"""What the specs describe that the exporter does not handle: the drift report's machinery.

Spec items (from the committed conformance data, OpenAI's spec file and package supplement):

- `path GET /organization/usage/completions`: an operation;
- `param <path> <name>`: a query parameter of it;
- `enum <path> <name>=<value>`: a value a parameter's enum allows;
- `field <path> <dotted.name>`: a field of its 200 answer (`[]` for array elements; for OpenAI
  the fields of the endpoint's result object).

What the exporter handles comes from the exporter itself, never a copied list:

- OpenAI: its declared endpoints (`exporter.vendors.openai.api.ENDPOINTS`: paths, filters,
  group keys, quantities, fields kept as labels), the parameters `OpenAISource._params` builds for
  a config that sets every filter (plus the `page` cursor it follows), its bucket widths.
- Arthur, Telnyx, Anylayer: each source is run in-process on a real simulator answer through a
  recording stand-in for the upstream. Parameters and enum values are what it sent (for every
  value its config allows); a field is handled when changing its value changes what the source
  exports (flows, levels, inconsistencies, or an error).

Items neither handled nor listed in `tests/spec_data/ignored.json` (with a reason) are drift.
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, get_args

from exporter.model import Window
from exporter.vendors.anylayer import config as anylayer_config
from exporter.vendors.anylayer import source as anylayer_source
from exporter.vendors.arthur import config as arthur_config
from exporter.vendors.arthur import resources as arthur_resources
from exporter.vendors.arthur import source as arthur_source
from exporter.vendors.openai import api as openai_api
from exporter.vendors.openai import config as openai_config
from exporter.vendors.openai import parse as openai_parse
from exporter.vendors.openai import resources as openai_resources
from exporter.vendors.openai import source as openai_source
from exporter.vendors.telnyx import config as telnyx_config
from exporter.vendors.telnyx import source as telnyx_source
from tests.conformance import spec

IGNORED = spec.DATA / "ignored.json"


def ignored() -> dict[str, dict[str, str]]:
    return dict(json.loads(IGNORED.read_text()))


# -- spec items ---------------------------------------------------------------------------------


def _resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = root["$defs"][str(node["$ref"]).rsplit("/", 1)[1]]
    return node


def _fields(root: Mapping[str, Any], node: Mapping[str, Any], prefix: str) -> Iterator[str]:
    """Dotted names of the fields a schema describes (any branch of anyOf/oneOf)."""
    node = _resolve(root, node)
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, ()):
            yield from _fields(root, branch, prefix)
    if "items" in node and isinstance(node["items"], dict):
        yield from _fields(root, node["items"], f"{prefix}[]")
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        yield from _fields(root, sub, path)


def _result_schemas(op: spec.Operation, result_object: str) -> Iterator[tuple[Any, Any]]:
    for _, schema in op.responses.get("200", []):
        for sub in (schema or {}).get("$defs", {}).values():
            obj = sub.get("properties", {}).get("object", {})
            if result_object in (obj.get("enum") or [obj.get("const")]):
                yield schema, sub


def spec_items(vendor: str) -> dict[str, str]:
    """Every item of the vendor's conformance data, with its origin (spec or supplement)."""
    items: dict[str, str] = {}
    for op in spec.operations(vendor):
        items[f"path {op.method} {op.path}"] = op.origin
        for param in op.parameters.values():
            if param.where != "query":
                continue
            items[f"param {op.path} {param.name}"] = param.origin
            for value, origin in param.enum.items():
                shown = str(value).lower() if isinstance(value, bool) else value
                items[f"enum {op.path} {param.name}={shown}"] = origin
        if vendor == "openai":
            endpoint = _openai_endpoint(op.path)
            objects = [endpoint.result_object] if endpoint else []
            for result_object in objects:
                for root, result in _result_schemas(op, result_object):
                    for field in _fields(root, result, ""):
                        items.setdefault(f"field {op.path} {field}", _origin(op, root))
        else:
            for origin, schema in op.responses.get("200", []):
                if schema is not None:
                    for field in _fields(schema, schema, ""):
                        items.setdefault(f"field {op.path} {field}", origin)
    return items


def _origin(op: spec.Operation, root: Any) -> str:
    return next(o for o, s in op.responses["200"] if s is root)


def _openai_endpoint(path: str) -> openai_api.Endpoint | None:
    return next((e for e in openai_api.ENDPOINTS.values() if e.path == "/v1" + path), None)


# -- what the exporter handles: OpenAI, from its declarations -----------------------------------


def openai_handled() -> set[str]:
    handled: set[str] = set()
    filters = sorted({f for e in openai_api.ENDPOINTS.values() for f in e.filters})
    settings: dict[str, Any] = {"kind": "openai", "name": "drift", "api_key": "k"}
    fields = openai_config.OpenAIConfig.model_fields
    for name in filters:
        annotation = str(fields[name].annotation) if name in fields else ""
        settings[name] = True if "bool" in annotation else ["x"]
    config = openai_config.OpenAIConfig.model_validate(settings)
    source = openai_source.OpenAISource(config, None)  # type: ignore[arg-type]
    for endpoint in openai_api.ENDPOINTS.values():
        path = endpoint.path.removeprefix("/v1")
        handled.add(f"path GET {path}")
        params = {name for name, _ in source._params(endpoint, Window(0, 86400))}
        params |= {"page"}  # the cursor `_pages` follows
        handled |= {f"param {path} {name}" for name in params}
        handled |= {f"enum {path} group_by={key}" for key in endpoint.group_by}
        widths = ("1d",) if endpoint.name == "costs" else tuple(openai_api.WIDTHS)
        handled |= {f"enum {path} bucket_width={w}" for w in widths}
        for name in endpoint.filters:  # free-form config lists: every value passes through
            if "list[str]" in str(fields[name].annotation):
                handled.add(f"enum {path} {name}=*")
        if "batch" in endpoint.filters:
            handled |= {f"enum {path} batch=true", f"enum {path} batch=false"}
        known = openai_parse.BucketParser(endpoint)._known
        handled |= {f"field {path} {name}" for name in known}
        for quantity in endpoint.quantities:  # a quantity object's parts are read with it
            handled.add(f"field {path} {quantity}.*")
    return handled | openai_admin_handled()


def openai_admin_handled() -> set[str]:
    """The names-and-limits reader run with every resource on against a stand-in that answers
    every list with two pages: the paths it calls and the parameters and values it sends."""
    config = openai_config.OpenAIConfig.model_validate(
        {"kind": "openai", "name": "drift", "api_key": "k", "user_email": True}
    )
    calls: list[tuple[str, list[tuple[str, str]]]] = []

    class Pages:
        async def get_json(self, endpoint: str, path: str, params: Any = ()) -> Any:
            calls.append((path, list(params)))
            if path.endswith("/spend_limit"):
                return {"threshold_amount": 100, "enforcement": {"status": "inactive"}}
            first = not any(n == "after" for n, _ in params)
            item = {"id": "proj_x" if first else "proj_y", "status": "active", "model": "m"}
            return {"data": [{**item, "threshold_amount": 1}], "has_more": first}

    source = openai_resources.OpenAIResourceSource(config, Pages())  # type: ignore[arg-type]

    async def run() -> None:
        for stream in await source.streams():
            await source.read(stream, Window(0, 0))

    asyncio.run(run())
    handled: set[str] = set()
    for path, params in calls:
        template = path.removeprefix("/v1").replace("/proj_x/", "/{project_id}/")
        template = template.replace("/proj_y/", "/{project_id}/")
        handled.add(f"path GET {template}")
        handled |= {f"param {template} {name}" for name, _ in params}
        handled |= {f"enum {template} {name}={value}" for name, value in params}
    return handled


# -- Arthur, Telnyx, Anylayer: from what the sources do -----------------------------------------


class CannedUpstream:
    """Stands in for the Upstream: answers each call with the next body, records the call."""

    def __init__(self, bodies: list[Any]) -> None:
        self.bodies = bodies
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []

    async def get_json(self, endpoint: str, path: str, params: Any = ()) -> Any:
        self.calls.append((path, list(params)))
        body = self.bodies[min(len(self.calls), len(self.bodies)) - 1]
        return copy.deepcopy(body)

    async def post_json(self, endpoint: str, path: str, params: Any, body: Any) -> Any:
        return await self.get_json(endpoint, path, params)


def _outcome(run: Callable[[CannedUpstream], Any], bodies: list[Any]) -> Any:
    try:
        read = asyncio.run(run(CannedUpstream(bodies)))
    except Exception as err:  # an error is an outcome too: the field is read
        return ("error", type(err).__name__)
    return (
        sorted(map(repr, read.flows)),
        sorted(map(repr, read.levels)),
        read.inconsistencies,
    )


def _leaves(body: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(body, dict):
        for key, value in body.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            yield from _leaves(value, path)
    elif isinstance(body, list):
        for item in body:
            yield from _leaves(item, f"{prefix}[]")


def _changed(body: Any, field: str) -> Any:
    """A copy of the body with the field's value changed wherever it occurs."""
    out = copy.deepcopy(body)

    def change(value: Any) -> Any:
        if isinstance(value, bool):
            return not value
        if isinstance(value, int | float):
            return value * 2 + 1
        if isinstance(value, str):
            return value + "-changed"
        if isinstance(value, list):
            return []
        if isinstance(value, dict):
            return {}
        return "changed"

    def walk(node: Any, parts: list[str]) -> None:
        head, rest = parts[0], parts[1:]
        many = head.endswith("[]")
        name = head.removesuffix("[]")
        targets = [node] if isinstance(node, dict) else []
        for target in targets:
            if name not in target:
                continue
            if many:
                for item in target[name] if isinstance(target[name], list) else []:
                    if rest:
                        walk(item, rest)
            elif rest:
                walk(target[name], rest)
            else:
                target[name] = change(target[name])

    if field.startswith("[]"):
        for item in out:
            walk(item, field[3:].split("."))
    else:
        walk(out, _split(field))
    return out


def _split(field: str) -> list[str]:
    parts: list[str] = []
    for part in field.split("."):
        parts.append(part)
    return parts


def behaviour_handled(
    path: str, run: Callable[[CannedUpstream], Any], bodies: list[Any]
) -> tuple[set[str], list[tuple[str, list[tuple[str, str]]]]]:
    """Fields of the (first) body whose change changes the source's output; and the calls."""
    upstream = CannedUpstream(bodies)
    base_read = asyncio.run(run(upstream))
    assert base_read.flows or base_read.levels, f"{path}: the sample answer exported nothing"
    base = _outcome(run, bodies)
    handled = set()
    for field in sorted(set(_leaves(bodies[0]))):
        mutated = [_changed(bodies[0], field), *bodies[1:]]
        if _outcome(run, mutated) != base:
            handled.add(f"field {path} {field}")
            # an object or list holding a handled field is handled too
            parts = field.split(".")
            handled |= {
                f"field {path} {'.'.join(parts[:i]).removesuffix('[]')}"
                for i in range(1, len(parts))
            }
    return handled, upstream.calls


def _params_of(path: str, calls: list[tuple[str, list[tuple[str, str]]]]) -> set[str]:
    out = set()
    for _, params in calls:
        for name, value in params:
            base = name.partition("[")[0]
            out.add(f"param {path} {base}")
            out.add(f"enum {path} {base}={value}")
    return out


def arthur_handled(body: list[Any]) -> set[str]:
    handled = {f"path GET {arthur_source.PATH}"}
    for scopes in [["rule_type", "task"]] + [[s] for s in get_args(arthur_config.ArthurScope)]:
        config = arthur_config.ArthurConfig.model_validate(
            {"kind": "arthur", "name": "drift", "api_key": "k", "group_by": scopes}
        )

        async def run(upstream: CannedUpstream, config: Any = config) -> Any:
            source = arthur_source.ArthurSource(config, upstream)  # type: ignore[arg-type]
            (stream,) = await source.streams()
            return await source.read(stream, Window(0, stream.width))

        fields, calls = behaviour_handled(arthur_source.PATH, run, [body])
        handled |= fields | _params_of(arthur_source.PATH, calls)
    return handled


def arthur_tasks_handled(body: Any) -> set[str]:
    """Task names: what changes `arthur_task_info` when it changes, and what the pager sends.
    `count` is read too, but only to stop paging: changing it moves pages, not values."""
    path = arthur_resources.PATH
    config = arthur_config.ArthurConfig.model_validate(
        {"kind": "arthur", "name": "drift", "api_key": "k"}
    )

    async def run(upstream: CannedUpstream) -> Any:
        source = arthur_resources.ArthurResourceSource(config, upstream)  # type: ignore[arg-type]
        (stream,) = await source.streams()
        return await source.read(stream, Window(0, 0))

    fields, calls = behaviour_handled(path, run, [body])
    params = {p for p in _params_of(path, calls) if not p.startswith(f"enum {path} page")}
    return {f"path POST {path}", f"field {path} count"} | fields | params


def telnyx_handled(api: Any, storage: Any) -> set[str]:
    config = telnyx_config.TelnyxConfig.model_validate(
        {"kind": "telnyx", "name": "drift", "api_key": "k", "buckets": ["b"]}
    )
    handled: set[str] = set()
    for what, body in (("api", api), ("storage", storage)):
        path = f"/storage/buckets/{{bucketName}}/usage/{what}"

        async def run(upstream: CannedUpstream, what: str = what) -> Any:
            source = telnyx_source.TelnyxSource(config, upstream)  # type: ignore[arg-type]
            stream = next(s for s in await source.streams() if s.name.startswith(what))
            return await source.read(stream, Window(0, 86400))

        fields, calls = behaviour_handled(path, run, [body])
        handled |= fields | _params_of(path, calls) | {f"path GET {path}"}
        assert all(p.startswith("/v2" + path.split("{")[0]) for p, _ in calls)
    return handled


def anylayer_handled(body: Any) -> set[str]:
    path = "/developer/usage"
    handled = {f"path GET {path}"}
    more = copy.deepcopy(body)
    more["pagination"]["hasMore"] = True
    timeframes: set[str] = set()
    granularities: set[str] = set()
    for timeframe in get_args(anylayer_config.AnylayerTimeframe):
        for granularity in get_args(anylayer_config.AnylayerGranularity):
            if timeframe in timeframes and granularity in granularities:
                continue
            try:
                config = anylayer_config.AnylayerConfig.model_validate(
                    {
                        "kind": "anylayer",
                        "name": "drift",
                        "api_key": "k",
                        "timeframe": timeframe,
                        "granularity": granularity,
                        "key_ids": ["key_8f3a"],
                    }
                )
            except ValueError:
                continue  # a granularity not finer than the timeframe
            timeframes.add(timeframe)
            granularities.add(granularity)

            async def run(upstream: CannedUpstream, config: Any = config) -> Any:
                source = anylayer_source.AnylayerSource(config, upstream)  # type: ignore[arg-type]
                (stream,) = await source.streams()
                return await source.read(stream, Window(0, 10**10))

            fields, calls = behaviour_handled(path, run, [body])
            handled |= fields | _params_of(path, calls)
            _, paged = behaviour_handled(path, run, [more, body])  # a second page: `offset`
            handled |= _params_of(path, paged)
    assert timeframes == set(get_args(anylayer_config.AnylayerTimeframe))
    assert granularities == set(get_args(anylayer_config.AnylayerGranularity))
    # `limit` and `offset` are numbers, not enum values
    return {h for h in handled if not h.startswith((f"enum {path} limit=", f"enum {path} offset="))}


def _covered(item: str, handled: set[str]) -> bool:
    if item in handled:
        return True
    kind, _, rest = item.partition(" ")
    if kind == "enum" and f"{item.partition('=')[0]}=*" in handled:
        return True
    if kind == "field":
        path, _, field = rest.partition(" ")
        parts = field.replace("[]", "").split(".")
        # a field inside a quantity object is read with it (OpenAI `amount.value`)
        return any(f"field {path} {'.'.join(parts[:i])}.*" in handled for i in range(1, len(parts)))
    return False


def drift(vendor: str, handled: set[str]) -> list[str]:
    """Items of the vendor's spec data neither handled nor ignored with a reason."""
    rules = ignored().get(vendor, {})
    out = []
    for item, origin in sorted(spec_items(vendor).items()):
        if _covered(item, handled) or _ignored(item, rules):
            continue
        out.append(f"{item}  [{origin}]")
    return out


def _ignored(item: str, rules: Mapping[str, str]) -> bool:
    kind, _, rest = item.partition(" ")
    path = rest.split(" ")[-2] if kind != "path" else rest.split(" ")[-1]
    parameter = f"param {rest.partition('=')[0]}" if kind == "enum" else ""
    for pattern in rules:
        if fnmatch.fnmatchcase(item, pattern):
            return True
        # an ignored parameter takes its enum values with it
        if parameter and fnmatch.fnmatchcase(parameter, pattern):
            return True
        # an ignored operation takes its parameters and fields with it
        if pattern.startswith("path ") and pattern.split(" ")[-1] == path:
            return True
    return False


def stale_rules(vendor: str, handled: set[str]) -> list[str]:
    """Ignore rules that match no unhandled item (the exporter handles it now, or it is gone)."""
    items = [i for i in spec_items(vendor) if not _covered(i, handled)]
    return [
        rule
        for rule in ignored().get(vendor, {})
        if not any(fnmatch.fnmatchcase(i, rule) for i in items)
    ]
