"""Derive the PromQL of Grafana's Anthropic dashboard (anthropic-mixin) for the tests.

    python -m tools.derive_grafana_mixin ../shared/specs/grafana-anthropic-mixin
    python -m tools.derive_grafana_mixin ../shared/specs/grafana-anthropic-mixin --check

Reads `anthropic-usage-observability.json` (grafana/jsonnet-libs, Apache-2.0) from the directory
given and writes `tests/data/grafana_anthropic_mixin.json`: the file's name, upstream and sha256,
every panel query (panel type and title, refId, expression, interval) and every template
variable (name, type, query, multi/all). Descriptions, text panels and layout are not copied.
The tests read only the committed output, never the source directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "grafana_anthropic_mixin.json"
SOURCE = "anthropic-usage-observability.json"
UPSTREAM = (
    "grafana/jsonnet-libs@41299d12e265e36682a29445079ae08fba19a176:"
    "anthropic-mixin/dashboards/anthropic-usage-observability.json"
)
LICENSE = "Apache-2.0"


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Panels with queries, rows' nested panels included, in the dashboard's order."""
    out: list[dict[str, Any]] = []
    for panel in panels:
        out += _panels(panel.get("panels", []))
        if panel.get("targets"):
            out.append(panel)
    return out


def derive(doc: dict[str, Any], digest: str) -> dict[str, Any]:
    queries = [
        {
            "panel": panel["title"],
            "type": panel["type"],
            "ref_id": target["refId"],
            "expr": target["expr"],
            "interval": target.get("interval", ""),
        }
        for panel in _panels(doc["panels"])
        for target in panel["targets"]
    ]
    variables = []
    for variable in doc["templating"]["list"]:
        query = variable.get("query")
        variables.append(
            {
                "name": variable["name"],
                "type": variable["type"],
                "query": query["query"] if isinstance(query, dict) else query,
                "multi": bool(variable.get("multi", False)),
                "include_all": bool(variable.get("includeAll", False)),
            }
        )
    return {
        "source": {"file": SOURCE, "sha256": digest, "upstream": UPSTREAM, "license": LICENSE},
        "dashboard_uid": doc.get("uid", ""),
        "queries": queries,
        "variables": variables,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help=f"the directory holding {SOURCE}")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output would change")
    args = parser.parse_args(argv)
    raw = (args.directory / SOURCE).read_bytes()
    text = render(derive(json.loads(raw), hashlib.sha256(raw).hexdigest()))
    if args.out.exists() and args.out.read_text() == text:
        print("unchanged: " + str(args.out.name))
        return 0
    if args.check:
        print(f"out of date: {args.out}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print("written: " + str(args.out.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
