"""Grafana's Anthropic dashboard as derived data: the script on a small synthetic dashboard (the
source directory is not read by tests), and the committed file names its source and holds every
query the e2e test runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tools import derive_grafana_mixin as derive

# The sha256 of anthropic-usage-observability.json as published (grafana/jsonnet-libs@41299d1).
SOURCE_SHA256 = "bcca04285e9784b839c8a7b368561ea8bd5eca75ba5eae77a14c0d73949e19b9"


def _doc() -> dict[str, Any]:
    target = {"refId": "A", "expr": 'sum(gen_ai_cost{job=~"$job"})', "interval": "1h"}
    return {
        "uid": "u",
        "panels": [
            {"type": "text", "title": "prose", "options": {"content": "long prose"}},
            {
                "type": "row",
                "title": "r",
                "panels": [
                    {
                        "type": "stat",
                        "title": "In a row",
                        "description": "prose",
                        "targets": [target],
                    }
                ],
            },
            {
                "type": "timeseries",
                "title": "Two",
                "targets": [{"refId": "A", "expr": "a"}, {"refId": "B", "expr": "b"}],
            },
        ],
        "templating": {
            "list": [
                {"name": "prometheus", "type": "datasource", "query": "prometheus"},
                {
                    "name": "job",
                    "type": "query",
                    "multi": True,
                    "includeAll": True,
                    "description": "prose",
                    "query": {"query": "label_values(job)", "qryType": 1},
                },
            ]
        },
    }


def test_queries_and_variables_are_derived_without_prose() -> None:
    data = derive.derive(_doc(), "0" * 64)
    assert data["source"] == {
        "file": derive.SOURCE,
        "sha256": "0" * 64,
        "upstream": derive.UPSTREAM,
        "license": "Apache-2.0",
    }
    assert [(q["panel"], q["ref_id"], q["expr"]) for q in data["queries"]] == [
        ("In a row", "A", 'sum(gen_ai_cost{job=~"$job"})'),
        ("Two", "A", "a"),
        ("Two", "B", "b"),
    ]
    assert data["queries"][0]["interval"] == "1h" and data["queries"][1]["interval"] == ""
    assert data["variables"][1] == {
        "name": "job",
        "type": "query",
        "query": "label_values(job)",
        "multi": True,
        "include_all": True,
    }
    assert "prose" not in json.dumps(data)


def test_main_writes_checks_and_records_the_sha256(tmp_path: Path) -> None:
    raw = json.dumps(_doc()).encode()
    (tmp_path / derive.SOURCE).write_bytes(raw)
    out = tmp_path / "out.json"
    assert derive.main([str(tmp_path), "--out", str(out), "--check"]) == 1  # missing: stale
    assert derive.main([str(tmp_path), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["source"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert derive.main([str(tmp_path), "--out", str(out), "--check"]) == 0
    (tmp_path / derive.SOURCE).write_bytes(raw.replace(b'"a"', b'"changed"'))
    assert derive.main([str(tmp_path), "--out", str(out), "--check"]) == 1


def test_the_committed_file_is_in_derived_form_and_names_its_source() -> None:
    text = derive.OUT.read_text()
    data = json.loads(text)
    assert text == derive.render(data)
    assert data["source"]["sha256"] == SOURCE_SHA256
    assert data["source"]["upstream"].startswith("grafana/jsonnet-libs@41299d12e265")
    assert len(data["queries"]) == 10
    assert {v["name"] for v in data["variables"]} == {"prometheus", "job", "workspace", "model"}
    assert all("gen_ai_" in q["expr"] for q in data["queries"])
