"""The real daemon process against the simulator over loopback.

Crash safety (SIGKILL between polls and in the middle of one), isolation of a failing target,
config errors at start, and the admin key's absence from every output.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.harness import (
    exporter,
    exporter_argv,
    http,
    http_json,
    parse_samples,
    queue_faults,
    run_to_end,
    run_until_exit,
    scrape,
    simulator,
    success_polls,
    wait_for,
)
from tests.openai_expected import assert_exact, exporter_counters, write_config

KEY = "sk-admin-CANARY-7f3e9d2c5b"


def test_sigkill_between_and_during_polls_loses_and_doubles_nothing(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--openai-key", f"{KEY}=org-crash")) as sim:
        config = write_config(tmp_path, sim.url, KEY, name="crash", interval="2s", timeout="2s")
        exp = exporter(tmp_path, config, log_name="run1.log")
        try:
            wait_for(lambda: success_polls(exp.url) >= 2, "two polls", timeout=60)
            before = exporter_counters(exp.url, "crash")
            exp.kill()  # between polls (or at worst in one: both must be safe)

            exp = exporter(tmp_path, config, log_name="run2.log")
            wait_for(lambda: success_polls(exp.url) >= 1, "a poll after restart", timeout=60)
            after = exporter_counters(exp.url, "crash")
            resets = [k for k, v in before.items() if after.get(k, 0) < v]
            assert not resets, f"counters went backwards after restart: {resets[:10]}"

            # Kill in the middle of a poll: the costs call hangs, the rest is in flight.
            delay = {"kind": "delay", "seconds": 6, "path_contains": "costs", "count": 1}
            queue_faults(sim.url, "openai", [delay])

            def delayed_call_started() -> bool:
                stats = http_json(f"{sim.url}/_sim/stats")
                injected = stats.get("faults_injected", stats.get("faults", {}))
                return int(injected.get("delay", 0)) >= 1

            wait_for(delayed_call_started, "a poll to be in flight", timeout=30, every=0.05)
            exp.kill()

            exp = exporter(tmp_path, config, log_name="run3.log")
            http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
            wait_for(lambda: success_polls(exp.url) >= 2, "two polls after the freeze", timeout=60)
            assert_exact(sim.url, exp.url, "org-crash", "crash")
        finally:
            exp.stop()


def test_a_failing_target_is_down_alone_and_keeps_its_last_values(tmp_path: Path) -> None:
    with (
        simulator(tmp_path, extra=("--openai-key", f"{KEY}=org-a"), log_name="sim-a.log") as a,
        simulator(tmp_path, extra=("--openai-key", f"{KEY}=org-b"), log_name="sim-b.log") as b,
    ):
        config = tmp_path / "two.yaml"
        common = (
            "    api_key: ${USAGE_KEY}\n    interval: 2s\n    timeout: 1s\n"
            "    retries: 0\n    backfill: 1d\n"
        )
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n"
            f"  - kind: openai\n    name: alpha\n    base_url: {a.url}\n{common}"
            f"  - kind: openai\n    name: beta\n    base_url: {b.url}\n{common}"
        )
        exp = exporter(tmp_path, config, env={"USAGE_KEY": KEY})
        try:
            wait_for(lambda: success_polls(exp.url, "beta") >= 1, "beta polled", timeout=60)
            beta_before = exporter_counters(exp.url, "beta")
            assert beta_before
            b.kill()  # beta's upstream vanishes
            wait_for(lambda: up(exp.url, "beta") == 0.0, "beta down", timeout=30)
            wait_for(
                lambda: success_polls(exp.url, "alpha") >= 3, "alpha still polling", timeout=30
            )
            assert up(exp.url, "alpha") == 1.0
            assert exp.popen.poll() is None, "the daemon must stay up"
            beta_after = exporter_counters(exp.url, "beta")
            assert all(beta_after.get(k) == v for k, v in beta_before.items()), (
                "last good values must still be served"
            )
            status, body, _ = http(exp.url + "/")
            assert status == 200 and b"beta" in body
        finally:
            exp.stop()


def polled_once(url: str) -> bool:
    return success_polls(url) >= 1


def up(url: str, target: str) -> float:
    samples = parse_samples(scrape(url))
    return next(
        v
        for (name, labels), v in samples.items()
        if name == "usage_exporter_up" and ("target", target) in labels
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("sources:\n  - kind: openai\n    name: x\n    api_key: k\n    colour: blue\n", "colour"),
        (
            "sources:\n  - kind: openai\n    name: x\n    api_key: k\n    interval: soon\n",
            "interval",
        ),
        ("sources:\n  - kind: openai\n    api_key: k\n", "name"),
        (
            "sources:\n  - kind: openai\n    name: x\n    api_key: k\n    base_url: ftp://nope\n",
            "base_url",
        ),
    ],
)
def test_bad_config_exits_2_naming_the_field_before_listening(
    tmp_path: Path, body: str, field: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(body)
    result = run_until_exit(config)
    assert result.returncode == 2, result
    assert field in result.stderr
    assert result.stderr.count("\n") <= 2, "one clear line, not a traceback"


def test_the_admin_key_appears_in_no_output_even_at_debug(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=("--openai-key", f"{KEY}=org-secret")) as sim:
        failing = [{"kind": "status", "status": 500, "count": 2}, {"kind": "malformed", "count": 1}]
        queue_faults(sim.url, "openai", failing)
        outputs: list[str] = []
        for fmt in ("logfmt", "json"):
            config = write_config(
                tmp_path, sim.url, KEY, name=f"secret-{fmt}", interval="3s", timeout="3s"
            )
            exp = exporter(
                tmp_path,
                config,
                "--log.level",
                "debug",
                "--log.format",
                fmt,
                log_name=f"secret-{fmt}.log",
            )
            try:
                wait_for(partial(polled_once, exp.url), "a poll", timeout=60)
                outputs += [
                    scrape(exp.url),
                    scrape(exp.url, openmetrics=True),
                    http(exp.url + "/")[1].decode(),
                    http(exp.url + "/readyz")[1].decode(),
                ]
            finally:
                exp.stop()
            outputs.append(exp.output())
        # A wrong key: the upstream's 401 message must not carry it into our logs either.
        wrong = write_config(
            tmp_path, sim.url, KEY + "-wrong", name="wrong", interval="2s", timeout="2s"
        )
        result = run_to_end(
            exporter_argv("--log.level", "debug", "once", "--config", str(wrong)), timeout=120
        )
        assert result.returncode != 0
        outputs += [result.stdout, result.stderr]
        assert "poll failed" in result.stderr or "401" in result.stderr
    leaks = [i for i, text in enumerate(outputs) if KEY in text]
    assert not leaks, f"the key leaked into outputs {leaks}"
    assert any("poll" in text for text in outputs)


def test_a_state_file_that_is_not_ours_is_refused_with_a_message(tmp_path: Path) -> None:
    """Never a silent reset and never a traceback: exit 1 naming the file."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "ledger.sqlite").write_bytes(b"not a database, " * 64)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"state_dir: {state}\nsources:\n"
        "  - {kind: anylayer, name: a, api_key: k, key_ids: [x], base_url: 'http://127.0.0.1:9'}\n"
    )
    done = run_to_end(exporter_argv("once", "--config", str(config)))
    assert done.returncode == 1, done.stderr
    assert "ledger.sqlite: not a usage-exporter state file" in done.stderr
    assert "Traceback" not in done.stderr
    assert (state / "ledger.sqlite").read_bytes() == b"not a database, " * 64
