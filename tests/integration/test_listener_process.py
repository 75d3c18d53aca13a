"""`run --web.listener-process`: the HTTP listener in a process of its own, against the simulator.

The counters it serves equal the simulator's truth; /readyz, / and /healthz answer from the
snapshots the daemon's process sends; /-/reload is asked of the daemon's process and answered with
its outcome; SIGTERM stops both processes, a killed daemon's process takes the listener with it,
a dead listener stops the daemon's process with exit 1, and a port in use is a clear error.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from exporter.exposition.served import Exposition
from exporter.http.listener_process import encode, receive
from exporter.http.state import ServerState, TargetStatus
from tests.harness import (
    HOST,
    Process,
    exporter,
    http,
    http_json,
    run_argv,
    scrape,
    simulator,
    success_polls,
    wait_for,
)
from tests.openai_expected import assert_exact, write_config

KEY, ORG = "sk-admin-listener-1", "org-listener"


def children(pid: int) -> list[int]:
    """The listener processes `pid` started (Linux): `python -m exporter.http.listener_main`."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    started = (int(p) for p in text.split())
    return [p for p in started if b"listener_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


def refused(url: str) -> bool:
    """Nothing listens at the exporter's address any more."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) != 0


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    return "State:\tZ" in status


def test_a_snapshot_survives_the_pipe() -> None:
    receiving, sending = multiprocessing.Pipe(duplex=False)
    state = ServerState(shard=(1, 3))
    state.targets["a"] = TargetStatus("a", "openai", True, True, 12.5, "")
    state.targets["b"] = TargetStatus("b", "telnyx", False, True, None, 'HTTP 500 "x"\n')
    messages = encode(state)
    assert len(messages) == 1
    for message in messages:
        sending.send_bytes(message)
    assert receive(receiving) == (None, state.targets, (1, 3))
    state.exposition = Exposition(b"tg", b"og\x00\xff", 12, 2**33 + 5, 7)
    messages = encode(state)
    assert len(messages) == 3
    for message in messages:
        sending.send_bytes(message)
    assert receive(receiving) == (state.exposition, state.targets, (1, 3))


def test_the_listener_process_serves_exact_counters_and_reloads(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--openai-key", f"{KEY}={ORG}")) as sim:
        config = write_config(tmp_path, sim.url, KEY, name="solo", interval="2s", timeout="2s")
        exp = exporter(tmp_path, config, "--web.listener-process", "--web.enable-lifecycle")
        try:
            assert http(f"{exp.url}/metrics")[0] == 200  # it listens once it has bytes to serve
            # the listener answers as soon as it listens; the daemon's process logs it after
            wait_for(lambda: 'listener="own process"' in exp.output(), "the listening line", 10)
            wait_for(lambda: success_polls(exp.url, "solo") >= 1, "a poll", timeout=60)
            assert http(f"{exp.url}/readyz")[0] == 200
            assert http(f"{exp.url}/healthz")[0] == 200
            status, page = http(f"{exp.url}/")[:2]
            assert status == 200 and "solo" in str(page)
            http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
            start = success_polls(exp.url, "solo")
            wait_for(lambda: success_polls(exp.url, "solo") >= start + 2, "two polls", 60)
            assert_exact(sim.url, exp.url, ORG, "solo")
            # a reload asked of the listener is done by the daemon's process
            text = config.read_text().replace("name: solo", "name: renamed")
            config.write_text(text)
            answer = http(f"{exp.url}/-/reload", method="POST")
            assert answer[0] == 200, answer
            wait_for(lambda: 'target="renamed"' in scrape(exp.url), "the renamed target", 30)
            config.write_text("sources: [")
            status, body, _ = http(f"{exp.url}/-/reload", method="POST")
            assert status == 500 and body.startswith(b"failed to reload config:"), body
            assert 'target="renamed"' in scrape(exp.url)  # the running config keeps serving
            (listener,) = children(exp.popen.pid)
            assert exp.stop() == 0
            wait_for(lambda: gone(listener) and refused(exp.url), "the listener to stop", 10)
        finally:
            exp.kill()


@contextmanager
def idle_exporter(tmp: Path) -> Iterator[tuple[Process, int]]:
    """An exporter with a listener process and a target that only fails: (it, listener pid)."""
    config = write_config(tmp, "http://127.0.0.1:9", KEY, name="down")
    exp = exporter(tmp, config, "--web.listener-process")
    try:
        (listener,) = children(exp.popen.pid)
        yield exp, listener
    finally:
        exp.kill()


def test_a_killed_daemon_takes_its_listener_with_it(tmp_path: Path) -> None:
    with idle_exporter(tmp_path) as (exp, listener):
        exp.popen.kill()
        exp.popen.wait(10)
        wait_for(lambda: gone(listener) and refused(exp.url), "the orphaned listener to exit", 10)


def test_a_dead_listener_stops_the_daemon_with_exit_1(tmp_path: Path) -> None:
    with idle_exporter(tmp_path) as (exp, listener):
        os.kill(listener, signal.SIGKILL)
        assert exp.popen.wait(15) == 1
        assert "the listener process exited" in exp.output()


@pytest.mark.parametrize("flags", [(), ("--web.listener-process",)], ids=["one", "two"])
def test_a_port_in_use_is_a_clear_error(tmp_path: Path, flags: tuple[str, ...]) -> None:
    """In one process or two: exit 1 and the address named, no traceback (uvicorn used to exit
    the process with 3 and log a traceback)."""
    config = write_config(tmp_path, "http://127.0.0.1:9", KEY, name="down")
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            run_argv(
                config,
                port,
                *flags,
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on {HOST}:{port}" in done.stderr
    assert "Traceback" not in done.stderr
