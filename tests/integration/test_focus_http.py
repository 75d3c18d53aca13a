"""`GET /focus/v1.2/cost-and-usage.{csv,parquet}` on a running exporter: behind the web
config's TLS and basic auth like /metrics, in one process and with `--web.listener-process`;
the same bytes as `usage-exporter focus`; a clear 4xx for a malformed, future or expired month."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from exporter.model import month_start
from tests import synthetic_costs
from tests.focus_checks import parse_csv, problems
from tests.harness import HOST, exporter_argv, free_port, run_argv, wait_for
from tests.integration.secured_listener import PASSWORD, closed_config, web_config


@pytest.mark.parametrize("mode", [(), ("--web.listener-process",)], ids=["one", "listener"])
def test_the_dataset_is_served_behind_tls_and_basic_auth(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    synthetic_costs.build(state / "ledger.sqlite").close()
    web, cert = web_config(tmp_path, "finops")
    config = closed_config(tmp_path, "sk-admin-focus-http")
    month = synthetic_costs.month_text(synthetic_costs.DEC)
    cli = subprocess.run(
        exporter_argv("focus", "--config", str(config), "--month", month),
        capture_output=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    port = free_port()
    url = f"https://{HOST}:{port}/focus/v1.2/cost-and-usage"
    popen = subprocess.Popen(
        run_argv(config, port, "--web.config.file", str(web), *mode),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        tls = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=tls, timeout=30) as client:
            wait_for(lambda: client.get(f"https://{HOST}:{port}/healthz").status_code == 401, "TLS")
            assert client.get(f"{url}.csv?month={month}").status_code == 401
            assert client.get(f"{url}.csv?month={month}", auth=("finops", "no")).status_code == 401
            auth = ("finops", PASSWORD)
            answer = client.get(f"{url}.csv?month={month}", auth=auth)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/csv")
            assert f"cost-and-usage-{month}.csv" in answer.headers["content-disposition"]
            assert answer.content == cli.stdout  # the same file both ways
            assert problems(answer.content) == []
            assert [r for r in parse_csv(answer.content) if r["ChargeClass"] == "Correction"]
            parquet = client.get(f"{url}.parquet?month={month}", auth=auth)
            assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"

            future = synthetic_costs.month_text(month_start(synthetic_costs.DEC + 40 * 86400))
            cases = {
                "2026-13": (400, "YYYY-MM"),
                "": (400, "YYYY-MM"),
                "x" * 5000: (400, "YYYY-MM"),
                future: (404, "has not begun"),
                "1999-01": (410, "retention"),
            }
            for asked, (status, words) in cases.items():
                refused = client.get(f"{url}.csv", params={"month": asked}, auth=auth)
                assert refused.status_code == status, asked[:20]
                assert words in refused.text and len(refused.text) < 300
            assert client.get(f"{url}.json?month={month}", auth=auth).status_code == 404
    finally:
        popen.terminate()
        popen.wait(timeout=20)
