"""The listener under load and under slow clients, as a real process: wrk's concurrent scrapes
are all answered while polls keep running, and clients that trickle requests in (slowloris)
are cut off, so they cannot hold the connection slots."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

from tests.harness import HOST, demo, http, require_tool, success_polls, wait_for


def test_concurrent_scrapes_are_all_answered_while_polls_run(tmp_path: Path) -> None:
    wrk = require_tool("wrk")
    exp = demo(tmp_path)
    try:
        wait_for(lambda: success_polls(exp.url) >= 5, "the first polls", timeout=60)
        polls_before = success_polls(exp.url)
        url = f"{exp.url}/metrics"
        out = subprocess.run(
            [wrk, "-t1", "-c64", "-d8s", "--timeout", "5s", "-H", "Accept-Encoding: gzip", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        completed = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        assert completed > 64, out
        assert "Non-2xx" not in out and "Socket errors" not in out, out
        assert success_polls(exp.url) > polls_before, "polls stopped under load"
    finally:
        exp.stop()


def test_slow_clients_cannot_hold_the_listener(tmp_path: Path) -> None:
    exp = demo(tmp_path)
    port = int(exp.url.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        for _ in range(300):  # more than the listener's 256 connection slots
            conn = socket.create_connection((HOST, port), timeout=5)
            conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the end
            slow.append(conn)
        started = time.monotonic()
        wait_for(lambda: http(exp.url + "/metrics")[0] == 200, "a scrape to get through", 30)
        assert time.monotonic() - started < 30
        for conn in slow:
            conn.settimeout(10)
            assert conn.recv(1) == b"", "a slow client was left connected"
    finally:
        for conn in slow:
            conn.close()
        exp.stop()
