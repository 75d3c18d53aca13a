"""Day-2 command line: `check-config --syntax-only` in a CI without secrets, its warnings,
`--version`, a `base_url` with the API version the exporter adds itself, upstream errors
that say what to do (the URL that was called, the key the vendor wants; never the key), and a
simulator that says where it listens."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from exporter import __version__
from exporter.vendors import plugins
from tests.harness import exporter_argv, simulator, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
KEY = "sk-admin-day2-CANARY-51f0"
TELNYX_KEY = "KEYday2CANARY000001"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(
        exporter_argv(*args),
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
        cwd=ROOT,
    )


def test_check_config_syntax_only_passes_the_example_with_no_environment() -> None:
    checked = run("check-config", "--syntax-only", "config/example.yaml")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("config OK (syntax only")
    full = run("check-config", "config/example.yaml")
    assert full.returncode == 2
    assert "environment variable OPENAI_ADMIN_KEY is not set" in full.stderr


def test_check_config_syntax_only_refuses_a_broken_structure(tmp_path: Path) -> None:
    text = (ROOT / "config" / "example.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("kind: openai", "kind: openai\n    colour: blue", 1))
    checked = run("check-config", "--syntax-only", str(bad))
    assert checked.returncode == 2
    assert "sources[0] (acme-prod).colour: unknown key" in checked.stderr


def test_check_config_prints_warnings(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n  - kind: openai\n    name: a\n    api_key: ${OPENAI_ADMIN_KEY}\n"
        "    base_url: https://api.openai.com/v1\n    lookback: 1h\n"
        "    group_by: [project_id, user_id]\n"
    )
    checked = run("check-config", "--syntax-only", str(config))
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stderr.splitlines() if "warning:" in line]
    assert any("sources[0] (a).base_url: base_url ends in /v1" in w for w in warnings), warnings
    assert any("sources[0] (a).lookback: 1h is shorter" in w for w in warnings), warnings
    assert any("sources[0] (a).group_by: user_id" in w for w in warnings), warnings


def test_version_is_the_package_version() -> None:
    shown = run("--version")
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"usage-exporter {__version__}"


def test_base_url_with_the_api_version_works_against_the_simulator(tmp_path: Path) -> None:
    keys = ("--openai-key", f"{KEY}=org-day2", "--telnyx-key", f"{TELNYX_KEY}=acct-day2")
    with simulator(tmp_path, extra=keys) as sim:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n"
            f"  - kind: openai\n    name: o\n    base_url: {sim.url}/v1\n    api_key: {KEY}\n"
            "    backfill: 1d\n    endpoints: [completions, costs]\n"
            f"  - kind: telnyx\n    name: t\n    base_url: {sim.url}/v2/\n"
            f"    api_key: {TELNYX_KEY}\n    backfill: 1d\n    buckets: auto\n"
            f"    s3_endpoint: {sim.url}/s3/{{region}}\n"
        )
        once = run("once", "--config", str(config))
        assert once.returncode == 0, once.stderr[-3000:]
        assert 'openai_input_tokens_total{target="o"' in once.stdout
        assert 'telnyx_storage_operations_total{target="t"' in once.stdout
        assert "base_url adjusted" in once.stderr
        assert "ends in /v1" in once.stderr and "ends in /v2" in once.stderr


def test_upstream_errors_say_what_to_do(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--openai-key", f"{KEY}=org-day2")) as sim:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n"
            f"  - kind: openai\n    name: wrongpath\n    base_url: {sim.url}/openai\n"
            f"    api_key: {KEY}\n    retries: 0\n    endpoints: [completions]\n"
            f"  - kind: openai\n    name: wrongkey\n    base_url: {sim.url}\n"
            "    api_key: sk-proj-not-an-admin-key-7c2e\n    retries: 0\n"
            "    endpoints: [completions]\n"
        )
        once = run("once", "--config", str(config))
    assert once.returncode == 1
    log = once.stderr
    assert (
        f"completions: HTTP 404 from GET {sim.url}/openai/v1/organization/usage/completions:"
        " no such API path: base_url must be the API root without /v1"
    ) in log, log[-3000:]
    assert "HTTP 401 from GET" in log and "need an Admin key (sk-admin-" in log, log[-3000:]
    assert "start_time" not in log.split("HTTP 404 from GET", 1)[1].split("\n", 1)[0]
    assert KEY not in log and "sk-proj-not-an-admin-key-7c2e" not in log


def test_the_simulator_says_where_it_listens_and_which_keys_it_accepts(tmp_path: Path) -> None:
    """At the default log level: a newcomer who starts `simulate` needs its URL and its keys."""
    with simulator(tmp_path) as sim:
        wait_for(lambda: "simulator listening" in sim.output(), "the start line", timeout=10)
        line = next(x for x in sim.output().splitlines() if "simulator listening" in x)
    assert "level=info" in line and f"url={sim.url}" in line, line
    for vendor in plugins():
        for key in vendor.twin.default_keys:
            assert f"{vendor.kind}: {key}" in line, line
