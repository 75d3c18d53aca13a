"""The listener's protection, from a Prometheus exporter-toolkit web config file.

Supports `tls_server_config` (cert_file, key_file, client_ca_file, client_auth_type, min_version,
max_version) and `basic_auth_users` (bcrypt hashes), so operators reuse the file they already have
for node_exporter. A mistake in the file fails at start with the key named. Wrong or missing
credentials get 401; every attempt costs one bcrypt check, known user or not.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ssl
from pathlib import Path
from typing import Any, Literal

import bcrypt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.types import ASGIApp, Receive, Scope, Send

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


class TLSServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    client_auth_type: Literal[
        "NoClientCert",
        "RequestClientCert",
        "RequireAnyClientCert",
        "VerifyClientCertIfGiven",
        "RequireAndVerifyClientCert",
    ] = "NoClientCert"
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS12"
    max_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS13"


class WebConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tls_server_config: TLSServerConfig | None = None
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    http_server_config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ValueError(f"user {user!r}: the password must be a bcrypt hash")
        return users

    def ssl_context(self) -> ssl.SSLContext | None:
        tls = self.tls_server_config
        if tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = TLS_VERSIONS[tls.min_version]
        context.maximum_version = TLS_VERSIONS[tls.max_version]
        context.load_cert_chain(tls.cert_file, tls.key_file)
        context.verify_mode = CLIENT_AUTH[tls.client_auth_type]
        if tls.client_ca_file is not None:
            context.load_verify_locations(tls.client_ca_file)
        return context


def load_web_config(path: Path) -> WebConfigFile:
    """Read and check the file, and build the TLS context once, so that errors show at start."""
    # Imported here: the config model brings every vendor plug-in, which the listener process
    # (exporter/http/listener_main.py) would otherwise import for this one class.
    from exporter.config.load import ConfigError

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(f"--web.config.file {path}: cannot read: {err.strerror}") from None
    except yaml.YAMLError:
        raise ConfigError(f"--web.config.file {path}: not valid YAML") from None
    try:
        config = WebConfigFile.model_validate(raw)
    except ValidationError as err:
        first = err.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"--web.config.file {path}: {where}: {first['msg']}") from None
    try:
        config.ssl_context()
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"--web.config.file {path}: tls_server_config: {err}") from None
    return config


def _cost(hashed: bytes) -> int:
    """The cost of a `$2b$12$...` bcrypt hash (10 if it cannot be read)."""
    parts = hashed.split(b"$")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else 10


class BasicAuth:
    """ASGI middleware: HTTP basic auth against bcrypt hashes (verified results are cached)."""

    def __init__(self, app: ASGIApp, users: dict[str, str]) -> None:
        self.app = app
        self.users = {u: h.encode() for u, h in users.items()}
        self._verified: set[tuple[str, bytes]] = set()
        # Checked against when the user is unknown, at the configured hashes' highest cost,
        # so that a wrong name costs what a wrong password does.
        cost = max((_cost(h) for h in self.users.values()), default=10)
        self.dummy_hash = bcrypt.hashpw(b"usage-exporter", bcrypt.gensalt(rounds=cost))

    async def _allowed(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        digest = hmac.new(b"usage-exporter", password.encode(), "sha256").digest()
        if (user, digest) in self._verified:
            return True
        hashed = self.users.get(user)
        # bcrypt is slow on purpose: check off the event loop so scrapes keep being served
        against = hashed or self.dummy_hash
        matched = await asyncio.to_thread(bcrypt.checkpw, password.encode(), against)
        ok = matched and hashed is not None
        if ok:
            self._verified.add((user, digest))
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        header = headers.get(b"authorization", b"").decode("latin-1")
        if await self._allowed(header):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"www-authenticate", b'Basic realm="usage-exporter"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"Unauthorized\n"})
