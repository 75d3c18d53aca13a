"""Corporate networks: the exporter reaches the simulator served over TLS by a test CA, with a
client certificate, a `server_name` override, through a real forward proxy on loopback
(`proxy_url`, or `HTTPS_PROXY` with `proxy_from_environment`), and the API key never crosses
the proxy in clear text. Each setting is shown to matter: without it the same target fails."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.harness import (
    HOST,
    Process,
    exporter,
    exporter_argv,
    free_port,
    http_json,
    parse_samples,
    running,
    scrape,
    success_polls,
    wait_for,
)
from tests.openai_expected import GROUP_BY, assert_exact

KEY = "sk-admin-tls-proxy-SECRET-9d41"
ORG = "org-tls"


def openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.fail("openssl is needed to make the test certificates")
    subprocess.run([binary, *args], check=True, capture_output=True, timeout=60)


def make_pki(tmp: Path) -> dict[str, Path]:
    """A test CA, two server certificates and a client certificate, all signed by the CA."""
    files = {n: tmp / f"{n}.pem" for n in ("ca", "ca-key")}
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
        "-keyout", str(files["ca-key"]), "-out", str(files["ca"]),
    )  # fmt: skip
    for name, san in (
        ("server", "DNS:sim.test,IP:127.0.0.1"),  # what base_url says
        ("named", "DNS:only.sim.test"),  # needs server_name
        ("client", ""),
    ):
        key, csr, cert = tmp / f"{name}-key.pem", tmp / f"{name}.csr", tmp / f"{name}.pem"
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", str(key), "-out", str(csr),
        )  # fmt: skip
        extensions = tmp / f"{name}.ext"
        extensions.write_text(f"subjectAltName={san}\n" if san else "extendedKeyUsage=clientAuth\n")
        openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(files["ca"]), "-CAkey",
            str(files["ca-key"]), "-CAcreateserial", "-days", "2", "-out", str(cert),
            "-extfile", str(extensions),
        )  # fmt: skip
        files[name], files[f"{name}-key"] = cert, key
    return files


@contextmanager
def tls_simulator(
    tmp: Path, pki: dict[str, Path], cert: str, client_ca: bool, log: str
) -> Iterator[Process]:
    """The simulator over TLS; ready once its port accepts connections (an HTTP probe would
    need the certificate this test is about)."""
    port = free_port()
    extra = ["--tls-client-ca-file", str(pki["ca"])] if client_ca else []
    argv = exporter_argv(
        "simulate", "--web.listen-address", f"{HOST}:{port}", "--seed", "3",
        "--openai-key", f"{KEY}={ORG}", "--tls-cert-file", str(pki[cert]),
        "--tls-key-file", str(pki[f"{cert}-key"]), *extra,
    )  # fmt: skip
    handle = (tmp / log).open("wb")
    popen = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT)
    process = Process("simulator", popen, tmp / log, f"https://{HOST}:{port}")

    def listening() -> bool:
        process.check()
        with socket.create_connection((HOST, port), timeout=1):
            return True

    try:
        wait_for(listening, f"the TLS simulator on {port}", timeout=30)
        yield process
    finally:
        process.stop()


def proxy(tmp: Path, name: str):
    port = free_port()
    argv = [sys.executable, "-m", "tests.forward_proxy", "--port", str(port), "--record"]
    argv.append(str(tmp / f"{name}.bytes"))
    return running(name, argv, tmp / f"{name}.log", f"http://{HOST}:{port}")


def source(name: str, url: str, extra: str = "") -> str:
    return (
        f"  - kind: openai\n    name: {name}\n    base_url: {url}\n    api_key: {KEY}\n"
        "    interval: 6s\n    timeout: 5s\n    retries: 0\n    bucket_width: 1h\n"
        f"    backfill: 1d\n    group_by: [{', '.join(GROUP_BY)}]\n" + extra
    )


def up(url: str) -> dict[str, float]:
    return {
        dict(labels)["target"]: value
        for (name, labels), value in parse_samples(scrape(url)).items()
        if name == "usage_exporter_up"
    }


def test_tls_options_and_proxies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pki = make_pki(tmp_path)
    ca = f"    tls_config:\n      ca_file: {pki['ca']}\n"
    client = f"      cert_file: {pki['client']}\n      key_file: {pki['client-key']}\n"
    # The test's own truth queries trust the test CA; the exporter is given no such default.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"]))
    no_default_ca = {"SSL_CERT_FILE": str(tmp_path / "no-such-ca.pem")}
    with (
        tls_simulator(tmp_path, pki, "server", False, "sim.log") as sim,
        tls_simulator(tmp_path, pki, "named", True, "sim-named.log") as named,
        proxy(tmp_path, "proxy") as fwd,
        proxy(tmp_path, "envproxy") as envfwd,
    ):
        config = tmp_path / "config.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n"
            + source("ca", sim.url, ca)
            + source("noca", sim.url)
            + source("proxied", sim.url, ca + f"    proxy_url: {fwd.url}\n")
            + source("envproxy", sim.url, ca + "    proxy_from_environment: true\n")
            + source("mtls", named.url, ca + client + "      server_name: only.sim.test\n")
            + source("nocert", named.url, ca + "      server_name: only.sim.test\n")
            + source("wrongname", named.url, ca + client)
            + source(
                "insecure",
                sim.url,
                "    tls_config:\n      insecure_skip_verify: true\n",
            )
        )
        exp = exporter(
            tmp_path, config, env={**no_default_ca, "HTTPS_PROXY": envfwd.url, "NO_PROXY": ""}
        )
        try:
            ok = ("ca", "proxied", "envproxy", "mtls", "insecure")
            for target in ok:
                wait_for(
                    lambda t=target: success_polls(exp.url, t) >= 1, f"{target} polled", timeout=60
                )
            for target in ok:  # (a poll may time out on this busy machine: the next one is up)
                wait_for(lambda t=target: up(exp.url)[t] == 1.0, f"{target} up", timeout=60)
            states = up(exp.url)
            # Without the CA, the client certificate or the server name, the same upstream fails.
            for target in ("noca", "nocert", "wrongname"):
                assert states[target] == 0.0, (target, states)
            log = exp.output()
            assert "CERTIFICATE VERIFICATION IS OFF" in log
            assert "insecure_skip_verify" in log

            http_json(f"{sim.url}/_sim/clock", method="POST", body={"freeze": True})
            polls = {t: success_polls(exp.url, t) for t in ("ca", "proxied", "envproxy")}
            for t, n in polls.items():
                wait_for(lambda t=t, n=n: success_polls(exp.url, t) >= n + 2, f"{t} settled")
            for target in ("ca", "proxied", "envproxy", "insecure"):
                assert_exact(sim.url, exp.url, ORG, target)
        finally:
            exp.stop()
        sim_port = sim.url.rsplit(":", 1)[1]
        for name in ("proxy", "envproxy"):
            seen = (tmp_path / f"{name}.bytes").read_bytes()
            assert f"CONNECT 127.0.0.1:{sim_port}".encode() in seen, name
            assert KEY.encode() not in seen, f"{name} saw the API key in clear text"
            assert b"Bearer" not in seen and b"/v1/organization" not in seen

    # NO_PROXY: with the upstream's host listed, the environment's proxy is not used.
    with (
        tls_simulator(tmp_path, pki, "server", False, "sim2.log") as sim,
        proxy(tmp_path, "bypassed") as fwd,
    ):
        config = tmp_path / "noproxy.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state2'}\nsources:\n"
            + source("direct", sim.url, ca + "    proxy_from_environment: true\n")
        )
        env = {**no_default_ca, "HTTPS_PROXY": fwd.url, "NO_PROXY": "127.0.0.1"}
        exp = exporter(tmp_path, config, env=env, log_name="noproxy.log")
        try:
            wait_for(lambda: success_polls(exp.url, "direct") >= 1, "direct polled", timeout=60)
        finally:
            exp.stop()
        record = tmp_path / "bypassed.bytes"
        assert not record.exists() or b"CONNECT" not in record.read_bytes()


def test_a_plain_http_proxy_sees_the_key_so_the_docs_say_use_https(tmp_path: Path) -> None:
    """The other side of the promise: over plain http the proxy does see the request (which
    is why docs/configuration.md says the key is only protected over https)."""
    from tests.harness import simulator

    with (
        simulator(tmp_path, extra=("--openai-key", f"{KEY}={ORG}")) as sim,
        proxy(tmp_path, "plain") as fwd,
    ):
        config = tmp_path / "plain.yaml"
        config.write_text(
            f"state_dir: {tmp_path / 'state'}\nsources:\n"
            + source("plain", sim.url, f"    proxy_url: {fwd.url}\n")
        )
        exp = exporter(tmp_path, config, log_name="plain.log")
        try:
            wait_for(lambda: success_polls(exp.url, "plain") >= 1, "plain polled", timeout=60)
        finally:
            exp.stop()
    seen = (tmp_path / "plain.bytes").read_bytes()
    assert b"GET http://127.0.0.1:" in seen and KEY.encode() in seen
