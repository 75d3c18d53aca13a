"""SIGTERM while polls are in flight: the exporter exits 0 and logs the cancelled polls as such,
not as errors with a traceback (which log-based alerts would page on), in one process or two."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import exporter, http_json, simulator, wait_for
from tests.openai_expected import write_config

KEY, ORG = "sk-admin-shutdown-1", "org-shutdown"


@pytest.mark.parametrize(
    "flags", [("--no-web.listener-process",), ()], ids=["one", "two (the default)"]
)
def test_sigterm_mid_poll_exits_0_without_an_error_line(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    with simulator(tmp_path, extra=("--openai-key", f"{KEY}={ORG}")) as sim:
        # every call answers after 20 s: the first poll is in flight until SIGTERM
        fault = {"kind": "delay", "seconds": 20, "count": 1000}
        http_json(f"{sim.url}/_sim/faults", method="POST", body=fault)
        config = write_config(
            tmp_path,
            sim.url,
            KEY,
            name="slow",
            interval="30s",
            timeout="25s",
            extra="    resource_interval: 1m\n",
        )
        exp = exporter(tmp_path, config, *flags)
        try:
            stats = f"{sim.url}/_sim/stats"
            wait_for(lambda: sum(http_json(stats)["calls_by_upstream"].values()) >= 2, "calls", 30)
            assert exp.stop() == 0
            log = exp.output()
            assert "poll cancelled: shutting down" in log
            assert "level=error" not in log and "Traceback" not in log, log[-3000:]
        finally:
            exp.kill()
