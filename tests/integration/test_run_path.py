"""`usage-exporter run` imports no test code: no simulator module, no vendor twin and no oracle.

The real command runs under `python -X importtime`, which writes every module the process
imports, when it imports it (lazy imports included), to stderr; it runs a target of every
registered kind, polls, reloads and stops. The import rules of pyproject.toml
(`[tool.importlinter]`, checked by `lint-imports`) say the same statically; this test sees
what one run really loads.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from exporter.vendors import plugins
from testkit.loopback import check_config
from testkit.processes import HOST, free_port, http, running, scrape, wait_for

# what a simulator, a twin or an oracle module is called: the simulator package, and in a
# vendor package `twin.py` (or a package `twin/`), `routes.py`, `expected.py` and their
# `<part>_twin.py`, `<part>_routes.py`
TEST_CODE = re.compile(
    r"^exporter\.simulator(\.|$)|^exporter\.vendors\.\w+\.(\w+_)?(twin|routes|expected)(\.|$)"
)
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)\s*$", re.M)


def imported(log: str) -> set[str]:
    return set(IMPORTED.findall(log))


def test_the_pattern_names_the_test_code() -> None:
    names = {
        "exporter.simulator",
        "exporter.simulator.app",
        "exporter.vendors.openai.twin",
        "exporter.vendors.openai.twin.catalogue",
        "exporter.vendors.openai.resources_twin",
        "exporter.vendors.anthropic.analytics_routes",
        "exporter.vendors.telnyx.expected",
    }
    assert {n for n in names if TEST_CODE.match(n)} == names
    assert not TEST_CODE.match("exporter.vendors.openai.source")
    assert not TEST_CODE.match("exporter.simulation")


def test_run_imports_no_simulator_twin_or_oracle(tmp_path: Path) -> None:
    closed = f"http://{HOST}:{free_port()}"  # nothing listens: every poll fails, quickly
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state_dir": str(tmp_path / "state"),
                "sources": [
                    {
                        "kind": p.kind,
                        "name": f"t-{p.kind}",
                        "api_key": "k",
                        "base_url": closed,
                        "interval": "2s",
                        "timeout": "1s",
                        **p.example,
                    }
                    for p in plugins()
                ],
            }
        )
    )
    port = free_port()
    args = ["run", "--config", str(config), "--web.listen-address", f"{HOST}:{port}"]
    args.append("--web.enable-lifecycle")
    check_config(args)  # every endpoint on loopback
    argv = [sys.executable, "-X", "importtime", "-m", "exporter", *args]
    url = f"http://{HOST}:{port}"
    with running("exporter", argv, tmp_path / "exporter.log", url, ready_path="/metrics") as exp:
        polled = 'usage_exporter_polls_total{result="failure"'
        wait_for(lambda: scrape(url).count(polled) >= len(plugins()), "a poll of every target")
        status, body, _ = http(f"{url}/-/reload", method="POST")
        assert status == 200, body
    assert exp.popen.returncode == 0, exp.output()
    modules = imported(exp.output())
    # the log is read right: the run path's own modules are in it
    assert {"exporter.daemon", "exporter.cli.commands", "exporter.vendors.openai.source"} <= modules
    assert {f"exporter.vendors.{p.kind}" for p in plugins()} <= modules
    assert sorted(m for m in modules if TEST_CODE.match(m)) == []
