"""Derive tests/spec_data/anthropic.json: the legacy Usage & Cost Admin API as conformance data.

    python -m tools.anthropic_spec_data ../shared/docs/anthropic-api.md           # writes it
    python -m tools.anthropic_spec_data ../shared/docs/anthropic-api.md --check   # exit 1 if stale

Anthropic publishes no machine-readable description of these endpoints. The parameters (names,
enums, limits, defaults), the result fields and their enums are read from the facts file given
(section 1 of `anthropic-api.md`, which cites the docs pages), with its sha256; the script stops
if a fact it looks for is not there. The docs pages' response examples (mirrored at
gpambrozio/ClaudeDocs, path and commit below) are kept as test data: a body the schema must
accept. The schema declares every documented field (`additionalProperties: false`: a field the
twin invents is caught) and requires those of the docs' examples.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path
from typing import Any

from tools.derive_spec_data import render

OUT = Path(__file__).resolve().parent.parent / "tests" / "spec_data" / "anthropic.json"
SCHEMA = "https://json-schema.org/draft/2020-12/schema"
MIRROR = {
    "repo": "gpambrozio/ClaudeDocs",
    "commit": "003df0d346475e22773f0c70440a9e97684fc8e8",
    "messages": "docs-md/api/api/admin/usage_report/retrieve_messages.md",
    "costs": "docs-md/api/api/admin/cost_report/retrieve.md",
}
# The docs pages' "Response 200" examples (values as given there).
MESSAGES_EXAMPLE: dict[str, Any] = {
    "data": [
        {
            "ending_at": "2025-08-02T00:00:00Z",
            "results": [
                {
                    "api_key_id": "apikey_01Rj2N8SVvo6BePZj99NhmiT",
                    "cache_creation": {
                        "ephemeral_1h_input_tokens": 1000,
                        "ephemeral_5m_input_tokens": 500,
                    },
                    "cache_read_input_tokens": 200,
                    "context_window": "0-200k",
                    "model": "claude-sonnet-4-20250514",
                    "output_tokens": 500,
                    "server_tool_use": {"web_search_requests": 10},
                    "service_tier": "standard",
                    "uncached_input_tokens": 1500,
                    "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
                }
            ],
            "starting_at": "2025-08-01T00:00:00Z",
        }
    ],
    "has_more": True,
    "next_page": "2019-12-27T18:11:19.117Z",
}
COSTS_EXAMPLE: dict[str, Any] = {
    "data": [
        {
            "ending_at": "2025-08-02T00:00:00Z",
            "results": [
                {
                    "amount": "123.78912",
                    "context_window": "0-200k",
                    "cost_type": "tokens",
                    "currency": "USD",
                    "description": "Claude Sonnet 4 Usage - Input Tokens",
                    "model": "claude-sonnet-4-20250514",
                    "service_tier": "standard",
                    "token_type": "uncached_input_tokens",
                    "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ",
                }
            ],
            "starting_at": "2025-08-01T00:00:00Z",
        }
    ],
    "has_more": True,
    "next_page": "2019-12-27T18:11:19.117Z",
}


def _ticks(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _find(pattern: str, text: str, what: str) -> re.Match[str]:
    match = re.search(pattern, text, re.M)
    if match is None:
        raise SystemExit(f"anthropic-api.md: {what} not found (pattern {pattern!r})")
    return match


def _block(text: str, start: str, end: str) -> str:
    if start not in text:
        raise SystemExit(f"anthropic-api.md: no {start!r}")
    return text.split(start, 1)[1].split(end, 1)[0]


def _param(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind}
    if kind == "array":
        schema["items"] = {"type": "string", **({"enum": extra["enum"]} if "enum" in extra else {})}
    else:
        schema.update({k: extra[k] for k in ("enum", "minimum", "maximum", "format") if k in extra})
    out = {
        "name": name,
        "in": "query",
        "required": bool(extra.get("required", False)),
        "style": "form",
        "explode": True,
        "style_declared": False,
        "type": kind,
        "schema": schema,
    }
    out.update({k: extra[k] for k in ("enum", "default", "minimum", "maximum") if k in extra})
    return out


def _nullable(enum: list[str] | None = None) -> dict[str, Any]:
    if enum is None:
        return {"type": ["string", "null"]}
    return {"enum": [*enum, None]}


def _page(result: dict[str, Any]) -> dict[str, Any]:
    bucket = {
        "type": "object",
        "properties": {
            "starting_at": {"type": "string", "format": "date-time"},
            "ending_at": {"type": "string", "format": "date-time"},
            "results": {"type": "array", "items": result},
        },
        "required": ["ending_at", "results", "starting_at"],
        "additionalProperties": False,
    }
    return {
        "$schema": SCHEMA,
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": bucket},
            "has_more": {"type": "boolean"},
            "next_page": {"type": ["string", "null"]},
        },
        "required": ["data", "has_more", "next_page"],
        "additionalProperties": False,
    }


ERROR = {
    "$schema": SCHEMA,
    "type": "object",
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            "required": ["message", "type"],
        },
    },
    "required": ["error", "type"],
}


def messages_operation(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    section = _block(text, "### GET /v1/organizations/usage_report/messages", "### GET ")
    widths = _ticks(_find(r"^- `bucket_width` takes (.+)$", section, "bucket_width").group(1))
    default_width = _find(r"`(\w+)` \(default\)", section, "default bucket_width").group(1)
    limits = {
        w: (int(d), int(m)) for w, d, m in re.findall(r"`(\w+)` default (\d+), max (\d+)", section)
    }
    if set(limits) != set(widths):
        raise SystemExit(f"anthropic-api.md: limits {sorted(limits)} != widths {widths}")
    group_line = _find(r"^- `group_by\[\]` takes any subset of (.+)$", section, "group_by").group(1)
    group_by = _ticks(group_line)
    filters: dict[str, list[str] | None] = {}
    for line in _block(section, "- Filters:", "**Response.**").splitlines():
        names = [t for t in _ticks(line) if t.endswith("[]")]
        values = [t for t in _ticks(line) if "|" in t]
        for name in names:
            filters[name] = values[0].split("|") if values else None
    counts_block = _block(section, "- Integer counts:", "- Dimensions")
    counts = _ticks(counts_block)
    dims_block = _block(section, "- Dimensions, each null unless grouped:", "- `speed`")
    dimensions = [g for g in group_by if g != "speed" and f"`{g}`" in dims_block]
    if sorted(dimensions) != sorted(g for g in group_by if g != "speed"):
        raise SystemExit("anthropic-api.md: a group_by dimension is not among the result fields")
    params = [
        _param("starting_at", "string", required=True, format="date-time"),
        _param("ending_at", "string", format="date-time"),
        _param("bucket_width", "string", enum=widths, default=default_width),
        _param("limit", "integer", minimum=1, maximum=max(m for _, m in limits.values())),
        _param("page", "string"),
        _param("group_by[]", "array", enum=group_by),
        *(
            _param(name, "array", **({"enum": values} if values else {}))
            for name, values in filters.items()
        ),
    ]
    nested: dict[str, dict[str, Any]] = {}
    properties: dict[str, Any] = {}
    for field in counts:
        parent, _, child = field.partition(".")
        counter = {"type": "integer", "minimum": 0}
        if child:
            nested.setdefault(parent, {})[child] = counter
        else:
            properties[field] = counter
    for parent, children in nested.items():
        properties[parent] = {
            "type": "object",
            "properties": children,
            "required": sorted(children),
            "additionalProperties": False,
        }
    enums = {
        "service_tier": filters.get("service_tiers[]"),
        "context_window": filters.get("context_window[]"),
        "inference_geo": filters.get("inference_geos[]"),
        "speed": filters.get("speeds[]"),
    }
    for dimension in [*dimensions, "speed"]:  # speed: a result field until 2026-04-21 [D6]
        properties[dimension] = _nullable(enums.get(dimension))
    example_keys = sorted(MESSAGES_EXAMPLE["data"][0]["results"][0])
    result = {
        "type": "object",
        "properties": properties,
        "required": example_keys,
        "additionalProperties": False,
    }
    operation = {
        "method": "GET",
        "path": "/organizations/usage_report/messages",
        "operation_id": "usage-report-messages",
        "parameters": params,
        "responses": {
            "200": {"schema": _page(result)},
            "default": {"schema": ERROR},
        },
    }
    facts = {
        "limits": {w: {"default": d, "maximum": m} for w, (d, m) in limits.items()},
        "group_by": group_by,
        "counts": counts,
        "dimensions": dimensions,
        "beta": {"speed": "fast-mode-2026-02-01"},
    }
    return operation, facts


def costs_operation(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    section = _block(text, "### GET /v1/organizations/cost_report", "### GET ")
    widths = _ticks(_find(r"`bucket_width` accepts only (`\w+`)", section, "width").group(1))
    low, high, default = map(
        int, _find(r"`limit` is (\d+)\.\.(\d+) \(default (\d+)\)", section, "limit").groups()
    )
    group_by = _ticks(_find(r"^- `group_by\[\]` accepts (.+)$", section, "group_by").group(1))
    fields = _block(section, "- Result fields:", "- **Priority Tier")
    enums: dict[str, list[str]] = {}
    for name, values in re.findall(r"`(\w+)`: (?:only )?`([\w.|-]+)`", fields):
        enums[name] = values.split("|")
    named = {t for t in _ticks(fields) if re.fullmatch(r"[a-z_]+", t)}
    for needed in ("amount", "currency"):
        if needed not in named:
            raise SystemExit(f"anthropic-api.md: cost field {needed!r} not found")
    properties: dict[str, Any] = {
        "amount": {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"},
        "currency": {"type": "string"},
    }
    for name in (
        "workspace_id",
        "description",
        "cost_type",
        "token_type",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
    ):
        if name not in named:
            raise SystemExit(f"anthropic-api.md: cost field {name!r} not found")
        properties[name] = _nullable(enums.get(name))
    result = {
        "type": "object",
        "properties": properties,
        "required": sorted(COSTS_EXAMPLE["data"][0]["results"][0]),
        "additionalProperties": False,
    }
    params = [
        _param("starting_at", "string", required=True, format="date-time"),
        _param("ending_at", "string", format="date-time"),
        _param("bucket_width", "string", enum=widths, default=widths[0]),
        _param("limit", "integer", minimum=low, maximum=high, default=default),
        _param("page", "string"),
        _param("group_by[]", "array", enum=group_by),
    ]
    operation = {
        "method": "GET",
        "path": "/organizations/cost_report",
        "operation_id": "cost-report",
        "parameters": params,
        "responses": {"200": {"schema": _page(result)}, "default": {"schema": ERROR}},
    }
    facts = {
        "limits": {widths[0]: {"default": default, "maximum": high}},
        "group_by": group_by,
        "description_adds": ["cost_type", "token_type", "model", "service_tier", "context_window"],
        "enums": enums,
    }
    return operation, facts


def derive(facts_file: Path) -> dict[str, Any]:
    text = facts_file.read_text(encoding="utf-8")
    messages, messages_facts = messages_operation(text)
    costs, costs_facts = costs_operation(text)
    return {
        "vendor": "anthropic",
        "source": {
            "file": facts_file.name,
            "sha256": hashlib.sha256(facts_file.read_bytes()).hexdigest(),
            "info_version": None,
            "openapi": None,
            "examples_from": MIRROR,
            "note": "no machine-readable description exists; parameters, limits, result "
            "fields and enums from the facts file's section 1 (which cites the docs pages), "
            "response examples from the docs pages as mirrored at examples_from",
        },
        "server_prefixes": ["/v1"],
        "operations": {"usage-report-messages": messages, "cost-report": costs},
        "facts": {"usage-report-messages": messages_facts, "cost-report": costs_facts},
        "examples": {"usage-report-messages": MESSAGES_EXAMPLE, "cost-report": COSTS_EXAMPLE},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("facts", type=Path, help="the Anthropic facts file (anthropic-api.md)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output would change")
    args = parser.parse_args(argv)
    text = render(derive(args.facts))
    if args.out.exists() and args.out.read_text() == text:
        print("anthropic.json: up to date")
        return 0
    if args.check:
        print("out of date: anthropic.json", file=sys.stderr)
        return 1
    args.out.write_text(text)
    print(f"written: {args.out.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
