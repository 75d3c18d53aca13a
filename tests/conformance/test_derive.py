"""The derivation script on small synthetic specs (the real ones are not read by tests)."""

from __future__ import annotations

from typing import Any

import pytest

from tools import derive_spec_data as derive

COSTS_LIMIT = "Limit can range between 1 and 180, and the default is 7."


def _doc() -> dict[str, Any]:
    limit = (
        "Specifies the number of buckets to return.\n- `bucket_width=1d`: default: 7, max: 31\n"
        "- `bucket_width=1h`: default: 24, max: 168\n- `bucket_width=1m`: default: 60, max: 1440\n"
    )
    usage = {
        "get": {
            "operationId": "usage-x",
            "parameters": [{"name": "limit", "in": "query", "description": limit}],
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"version": "9.9"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "paths": {
            **{f"/organization/usage/{n}": usage for n in derive.OPENAI_USAGE},
            "/organization/costs": {
                "get": {
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "description": COSTS_LIMIT,
                        }
                    ]
                }
            },
        },
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "title": "Node",
                    "description": "prose",
                    "properties": {
                        "description": {"type": "string", "example": "kept: a field name"},
                        "child": {"$ref": "#/components/schemas/Node"},
                    },
                    "x-oaiMeta": {"name": "gone"},
                }
            },
            "parameters": {"P": {"name": "filter", "in": "query", "style": "deepObject"}},
        },
    }


def test_bundles_refs_and_strips_prose() -> None:
    bundled = derive.Bundler(_doc()).bundle({"$ref": "#/components/schemas/Node"})
    assert bundled["$ref"] == "#/$defs/Node"
    node = bundled["$defs"]["Node"]
    assert set(node) == {"type", "properties"}  # title, description, x-* gone
    assert node["properties"]["description"] == {"type": "string"}  # the field stays
    assert node["properties"]["child"] == {"$ref": "#/$defs/Node"}  # recursion bundled once


def test_parameter_styles_default_as_openapi_says() -> None:
    bundler = derive.Bundler(_doc())
    query = derive._parameter(bundler, {"name": "group_by", "in": "query", "schema": {}})
    assert (query["style"], query["explode"], query["style_declared"]) == ("form", True, False)
    path = derive._parameter(bundler, {"name": "id", "in": "path", "schema": {}})
    assert (path["style"], path["explode"], path["required"]) == ("simple", False, True)
    deep = derive._parameter(bundler, {"$ref": "#/components/parameters/P"})
    assert (deep["style"], deep["style_declared"]) == ("deepObject", True)


def test_limits_come_from_the_prose_and_a_change_stops_the_script() -> None:
    doc = _doc()
    limits = derive.openai_limits(doc)
    assert limits["usage"]["1h"] == {"default": 24, "minimum": 1, "maximum": 168}
    assert limits["costs"]["1d"] == {"default": 7, "minimum": 1, "maximum": 180}
    doc["paths"]["/organization/costs"]["get"]["parameters"][0]["description"] = "Up to 500."
    with pytest.raises(SystemExit):
        derive.openai_limits(doc)


def test_an_example_body_becomes_a_schema_of_its_keys_and_types() -> None:
    schema = derive._example_schema({"a": 123, "b": "<string>", "c": [{}], "d": True})
    assert schema["required"] == ["a", "b", "c", "d"]
    assert schema["properties"]["a"] == {"type": "number"}
    assert schema["properties"]["c"] == {"type": "array", "items": {"type": "object"}}
    assert schema["properties"]["d"] == {"type": "boolean"}


def test_render_is_deterministic() -> None:
    assert derive.render({"b": 1, "a": [2, {"d": 1, "c": 2}]}) == derive.render(
        {"a": [2, {"c": 2, "d": 1}], "b": 1}
    )
