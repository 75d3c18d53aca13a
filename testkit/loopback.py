"""Exporter processes started by the tests and benchmarks call nothing beyond loopback.

pytest-socket refuses such connections inside the test process; the exporter's own processes
are guarded here, through their config: before `run` or `once` starts, every endpoint key of
every source (`exporter.plugin.endpoints`: `base_url` and the plug-in's others, such as Telnyx's
`s3_endpoint`) and any proxy must resolve to a loopback host. A key left at its default names
the vendor's real host and is refused, with the key to set.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from exporter.config.load import ConfigError, load_config, source_label
from exporter.plugin import endpoints
from exporter.vendors import plugin

LOOPBACK_NAMES = ("localhost",)
# the commands that call upstreams (check-config, simulate and demo call none beyond loopback)
CALLING = ("run", "once")


class BeyondLoopback(AssertionError):
    """A test config would let the exporter connect beyond loopback."""


def is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_of(args: Sequence[str]) -> Path | None:
    """The `--config` of an exporter command line that calls upstreams, else None."""
    if not any(command in args for command in CALLING):
        return None
    for index, arg in enumerate(args):
        if arg == "--config" and index + 1 < len(args):
            return Path(args[index + 1])
        if arg.startswith("--config="):
            return Path(arg.removeprefix("--config="))
    return None


def beyond_loopback(path: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """What in the config at `path` would reach beyond loopback, each naming the key to set.
    A file that does not load is fine: the exporter refuses it before it calls anything."""
    environ = {**os.environ, **(env or {})}
    try:
        config = load_config(path, env=environ, syntax_only=True)
    except ConfigError:
        return []
    found = []
    for index, source in enumerate(config.sources):
        where = source_label(index, source.name)
        for key, urls in endpoints(plugin(source.kind), source).items():
            found += [f"{where}.{key} resolves to {url}" for url in urls if not is_loopback(url)]
        proxies = [str(source.proxy_url)] if source.proxy_url is not None else []
        if source.proxy_from_environment:
            proxies += [environ[v] for v in ("HTTPS_PROXY", "HTTP_PROXY") if environ.get(v)]
        found += [f"{where} goes through the proxy {p}" for p in proxies if not is_loopback(p)]
    return found


def check_config(args: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """Raise `BeyondLoopback` when the exporter command line `args` (what follows
    `python -m exporter`) runs a config that could connect beyond loopback."""
    path = config_of(args)
    if path is None:
        return
    found = beyond_loopback(path, env)
    if found:
        raise BeyondLoopback(
            f"{path}: a test config must keep every endpoint on loopback: {'; '.join(found)}"
        )
