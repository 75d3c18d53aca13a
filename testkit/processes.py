"""Real processes on loopback, for the tests and the benchmarks alike.

Starts the simulator, the exporter and a real Prometheus as subprocesses, waits for them, and
reads their HTTP APIs. Every wait is bounded in time; every request goes to 127.0.0.1. No pytest
here: `python -m bench.soak` runs without it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from testkit.loopback import check_config
from testkit.tools import find_tool

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def http_json(url: str, **kwargs: Any) -> Any:
    status, body, _ = http(url, **kwargs)
    assert 200 <= status < 300, f"{url}: HTTP {status}: {body[:300]!r}"
    return json.loads(body)


def wait_for(
    condition: Callable[..., object], what: str, timeout: float = 30.0, every: float = 0.2
) -> None:
    """Call `condition()` until it is truthy or `timeout` passes. Any signature, called without
    arguments: loops bind their variable as a default (`lambda t=target: ...`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, ValueError, AssertionError, KeyError, httpx.HTTPError):
            pass
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str
    # run again at stop: a config rewritten for a reload must stay on loopback too
    recheck: Callable[[], None] | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def check(self) -> None:
        """Raise, with its log, if the process has exited."""
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()}")

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.recheck is not None:
            self.recheck()
        return int(self.popen.returncode)


def start(
    name: str,
    argv: list[str],
    log: Path,
    url: str,
    ready_path: str = "/",
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Process:
    exporter_args = argv[3:] if argv[1:3] == ["-m", "exporter"] else None
    if exporter_args is not None:
        check_config(exporter_args, env)
    handle = log.open("wb")
    popen = subprocess.Popen(
        argv, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    process = Process(name, popen, log, url)
    if exporter_args is not None:
        process.recheck = lambda: check_config(exporter_args, env)

    def up() -> bool:
        process.check()
        return http(url + ready_path, timeout=2)[0] < 500

    try:
        wait_for(up, f"{name} at {url}", timeout=timeout)
    except Exception:
        process.kill()
        raise
    return process


@contextmanager
def running(name: str, argv: list[str], log: Path, url: str, **kwargs: Any) -> Iterator[Process]:
    process = start(name, argv, log, url, **kwargs)
    try:
        yield process
    finally:
        process.stop()


def exporter_argv(*args: str) -> list[str]:
    """`python -m exporter ARGS`; a `run` or `once` whose config could reach beyond loopback is
    refused here, before it starts (`testkit.loopback`)."""
    check_config(args)
    return [sys.executable, "-m", "exporter", *args]


def run_argv(config: Path, port: int, *extra: str) -> list[str]:
    """`usage-exporter run --config CONFIG` listening on the loopback `port`, then `extra`."""
    return exporter_argv(
        "run", "--config", str(config), "--web.listen-address", f"{HOST}:{port}", *extra
    )


def run_to_end(
    argv: Sequence[str], timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, its output captured as text; the exit code is the caller's to
    judge."""
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_until_exit(
    config: Path, *extra: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`usage-exporter run` on a free loopback port, run to its end: for the configs it must
    refuse before it listens."""
    return run_to_end(run_argv(config, free_port(), *extra), timeout=timeout)


def simulator(
    tmp: Path, seed: int = 7, extra: tuple[str, ...] = (), log_name: str = "simulator.log"
) -> AbstractContextManager[Process]:
    port = free_port()
    return running(
        "simulator",
        exporter_argv(
            "simulate", "--web.listen-address", f"{HOST}:{port}", "--seed", str(seed), *extra
        ),
        tmp / log_name,
        f"http://{HOST}:{port}",
        ready_path="/_sim/clock",
    )


def demo(tmp: Path) -> Process:
    """`usage-exporter demo` on a free loopback port, ready once `/healthz` answers."""
    port = free_port()
    return start(
        "demo",
        exporter_argv("demo", "--web.listen-address", f"{HOST}:{port}"),
        tmp / "demo.log",
        f"http://{HOST}:{port}",
        ready_path="/healthz",
    )


def exporter(
    tmp: Path,
    config: Path,
    *extra: str,
    log_name: str = "exporter.log",
    env: dict[str, str] | None = None,
) -> Process:
    port = free_port()
    return start(
        "exporter",
        run_argv(config, port, *extra),
        tmp / log_name,
        f"http://{HOST}:{port}",
        ready_path="/healthz",
        env=env,
    )


def prometheus(
    tmp: Path,
    exporter_url: str | Sequence[str],
    scrape_interval: str = "1s",
    rule_files: tuple[Path, ...] = (),
    binary: str | None = None,
) -> AbstractContextManager[Process]:
    """A Prometheus scraping `exporter_url` (or each of several, in one job); `binary` defaults
    to the one `find_tool` finds."""
    binary = binary or find_tool("prometheus")
    port = free_port()
    urls = [exporter_url] if isinstance(exporter_url, str) else list(exporter_url)
    targets = json.dumps([url.removeprefix("http://") for url in urls])
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\n"
        f"rule_files: {json.dumps([str(path) for path in rule_files])}\n"
        "scrape_configs:\n"
        "  - job_name: usage-exporter\n"
        f"    static_configs: [{{targets: {targets}}}]\n"
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address={HOST}:{port}",
        "--log.level=warn",
    ]
    return running(
        "prometheus",
        argv,
        tmp / "prometheus.log",
        f"http://{HOST}:{port}",
        ready_path="/-/ready",
        timeout=60,
    )


def promql(prometheus_url: str, query: str) -> list[dict[str, Any]]:
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    answer = http_json(url)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def scrape(url: str, openmetrics: bool = False) -> str:
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else {}
    status, body, _ = http(url + "/metrics", headers=headers)
    assert status == 200, body[:300]
    return body.decode()


def parse_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a text exposition, keyed by (name, labels)."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def success_polls(url: str, target: str | None = None) -> float:
    """Successful polls so far, from the exporter's own self-metrics."""
    return sum(
        v
        for (name, labels), v in parse_samples(scrape(url)).items()
        if name == "usage_exporter_polls_total"
        and ("result", "success") in labels
        and (target is None or ("target", target) in labels)
    )


def created(url: str, family: str, must_contain: str = "") -> int:
    """A counter's `_created` (its origin) from the OpenMetrics exposition."""
    for line in scrape(url, openmetrics=True).splitlines():
        if line.startswith(f"{family}_created{{") and must_contain in line:
            return int(float(line.rsplit(" ", 1)[1]))
    raise AssertionError(f"no {family}_created sample")


def queue_faults(sim_url: str, upstream: str, faults: Sequence[Mapping[str, Any]]) -> None:
    """Queue `faults` for `upstream`'s next calls (each consumed by `count` matching calls)."""
    body = {"upstream": upstream, "faults": [dict(fault) for fault in faults]}
    http_json(f"{sim_url}/_sim/faults", method="POST", body=body)


def clock_in_the_past(sim_url: str, seconds: float = 150) -> None:
    """Freeze the simulator's clock in the past: jumping to the present later makes buckets
    already read rise (late data), as real buckets do after they close."""
    http_json(
        f"{sim_url}/_sim/clock", method="POST", body={"freeze": True, "at": time.time() - seconds}
    )


def settle(
    sim_url: str,
    exporter_url: str,
    prometheus_url: str | None = None,
    targets: Sequence[str] = (),
) -> None:
    """Freeze the simulator at the present, let the exporter poll twice more (each of `targets`
    twice, when given), and (with a Prometheus) wait until it has scraped that final state."""
    http_json(f"{sim_url}/_sim/clock", method="POST", body={"freeze": True})
    start = {target: success_polls(exporter_url, target) for target in targets or (None,)}
    wait_for(
        lambda: all(success_polls(exporter_url, t) >= n + 2 for t, n in start.items()),
        "two polls after the freeze",
        timeout=60,
    )
    if prometheus_url is not None:
        scraped_now(prometheus_url, exporter_url)


def scraped_now(prometheus_url: str, exporter_url: str) -> None:
    """Wait until Prometheus holds the exporter's state as it is now (as many polls)."""
    polls = success_polls(exporter_url)
    query = 'sum(usage_exporter_polls_total{result="success"})'
    wait_for(
        lambda: float(promql(prometheus_url, query)[0]["value"][1]) >= polls,
        "Prometheus to scrape the exporter's state",
        timeout=30,
    )
