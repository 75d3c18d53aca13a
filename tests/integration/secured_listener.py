"""What the tests of the listener behind the web config share: a self-signed certificate for
127.0.0.1, a web config with TLS and one bcrypt basic-auth user, and a config whose one target
calls a closed loopback port (the listener is what is tested, not the polls)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import bcrypt
import pytest

from tests.harness import config_file

PASSWORD = "s3cret"


def certificate(tmp: Path) -> tuple[Path, Path]:
    """(certificate, private key) for 127.0.0.1, valid for a day (openssl)."""
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


def web_config(tmp: Path, user: str) -> tuple[Path, Path]:
    """(web config file, its certificate): TLS, and `user` with `PASSWORD` (bcrypt)."""
    cert, key = certificate(tmp)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=6)).decode()
    web = tmp / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  {user}: '{hashed}'\n"
    )
    return web, cert


def closed_config(tmp: Path, api_key: str) -> Path:
    """A config of one OpenAI target on a closed port, polled once a minute, never retried."""
    target = {
        "kind": "openai",
        "name": "closed",
        "base_url": "http://127.0.0.1:9",
        "api_key": api_key,
        "interval": "60s",
        "retries": 0,
    }
    return config_file(tmp, target)
