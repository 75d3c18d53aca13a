"""The exporter-toolkit web config file: TLS and bcrypt basic auth on the real listener, and a
bad file refused at start."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.harness import HOST, free_port, run_argv, run_until_exit, wait_for
from tests.integration.secured_listener import PASSWORD, closed_config, web_config


def test_tls_and_basic_auth(tmp_path: Path) -> None:
    web, cert = web_config(tmp_path, "prometheus")
    config = closed_config(tmp_path, "sk-admin-web-test")
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
            assert client.get(url + "/metrics", auth=("nobody", PASSWORD)).status_code == 401
            ok = client.get(url + "/metrics", auth=("prometheus", PASSWORD))
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
    config = closed_config(tmp_path, "sk-admin-web-test")
    result = run_until_exit(config, "--web.config.file", str(web))
    assert result.returncode == 2 and words in result.stderr, result.stderr
