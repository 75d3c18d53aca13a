"""The shipped Prometheus rules and Alertmanager config: checked and unit-tested by the real
tools (`promtool check rules`, `promtool test rules`, `amtool check-config`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness import require_tool

CONFIG = Path(__file__).resolve().parents[2] / "config"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    rules = CONFIG / "prometheus" / "rules"
    checked = run(promtool, "check", "rules", str(rules / "usage-exporter.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", str(rules / "usage-exporter.test.yml"))
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test() -> None:
    rules = (CONFIG / "prometheus" / "rules" / "usage-exporter.yml").read_text()
    tests = (CONFIG / "prometheus" / "rules" / "usage-exporter.test.yml").read_text()
    alerts = [
        line.split(":", 1)[1].strip()
        for line in rules.splitlines()
        if line.strip().startswith("- alert:")
    ]
    assert len(alerts) >= 10
    missing = [a for a in alerts if f"alertname: {a}\n" not in tests]
    assert not missing, missing


def test_prometheus_and_alertmanager_configs_are_valid() -> None:
    promtool = require_tool("promtool")
    checked = run(promtool, "check", "config", str(CONFIG / "prometheus" / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    amtool = require_tool("amtool")
    checked = run(amtool, "check-config", str(CONFIG / "alertmanager" / "alertmanager.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
