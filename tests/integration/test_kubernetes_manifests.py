"""The Kubernetes manifests (`deploy/kubernetes/`), checked offline by real tools: `kubectl
kustomize` renders every overlay; every built-in object validates against the Kubernetes
schema (`kubernetes-validate`, strict); the ServiceMonitor and PrometheusRule validate against
the prometheus-operator CRD schemas vendored in `tests/data/prometheus-operator-crds/` (strict:
unknown fields rejected, as the API server's strict field validation does); the generated
PrometheusRule and dashboard ConfigMaps equal their sources. Each validator is shown to reject a
broken manifest."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from exporter.config.load import load_config
from tests.harness import require_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
CRDS = ROOT / "tests" / "data" / "prometheus-operator-crds"
OVERLAYS = ("single", "sharded", "ha-pair")
KUBERNETES_VERSION = "1.37.0"
REPLICAS = {"single": 1, "sharded": 3, "ha-pair": 2}


def kustomize(path: Path) -> subprocess.CompletedProcess[str]:
    kubectl = require_tool("kubectl")
    return subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120, check=False
    )


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    result = kustomize(DEPLOY / "overlays" / overlay)
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation: an object
    with `properties` admits no other field, unless it preserves unknown fields."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    sources = json.loads((CRDS / "sources.json").read_text())
    schema = json.loads((CRDS / sources[kind]["schema"]).read_text())
    return jsonschema.Draft7Validator(strict(schema))


def validate(doc: dict[str, Any]) -> None:
    """Raise if `doc` is not a valid object of its kind."""
    if doc["apiVersion"].startswith("monitoring.coreos.com/"):
        crd_validator(doc["kind"]).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def all_docs() -> Iterator[tuple[str, dict[str, Any]]]:
    for overlay in OVERLAYS:
        for doc in rendered(overlay):
            yield overlay, doc


def test_every_overlay_renders_and_every_object_validates() -> None:
    kinds: set[str] = set()
    for overlay, doc in all_docs():
        try:
            validate(doc)
        except Exception as err:
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {err}")
        kinds.add(doc["kind"])
    assert kinds == {
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "StatefulSet",
        "ServiceMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }


def test_the_validators_reject_broken_manifests(tmp_path: Path) -> None:
    docs = rendered("sharded")
    broken: list[dict[str, Any]] = []
    sts = copy.deepcopy(one(docs, "StatefulSet"))
    sts["spec"]["replica"] = 3  # a typo: unknown field
    broken.append(sts)
    sts = copy.deepcopy(one(docs, "StatefulSet"))
    sts["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9868"
    broken.append(sts)
    monitor = copy.deepcopy(one(docs, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    broken.append(monitor)
    rule = copy.deepcopy(one(docs, "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["expr"] = {"not": "a string"}
    broken.append(rule)
    rule = copy.deepcopy(one(docs, "PrometheusRule"))
    del rule["spec"]["groups"][0]["name"]
    broken.append(rule)
    for doc in broken:
        with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
            validate(doc)
    # kustomize itself: a kustomization naming a file that is not there
    shutil.copytree(DEPLOY, tmp_path / "k8s")
    kustomization = tmp_path / "k8s" / "base" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("services.yaml", "svc.yaml"))
    failed = kustomize(tmp_path / "k8s" / "overlays" / "sharded")
    assert failed.returncode != 0 and "svc.yaml" in failed.stderr


def test_statefulset_shards_probes_and_restricted_security() -> None:
    for overlay in OVERLAYS:
        sts = one(rendered(overlay), "StatefulSet")
        spec = sts["spec"]
        assert spec["replicas"] == REPLICAS[overlay]
        assert spec["podManagementPolicy"] == "Parallel"
        assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["state"]
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        name, _, tag = container["image"].partition(":")
        assert name == "usage-exporter" and tag  # the Dockerfile's image, a release tag
        env = {e["name"]: e["value"] for e in container["env"]}
        total = int(env["USAGE_EXPORTER_TOTAL_SHARDS"])
        if overlay == "ha-pair":  # two replicas of shard 0 of 1
            assert "--shard=0" in container["args"] and total == 1
        else:  # the pod ordinal is the shard: one pod per shard
            assert "--shard.from-hostname" in container["args"] and total == spec["replicas"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["runAsNonRoot"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert not any("valueFrom" in e for e in container["env"])  # keys are files, not env
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["keys"]["secret"]["secretName"] == "usage-exporter-keys"
        config_map = one(rendered(overlay), "ConfigMap", volumes["config"]["configMap"]["name"])
        assert "config.yaml" in config_map["data"]


def test_the_shipped_config_is_valid(tmp_path: Path) -> None:
    """The ConfigMap's config, with its key files made up in a temporary folder."""
    text = one(rendered("single"), "ConfigMap", _config_name())["data"]["config.yaml"]
    keys = tmp_path / "keys"
    keys.mkdir()
    for line in text.splitlines():
        if "api_key_file:" in line:
            name = line.split("/run/secrets/usage-exporter/")[1].strip()
            (keys / name).write_text("key-" + name)
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("/run/secrets/usage-exporter", str(keys)))
    config = load_config(path, env={})
    assert config.count_from is not None and len(config.sources) >= 4
    assert all(s.api_key_file is not None for s in config.sources)


def _config_name() -> str:
    sts = one(rendered("single"), "StatefulSet")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    return str(volumes["config"]["configMap"]["name"])


def test_services_and_the_service_monitor_select_the_pods_once() -> None:
    docs = rendered("sharded")
    pod_labels = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    monitor = one(docs, "ServiceMonitor")["spec"]
    services = [d for d in docs if d["kind"] == "Service"]
    chosen = [
        s
        for s in services
        if all(
            s["metadata"]["labels"].get(k) == v
            for k, v in monitor["selector"]["matchLabels"].items()
        )
    ]
    assert [s["metadata"]["name"] for s in chosen] == ["usage-exporter"]  # one scrape per pod
    for service in services:
        assert all(pod_labels.get(k) == v for k, v in service["spec"]["selector"].items())
    headless = one(docs, "Service", "usage-exporter-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert one(docs, "StatefulSet")["spec"]["serviceName"] == "usage-exporter-headless"
    ports = {p["name"] for s in services for p in s["spec"]["ports"]}
    assert ports == {e["port"] for e in monitor["endpoints"]} == {"metrics"}
    budget = one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]
    policy = one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    assert all(pod_labels.get(k) == v for k, v in {**budget, **policy}.items())


def test_prometheus_rule_and_dashboards_equal_their_sources() -> None:
    rules = yaml.safe_load((ROOT / "config/prometheus/rules/usage-exporter.yml").read_text())
    dashboards = {p.name: p.read_text() for p in (ROOT / "grafana" / "dashboards").glob("*.json")}
    for overlay in OVERLAYS:
        docs = rendered(overlay)
        assert one(docs, "PrometheusRule")["spec"]["groups"] == rules["groups"]
        maps = [d for d in docs if d["metadata"].get("labels", {}).get("grafana_dashboard")]
        assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)
        assert {k: v for m in maps for k, v in m["data"].items()} == dashboards
        for text in dashboards.values():
            json.loads(text)


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("k8s_generate", DEPLOY / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_copies_are_in_sync_and_the_check_catches_a_stale_one(tmp_path: Path) -> None:
    generator = load_generator()
    assert generator.main(["--check"]) == 0, "run python deploy/kubernetes/generate.py"
    shutil.copytree(DEPLOY / "base", tmp_path / "base")
    generator.BASE = tmp_path / "base"
    assert generator.main(["--check"]) == 0
    stale = tmp_path / "base" / "prometheusrule.yaml"
    stale.write_text(stale.read_text().replace("for: 15m", "for: 16m", 1))
    assert generator.main(["--check"]) == 1


def test_vendored_crd_schemas_record_their_source() -> None:
    sources = json.loads((CRDS / "sources.json").read_text())
    assert set(sources) == {"ServiceMonitor", "PrometheusRule"}
    for kind, source in sources.items():
        assert source["source"].startswith("https://") and source["operator_version"]
        assert len(source["sha256"]) == 64 and (CRDS / source["schema"]).exists()
        schema = crd_validator(kind).schema
        assert isinstance(schema, dict) and schema["properties"]["spec"]
