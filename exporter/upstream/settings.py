"""How one target talks to its upstream: the client's settings, built from the source's config
(`exporter.plugin.upstream_settings`), and its Prometheus-style `tls_config`."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """Prometheus-style `tls_config` of a source: files are read when the client is built."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False

    def context(self) -> ssl.SSLContext:
        """The SSL context for the upstream; OSError/ssl.SSLError name the file on failure."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """How one target talks to its upstream (built from the source's config)."""

    target: str
    source: str
    base_url: str
    headers: Mapping[str, str]
    secret: str
    timeout: float = 30.0
    retries: int = 3
    max_concurrency: int = 2
    max_body_bytes: int = 32 * 1024 * 1024
    max_retry_after: float = 60.0
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    rate_limit_header: str = ""
    # what a refused call most likely means for this vendor, by status (from the source module)
    hints: Mapping[int, str] = field(default_factory=dict)
    proxy: str | None = None  # proxy URL; None: no proxy (unless trust_env)
    trust_env: bool = False  # honour HTTPS_PROXY/HTTP_PROXY/NO_PROXY (and SSL_CERT_FILE)
    tls: TLSSettings | None = None

    def __repr__(self) -> str:
        return f"UpstreamSettings(target={self.target!r}, base_url={self.base_url!r})"
