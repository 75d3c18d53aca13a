"""No credential in any output, for every source kind and every way of giving a key.

Wider than test_daemon_process.py::test_the_admin_key_appears_in_no_output_even_at_debug (one
OpenAI key): a distinct canary per key of all four kinds (literal, `${VAR}`, `api_key_file`),
wrong keys that the simulator refuses (401) or that lack the role (403), the Telnyx key that
travels in an S3 `Credential=` header, and a basic-auth password for the listener. The real
process runs at `--log.level debug` in logfmt and JSON; then every log, every endpoint (text,
OpenMetrics, gzip), `once`, `check-config` and start-up errors, and the repr/str of the config
objects, the daemon's parts and the raised UpstreamError/ConfigError are searched for every
canary.
"""

from __future__ import annotations

import base64
import gzip
import os
import subprocess
import time
import traceback
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from exporter.config.load import ConfigError, load_config
from exporter.daemon import Daemon
from exporter.daemon.windows import next_window
from exporter.http.server import serve
from exporter.http.webconfig import load_web_config
from exporter.plugin import Plugin
from exporter.simulator.app import SimulatorConfig, create_app
from exporter.upstream import UpstreamError
from exporter.vendors import REGISTRY
from tests.harness import exporter, exporter_argv, http, parse_samples, simulator, wait_for

CANARY = {
    "openai": "sk-admin-CANARY-openai-4f1d9a7c2e",
    "openai_wrong": "sk-admin-CANARY-openai-wrong-8b3e5d",
    "arthur": "CANARY-arthur-auditor-6a2f8c1e",
    "arthur_role": "CANARY-arthur-validation-3d9b7e",
    "telnyx": "KEYCANARYtelnyx5c3a9e1d7f",
    "telnyx_wrong": "KEYCANARYtelnyxwrong2b8d4f",
    "anylayer": "zk_CANARY_anylayer_8e2a6c4d",
    "anylayer_wrong": "zk_CANARY_anylayer_wrong_1f7b",
    "web_password": "CANARY-web-password-9c4e2a",
    "web_wrong_password": "CANARY-web-wrong-password-5e1d",
}
KEYS = {k: v for k, v in CANARY.items() if not k.startswith("web_")}
ENV = {"USAGE_CANARY_OPENAI": CANARY["openai"]}
GOOD = ("oa-env", "ar-file", "tx-lit", "al-file")
BAD = ("oa-wrong", "ar-role", "tx-wrong-auto", "tx-wrong", "al-wrong")
USER = "prometheus"
# bcrypt with few rounds: the test pays for one check per wrong password.
HASH = bcrypt.hashpw(CANARY["web_password"].encode(), bcrypt.gensalt(rounds=4)).decode()


def simulator_keys() -> tuple[str, ...]:
    return (
        "--openai-key",
        f"{CANARY['openai']}=org-canary",
        "--arthur-key",
        f"{CANARY['arthur']}=engine-canary",
        "--arthur-key",
        f"{CANARY['arthur_role']}=engine-canary:VALIDATION-USER",
        "--telnyx-key",
        f"{CANARY['telnyx']}=acct-canary",
        "--anylayer-key",
        f"{CANARY['anylayer']}=acct-canary",
    )


def key_file(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.key"
    path.write_text(CANARY[name] + "\n")
    return path


def write_config(tmp: Path, sim_url: str, extra: str = "", name: str = "canary.yaml") -> Path:
    """Every kind, every way of giving the key, good targets and refused ones."""
    s3 = f"{sim_url}/s3/{{region}}"
    common = f"    base_url: {sim_url}\n    interval: 3s\n    timeout: 3s\n    backfill: 6h\n"
    bad = common + "    retries: 0\n"
    config = tmp / name
    config.write_text(
        f"state_dir: {tmp / 'state'}\n"
        "sources:\n"
        "  - kind: openai\n    name: oa-env\n    api_key: ${USAGE_CANARY_OPENAI}\n"
        f"    endpoints: [completions, costs]\n{common}"
        f"  - kind: arthur\n    name: ar-file\n    api_key_file: {key_file(tmp, 'arthur')}\n"
        f"{common}"
        f"  - kind: telnyx\n    name: tx-lit\n    api_key: {CANARY['telnyx']}\n"
        f"    buckets: auto\n    s3_endpoint: '{s3}'\n{common}"
        f"  - kind: anylayer\n    name: al-file\n    api_key_file: {key_file(tmp, 'anylayer')}\n"
        f"    key_ids: [key_8f3a]\n{common}"
        f"  - kind: openai\n    name: oa-wrong\n    api_key: {CANARY['openai_wrong']}\n"
        f"    endpoints: [completions]\n{bad}"
        f"  - kind: arthur\n    name: ar-role\n    api_key_file: {key_file(tmp, 'arthur_role')}\n"
        f"{bad}"
        f"  - kind: telnyx\n    name: tx-wrong-auto\n    api_key: {CANARY['telnyx_wrong']}\n"
        f"    buckets: auto\n    s3_endpoint: '{s3}'\n{bad}"
        f"  - kind: telnyx\n    name: tx-wrong\n    api_key: {CANARY['telnyx_wrong']}\n"
        f"    buckets: [app-logs]\n{bad}"
        f"  - kind: anylayer\n    name: al-wrong\n"
        f"    api_key_file: {key_file(tmp, 'anylayer_wrong')}\n{bad}" + extra
    )
    return config


def write_web_config(tmp: Path, hashed: str = HASH) -> Path:
    path = tmp / "web.yaml"
    path.write_text(f"basic_auth_users:\n  {USER}: '{hashed}'\n")
    return path


def basic(password: str) -> dict[str, str]:
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic(CANARY["web_password"])


def leaks(outputs: dict[str, str], canaries: dict[str, str] = CANARY) -> list[tuple[str, str]]:
    return [
        (where, name)
        for where, text in outputs.items()
        for name, canary in canaries.items()
        if canary in text
    ]


def polls(url: str, target: str, result: str) -> float:
    status, body, _ = http(url + "/metrics", headers=AUTH)
    assert status == 200, status
    return sum(
        value
        for (name, labels), value in parse_samples(body.decode()).items()
        if name == "usage_exporter_polls_total"
        and ("target", target) in labels
        and ("result", result) in labels
    )


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        exporter_argv(*args),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_no_canary_in_any_output_of_the_process(tmp_path: Path) -> None:
    outputs: dict[str, str] = {}
    with simulator(tmp_path, extra=simulator_keys()) as sim:
        config = write_config(tmp_path, sim.url)
        web = write_web_config(tmp_path)
        for fmt in ("logfmt", "json"):
            exp = exporter(
                tmp_path,
                config,
                "--web.config.file",
                str(web),
                "--log.level",
                "debug",
                "--log.format",
                fmt,
                log_name=f"run-{fmt}.log",
                env=ENV,
            )
            try:
                for target in GOOD:
                    wait_for(
                        lambda t=target, url=exp.url: polls(url, t, "success") >= 1,
                        f"a successful poll of {target}",
                        timeout=60,
                    )
                for target in BAD:
                    wait_for(
                        lambda t=target, url=exp.url: polls(url, t, "failure") >= 1,
                        f"a failed poll of {target}",
                        timeout=60,
                    )
                openmetrics = {"Accept": "application/openmetrics-text; version=1.0.0"}
                zipped = {"Accept-Encoding": "gzip"}
                text = http(exp.url + "/metrics", headers=AUTH)[1]
                om = http(exp.url + "/metrics", headers={**AUTH, **openmetrics})[1]
                text_gz = http(exp.url + "/metrics", headers={**AUTH, **zipped})[1]
                om_gz = http(exp.url + "/metrics", headers={**AUTH, **openmetrics, **zipped})[1]
                outputs |= {
                    f"{fmt} /metrics": text.decode(),
                    f"{fmt} /metrics openmetrics": om.decode(),
                    f"{fmt} /metrics gzip": gzip.decompress(text_gz).decode(),
                    f"{fmt} /metrics openmetrics gzip": gzip.decompress(om_gz).decode(),
                }
                for path in ("/", "/readyz", "/healthz"):
                    status, body, headers = http(exp.url + path, headers=AUTH)
                    assert status == 200, (path, status)
                    outputs[f"{fmt} {path}"] = body.decode() + repr(headers)
                # Credentials sent to the listener that it refuses: wrong password, an API key.
                for name, headers in (
                    ("wrong password", basic(CANARY["web_wrong_password"])),
                    ("bearer key", {"Authorization": f"Bearer {CANARY['openai']}"}),
                ):
                    status, body, answer = http(exp.url + "/metrics", headers=headers)
                    assert status == 401, (name, status)
                    outputs[f"{fmt} 401 {name}"] = body.decode() + repr(answer)
            finally:
                exp.stop()
            log = exp.output()
            outputs[f"{fmt} log"] = log
            assert "poll failed" in log and "poll finished" in log
            assert "level=debug" in log or '"level": "debug"' in log, "debug lines were written"

        for fmt in ("logfmt", "json"):
            flags = ("--log.level", "debug", "--log.format", fmt)
            result = run_cli(*flags, "once", "--config", str(config), env=ENV)
            assert result.returncode == 1, result.stderr[-2000:]
            assert "openai_input_tokens_total" in result.stdout
            for target in BAD:
                assert target in result.stderr
            outputs[f"once {fmt} stdout"] = result.stdout
            outputs[f"once {fmt} stderr"] = result.stderr

    # Every refused target says why, without the key.
    log = outputs["logfmt log"]
    for hint in ("401", "403", "the API key was refused", "lacks the usage-read permission"):
        assert hint in log, hint
    assert not leaks(outputs), leaks(outputs)
    assert not leaks(outputs, {"bcrypt hash": HASH}), "the password hash stays in its file"


def test_no_canary_in_configuration_errors(tmp_path: Path) -> None:
    sim_url = "http://127.0.0.1:9"  # never called: every command here stops at validation
    outputs: dict[str, str] = {}
    good = write_config(tmp_path, sim_url)
    web = write_web_config(tmp_path)
    broken_source = (
        "  - kind: anylayer\n    name: broken\n"
        f"    api_key: {CANARY['anylayer']}\n    api_key_file: {tmp_path / 'anylayer.key'}\n"
        "    interval: soon\n    timeframe: 2h\n"
    )
    broken = write_config(tmp_path, sim_url, extra=broken_source, name="broken.yaml")
    broken_web = tmp_path / "broken-web.yaml"
    broken_web.write_text(f"basic_auth_users:\n  {USER}: {CANARY['web_password']}\n")
    for fmt in ("logfmt", "json"):
        flags = ("--log.level", "debug", "--log.format", fmt)
        ok = run_cli(*flags, "check-config", str(good), env=ENV)
        assert ok.returncode == 0 and ok.stdout.startswith("config OK: 9 sources"), ok
        cases = {
            "check-config": ("check-config", str(broken)),
            "run": ("run", "--config", str(broken), "--web.listen-address", "127.0.0.1:0"),
            "once": ("once", "--config", str(broken)),
            "run web": (
                "run",
                "--config",
                str(good),
                "--web.config.file",
                str(broken_web),
                "--web.listen-address",
                "127.0.0.1:0",
            ),
        }
        outputs[f"{fmt} check-config ok"] = ok.stdout + ok.stderr
        for name, args in cases.items():
            result = run_cli(*flags, *args, env=ENV)
            assert result.returncode == 2, (name, result)
            assert result.stderr.startswith("usage-exporter: error: "), (name, result.stderr)
            outputs[f"{fmt} {name}"] = result.stdout + result.stderr
        unset = run_cli(*flags, "check-config", str(good))  # ${USAGE_CANARY_OPENAI} unset
        assert unset.returncode == 2 and "USAGE_CANARY_OPENAI" in unset.stderr, unset
        outputs[f"{fmt} unset"] = unset.stdout + unset.stderr
    assert "sources[9] (broken).interval" in outputs["logfmt check-config"]
    assert "basic_auth_users" in outputs["logfmt run web"]
    assert not leaks(outputs), leaks(outputs)

    # The same errors raised in-process: their str, repr and traceback.
    errors: list[BaseException] = []
    for path, env in ((broken, ENV), (good, {})):
        with pytest.raises(ConfigError) as raised:
            load_config(path, env)
        errors.append(raised.value)
    with pytest.raises(ConfigError) as raised:
        load_web_config(broken_web)
    errors.append(raised.value)
    described = {f"error {i}": describe(e) for i, e in enumerate(errors)}
    assert not leaks(described), leaks(described)
    assert not leaks({"web config": describe(load_web_config(web))})


def describe(thing: Any) -> str:
    text = f"{thing!r}\n{thing!s}\n"
    if isinstance(thing, BaseException):
        text += "".join(traceback.format_exception(thing)) + repr(thing.args)
        text += repr(getattr(thing, "message", ""))
    return text


async def test_no_canary_in_reprs_and_raised_upstream_errors(tmp_path: Path) -> None:
    with simulator(tmp_path, extra=simulator_keys()) as sim:
        config = load_config(write_config(tmp_path, sim.url), ENV)
        assert [s.secret() for s in config.sources][:4] == [
            CANARY[k] for k in ("openai", "arthur", "telnyx", "anylayer")
        ], "the keys were loaded, from every kind of place"
        outputs: dict[str, str] = {
            "config": describe(config),
            "config json": config.model_dump_json(),
            "config dump": repr(config.model_dump()),
        }
        for source in config.sources:
            outputs[f"source {source.name}"] = describe(source) + describe(source.api_key)
        daemon = Daemon(config)
        try:
            outputs["targets"] = describe(daemon.targets)
            for target in daemon.targets:
                outputs[f"parts {target.name}"] = "".join(
                    describe(part)
                    for part in (target, target.source, target.upstream, target.upstream.settings)
                )
            assert not await daemon.poll_all()
            for name, status in daemon.state.targets.items():
                assert status.up == (name in GOOD), (name, status.last_error)
                outputs[f"status {name}"] = describe(status)
            raised: list[UpstreamError] = []
            for target in daemon.targets:
                if target.name not in BAD:
                    continue
                try:
                    for stream in await target.source.streams():
                        window = next_window(
                            stream, int(time.time()), daemon.ledger.cursor(target.name, stream.name)
                        )
                        await target.source.read(stream, window)
                except UpstreamError as err:
                    raised.append(err)
            assert {err.status for err in raised} == {401, 403}, [str(e) for e in raised]
            assert len(raised) == len(BAD)
            for i, error in enumerate(raised):
                outputs[f"UpstreamError {i}"] = describe(error)
        finally:
            await daemon.aclose()
        outputs["ledger"] = describe(daemon.ledger)
    assert not leaks(outputs), leaks(outputs)


@pytest.mark.parametrize("plugin", list(REGISTRY), ids=lambda p: p.kind)
async def test_no_canary_of_any_registered_kind_in_the_daemons_outputs(
    plugin: Plugin[Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every registered kind, from the registry: a key its twin accepts and one it refuses."""
    canaries = {"good": f"CANARY-{plugin.kind}-good-7e3f1a", "wrong": f"CANARY-{plugin.kind}-2c9a"}
    who = next(iter(plugin.twin.default_keys.values()))
    sim = SimulatorConfig(seed=3, keys={plugin.kind: {canaries["good"]: who}})
    listener = await serve(create_app(sim), "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.servers[0].sockets[0].getsockname()[1]}"
    common = {"base_url": url, "interval": "3s", "timeout": "3s", "backfill": "6h", "retries": 0}
    entries = [
        {"kind": plugin.kind, "name": name, "api_key": canary, **plugin.example, **common}
        for name, canary in canaries.items()
    ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "sources": entries}))
    caplog.set_level("DEBUG")
    try:
        config = load_config(path)
        daemon = Daemon(config)
        try:
            assert not await daemon.poll_all(), "the refused key fails its target"
            exposition = daemon.state.exposition
            assert exposition is not None
            outputs = {
                "text": exposition.text.decode(),
                "openmetrics": exposition.openmetrics.decode(),
                "log records": "\n".join(repr(r.__dict__) for r in caplog.records),
                "config": describe(config) + config.model_dump_json(),
                "targets": "".join(describe(t) + describe(t.upstream) for t in daemon.targets),
                "state": repr(daemon.state.__dict__),
            }
        finally:
            await daemon.aclose()
    finally:
        listener.should_exit = True
        await listener.task
    assert f'result="success",source="{plugin.kind}",target="good"' in outputs["text"]
    assert f'result="failure",source="{plugin.kind}",target="wrong"' in outputs["text"]
    assert not leaks(outputs, canaries), leaks(outputs, canaries)
