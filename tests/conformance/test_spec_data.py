"""The committed conformance data is well formed and names its sources (the spec directory is
not read here: `make spec-data` regenerates the files from it, `--check` says if they are stale)."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.conformance import spec
from tools import derive_spec_data


def _schemas(data: Any) -> list[dict[str, Any]]:
    out = []
    for op in [
        *data["operations"].values(),
        *data.get("supplement", {}).get("operations", {}).values(),
    ]:
        out += [e["schema"] for e in op["responses"].values() if e["schema"] is not None]
        out += [p["schema"] for p in op["parameters"] if "schema" in p]
    return out


def _keywords(node: Any, inside_properties: bool = False) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_keywords(v) for v in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set() if inside_properties else set(node)
    for key, value in node.items():
        found |= _keywords(value, inside_properties=key in ("properties", "$defs"))
    return found


@pytest.mark.parametrize("vendor", spec.VENDORS)
def test_each_file_is_well_formed_and_names_its_source(vendor: str) -> None:
    path = spec.DATA / f"{vendor}.json"
    data = json.loads(path.read_text())
    assert path.read_text() == derive_spec_data.render(data), "not in the derived (sorted) form"
    source = data["source"]
    assert source["file"] and len(source["sha256"]) == 64
    assert data["operations"] and data["server_prefixes"]
    for op in data["operations"].values():
        assert op["method"] in ("GET", "POST") and op["path"].startswith("/")
        assert op["responses"], op["path"]
        for param in op["parameters"]:
            assert {"name", "in", "required", "style", "explode"} <= set(param), param
            assert param["style"] in ("form", "simple", "deepObject"), param
    for schema in _schemas(data):
        Draft202012Validator.check_schema(schema)
        assert schema.get("$schema", "").endswith("2020-12/schema") or "type" in schema
        prose = _keywords(schema) & {"description", "summary", "example", "examples", "title"}
        assert not prose, f"{vendor}: prose left in a schema: {prose}"


def test_openai_limits_and_supplement() -> None:
    data = spec.load("openai")
    limits = data["limits"]
    assert limits["usage"]["1d"]["maximum"] == 31 and limits["usage"]["1h"]["maximum"] == 168
    assert limits["usage"]["1m"]["maximum"] == 1440 and limits["costs"]["1d"]["maximum"] == 180
    assert "prose" in limits["reason"]
    supplement = data["supplement"]
    package = importlib.import_module("openai")
    assert supplement["source"]["version"] == package.__version__
    assert package.__file__ is not None
    root = Path(package.__file__).resolve().parent.parent
    for name, digest in supplement["source"]["files"].items():
        # derived from exactly the installed package (the pinned test extra)
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name
    assert supplement["client_array_format"] == "brackets"
    assert "decisions" in supplement["operations"]


def test_a_malformed_file_is_caught() -> None:
    """The checks above can fail: a schema with a bad keyword value is rejected."""
    from jsonschema.exceptions import SchemaError

    with pytest.raises(SchemaError):
        Draft202012Validator.check_schema({"type": "integr"})
    assert _keywords({"properties": {"description": {"type": "string"}}}) == {"properties", "type"}
    assert "description" in _keywords({"type": "object", "description": "x"})
