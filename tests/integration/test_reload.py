"""Live reload of the real daemon process (SIGHUP and POST /-/reload) against the simulator.

Targets are added, kept and dropped without a restart and every counter stays equal to the
simulator's truth; a broken file is refused and the running config keeps serving; a change of
`group_by` hands the target over without counting anything twice; `/-/reload` only exists with
`--web.enable-lifecycle` and sits behind basic auth.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt

from tests.harness import (
    HOST,
    exporter,
    http,
    http_json,
    parse_samples,
    scrape,
    simulator,
    success_polls,
    wait_for,
)
from tests.openai_expected import GROUP_BY, assert_exact, expected_series, exporter_counters

KEYS = {"a": "sk-admin-reload-A1", "b": "sk-admin-reload-B2", "c": "sk-admin-reload-C3"}


def source(name: str, sim_url: str, group_by: list[str] = GROUP_BY, interval: str = "2s") -> str:
    return (
        "  - kind: openai\n"
        f"    name: {name}\n"
        f"    base_url: {sim_url}\n"
        f"    api_key: {KEYS[name]}\n"
        f"    interval: {interval}\n"
        "    timeout: 2s\n"
        "    bucket_width: 1h\n"
        "    backfill: 1d\n"
        "    retries: 4\n"
        f"    group_by: [{', '.join(group_by)}]\n"
    )


def write(path: Path, state: Path, *sources: str) -> None:
    path.write_text(f"state_dir: {state}\nsources:\n" + "".join(sources))


def metric(url: str, name: str, target: str | None = None) -> float | None:
    for (sample, labels), value in parse_samples(scrape(url)).items():
        if sample == name and (target is None or ("target", target) in labels):
            return value
    return None


def targets_served(url: str) -> set[str]:
    return {
        dict(labels)["target"]
        for (name, labels), _ in parse_samples(scrape(url)).items()
        if name.startswith("openai_") and "target" in dict(labels)
    }


@contextmanager
def scraping(url: str) -> Iterator[list[int | str]]:
    """Scrape /metrics back to back in a thread; yields the answers' statuses (or errors)."""
    statuses: list[int | str] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                statuses.append(http(url + "/metrics", timeout=5)[0])
            except OSError as err:
                statuses.append(type(err).__name__)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(timeout=10)


def reloaded_after(url: str, before: float) -> bool:
    stamp = metric(url, "usage_exporter_config_last_reload_success_timestamp_seconds")
    return stamp is not None and stamp > before


def sim_keys() -> tuple[str, ...]:
    return tuple(a for name, key in KEYS.items() for a in ("--openai-key", f"{key}=org-{name}"))


def test_sighup_adds_keeps_and_drops_targets_with_exact_counters(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=sim_keys()) as sim:
        config, state = tmp_path / "config.yaml", tmp_path / "state"
        write(config, state, source("a", sim.url), source("b", sim.url))
        exp = exporter(tmp_path, config)
        try:
            pid = exp.popen.pid
            wait_for(lambda: success_polls(exp.url, "b") >= 1, "b polled", timeout=60)
            b_before = exporter_counters(exp.url, "b")
            assert b_before
            a_polls = success_polls(exp.url, "a")
            assert metric(exp.url, "usage_exporter_config_last_reload_successful") == 1.0
            start_stamp = metric(
                exp.url, "usage_exporter_config_last_reload_success_timestamp_seconds"
            )
            assert start_stamp is not None

            # Keep a, drop b, add c, while a client scrapes without a pause: none fails.
            write(config, state, source("a", sim.url), source("c", sim.url))
            with scraping(exp.url) as statuses:
                exp.popen.send_signal(signal.SIGHUP)
                wait_for(lambda: reloaded_after(exp.url, start_stamp), "the reload", timeout=30)
                wait_for(lambda: success_polls(exp.url, "c") >= 1, "c polled", timeout=60)
            assert len(statuses) >= 5 and set(statuses) == {200}, statuses
            served = targets_served(exp.url)
            assert served == {"a", "c"}, served
            assert metric(exp.url, "usage_exporter_up", "b") is None, "b's self-metrics stay"
            # a was not restarted: its poll counter (in memory) went on from where it was.
            assert success_polls(exp.url, "a") >= a_polls
            assert "config reloaded" in exp.output()

            # b comes back: it resumes from its cursor (ledger rows were kept).
            second = metric(exp.url, "usage_exporter_config_last_reload_success_timestamp_seconds")
            assert second is not None
            write(config, state, source("a", sim.url), source("b", sim.url), source("c", sim.url))
            exp.popen.send_signal(signal.SIGHUP)
            wait_for(lambda: reloaded_after(exp.url, second), "the second reload", timeout=30)
            wait_for(lambda: "b" in targets_served(exp.url), "b served again", timeout=30)
            b_back = exporter_counters(exp.url, "b")
            assert all(b_back.get(k, 0) >= v for k, v in b_before.items()), "b went backwards"

            # Freeze the upstream, let every target poll twice, compare with the truth.
            http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
            polls = {t: success_polls(exp.url, t) for t in "abc"}
            for t in "abc":
                wait_for(
                    lambda t=t: success_polls(exp.url, t) >= polls[t] + 2,
                    f"two polls of {t} after the freeze",
                    timeout=60,
                )
            for t in "abc":
                assert_exact(sim.url, exp.url, f"org-{t}", t)
            assert exp.popen.pid == pid and exp.popen.poll() is None, "no restart"

            # group_by changes for a: handed over at the next bucket boundary. The old series
            # keep their values, the new ones start at the boundary: per family the sum over
            # the series still equals the truth (nothing counted twice).
            truth = family_sums(expected_series(sim.url, exp.url, "org-a", "a"))
            third = metric(exp.url, "usage_exporter_config_last_reload_success_timestamp_seconds")
            assert third is not None
            narrower = [k for k in GROUP_BY if k != "model"]
            write(
                config,
                state,
                source("a", sim.url, group_by=narrower),
                source("b", sim.url),
                source("c", sim.url),
            )
            exp.popen.send_signal(signal.SIGHUP)
            wait_for(lambda: reloaded_after(exp.url, third), "the group_by reload", timeout=30)
            after = success_polls(exp.url, "a")
            wait_for(lambda: success_polls(exp.url, "a") >= after + 2, "two polls of a")
            assert_family_sums(exporter_counters(exp.url, "a"), truth)
            assert "handed_over=a" in exp.output()
        finally:
            exp.stop()


def family_sums(series: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for (name, _), value in series.items():
        sums[name] = sums.get(name, 0.0) + value
    return {k: v for k, v in sums.items() if v}


def assert_family_sums(
    series: dict[tuple[str, frozenset[tuple[str, str]]], float], truth: dict[str, float]
) -> None:
    """Per family, the sum over the series equals the truth's (within 1e-9): none is missing,
    and nothing was counted twice across a hand-over."""
    got = family_sums(series)
    assert got.keys() == truth.keys()
    for family, value in truth.items():
        assert abs(got[family] - value) <= 1e-9 * max(1.0, value), (family, got, value)


def test_lifecycle_reload_refuses_a_broken_file_and_keeps_serving(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=sim_keys()) as sim:
        config, state = tmp_path / "config.yaml", tmp_path / "state"
        write(config, state, source("a", sim.url))
        exp = exporter(tmp_path, config, "--web.enable-lifecycle")
        try:
            wait_for(lambda: success_polls(exp.url, "a") >= 1, "a polled", timeout=60)
            assert http(exp.url + "/-/reload")[0] == 405  # GET: only POST and PUT reload

            config.write_text(
                config.read_text().replace("interval: 2s", "interval: soon")
            )  # broken: the field is named in the answer and the log
            status, body, _ = http(exp.url + "/-/reload", method="POST")
            assert status == 500, body
            assert b"sources[0] (a).interval" in body and b"invalid duration" in body
            assert "config reload failed" in exp.output()
            assert "sources[0] (a).interval" in exp.output()
            assert metric(exp.url, "usage_exporter_config_last_reload_successful") == 0.0
            polls = success_polls(exp.url, "a")
            wait_for(lambda: success_polls(exp.url, "a") >= polls + 1, "a still polling")
            assert targets_served(exp.url) == {"a"}

            # A file naming a CA file that does not exist is refused as well.
            write(config, state, source("a", sim.url) + "    tls_config: {ca_file: /nope.pem}\n")
            status, body, _ = http(exp.url + "/-/reload", method="POST")
            assert status == 500 and b"tls_config" in body, body

            write(config, state, source("a", sim.url))
            status, body, _ = http(exp.url + "/-/reload", method="POST")
            assert status == 200, body
            assert metric(exp.url, "usage_exporter_config_last_reload_successful") == 1.0
        finally:
            exp.stop()


def test_reload_endpoint_needs_the_flag_and_the_credentials(tmp_path: Path) -> None:
    config, state = tmp_path / "config.yaml", tmp_path / "state"
    closed = f"http://{HOST}:9"
    write(config, state, source("a", closed, interval="60s").replace("timeout: 2s", "timeout: 1s"))
    exp = exporter(tmp_path, config, log_name="plain.log")
    try:
        assert http(exp.url + "/-/reload", method="POST")[0] == 404
    finally:
        exp.stop()

    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  ops: '{hashed}'\n")
    exp = exporter(
        tmp_path,
        config,
        "--web.config.file",
        str(web),
        "--web.enable-lifecycle",
        log_name="auth.log",
    )
    try:
        assert http(exp.url + "/-/reload", method="POST")[0] == 401
        import base64

        token = base64.b64encode(b"ops:s3cret").decode()
        status, body, _ = http(
            exp.url + "/-/reload", method="POST", headers={"Authorization": f"Basic {token}"}
        )
        assert status == 200, body
    finally:
        exp.stop()


def test_a_restart_with_another_group_by_hands_over_too(tmp_path: Path) -> None:
    """The settings a target was counted with are kept in the ledger: a restart with another
    `group_by` hands over at the first poll, like a reload (nothing counted twice)."""
    with simulator(tmp_path, extra=sim_keys()) as sim:
        config, state = tmp_path / "config.yaml", tmp_path / "state"
        write(config, state, source("a", sim.url))
        exp = exporter(tmp_path, config, log_name="first.log")
        try:
            wait_for(lambda: success_polls(exp.url, "a") >= 1, "a polled", timeout=60)
            http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
            polls = success_polls(exp.url, "a")
            wait_for(lambda: success_polls(exp.url, "a") >= polls + 2, "two polls after freeze")
            truth = family_sums(expected_series(sim.url, exp.url, "org-a", "a"))
        finally:
            exp.stop()
        narrower = [k for k in GROUP_BY if k not in ("model", "project_id")]
        write(config, state, source("a", sim.url, group_by=narrower))
        exp = exporter(tmp_path, config, log_name="second.log")
        try:
            wait_for(lambda: success_polls(exp.url, "a") >= 2, "two polls", timeout=60)
            assert_family_sums(exporter_counters(exp.url, "a"), truth)
            assert "handing over at the first poll" in exp.output()
        finally:
            exp.stop()
