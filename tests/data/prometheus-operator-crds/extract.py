"""Extracts the `openAPIV3Schema` of the prometheus-operator CRDs the Kubernetes manifests use
(ServiceMonitor, PrometheusRule) into JSON files here, with where each came from (`sources.json`:
the CRD file's name, its upstream URL from its first line, the operator version and the file's
SHA-256). The tests validate the rendered manifests against these; nothing reads the CRD files
at test time.

    python tests/data/prometheus-operator-crds/extract.py DIR_WITH_THE_CRD_FILES
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
WANTED = {
    "ServiceMonitor": "crd-servicemonitors.yaml",
    "PrometheusRule": "crd-prometheusrules.yaml",
}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    sources = {}
    for kind, name in WANTED.items():
        raw = (folder / name).read_bytes()
        first = raw.decode("utf-8").splitlines()[0]
        crd = next(
            d for d in yaml.safe_load_all(raw) if d and d.get("kind") == "CustomResourceDefinition"
        )
        assert crd["spec"]["names"]["kind"] == kind, name
        version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
        schema = version["schema"]["openAPIV3Schema"]
        out = HERE / f"{kind.lower()}.schema.json"
        out.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        sources[kind] = {
            "file": name,
            "source": first.removeprefix("#").strip(),
            "operator_version": crd["metadata"]["annotations"]["operator.prometheus.io/version"],
            "api_version": f"{crd['spec']['group']}/{version['name']}",
            "sha256": hashlib.sha256(raw).hexdigest(),
            "schema": out.name,
        }
    (HERE / "sources.json").write_text(json.dumps(sources, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
