"""The exporter-toolkit web config file: TLS and bcrypt basic auth on the real listener, and a
bad file refused at start."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import bcrypt
import httpx
import pytest

from tests.harness import HOST, free_port, run_argv, wait_for

CONFIG = """state_dir: {state}
sources:
  - kind: openai
    name: closed
    base_url: http://127.0.0.1:9
    api_key: sk-admin-web-test
    interval: 60s
    retries: 0
"""


def certificate(tmp: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make a test certificate")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_tls_and_basic_auth(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=6)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "state"))
    port = free_port()
    url = f"https://{HOST}:{port}"
    popen = subprocess.Popen(
        run_argv(
            config,
            port,
            "--web.config.file",
            str(web),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert)), timeout=5) as client:
            wait_for(lambda: client.get(url + "/healthz").status_code == 401, "TLS listener")
            assert client.get(url + "/metrics").status_code == 401
            assert client.get(url + "/metrics", auth=("prometheus", "wrong")).status_code == 401
            assert client.get(url + "/metrics", auth=("nobody", "s3cret")).status_code == 401
            ok = client.get(url + "/metrics", auth=("prometheus", "s3cret"))
            assert ok.status_code == 200 and b"usage_exporter_up" in ok.content
            assert ok.headers["content-type"].startswith("text/plain")
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://{HOST}:{port}/metrics", timeout=2)  # plain HTTP is not served
    finally:
        popen.terminate()
        popen.wait(timeout=15)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("basic_auth_users:\n  p: plaintext\n", "bcrypt hash"),
        (
            "tls_server_config:\n  cert_file: /nope.pem\n  key_file: /nope.key\n",
            "tls_server_config",
        ),
        ("tls_server_confg: {}\n", "tls_server_confg"),
    ],
)
def test_a_bad_web_config_exits_2_before_listening(tmp_path: Path, body: str, words: str) -> None:
    web = tmp_path / "web.yml"
    web.write_text(body)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "state"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "run",
            "--config",
            str(config),
            "--web.config.file",
            str(web),
            "--web.listen-address",
            f"{HOST}:{free_port()}",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and words in result.stderr.decode(), result.stderr
